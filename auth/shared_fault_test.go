package auth

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/redistest"
)

// Redis is never a way in: an entry anyone else wrote, changed or moved is asked
// of Ory again.
func TestSharedEntryForgedIsIgnored(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	alice := Credential{Token: fake.AddSession(fake.AddIdentity("erin@example.com"))}
	checkStatus(t, a, alice)
	stored, err := rd.Do("GET", entryKey(keyOf(alice)))
	if err != nil || stored == "" {
		t.Fatalf("alice's shared entry = %q, %v", stored, err)
	}
	// The same session sealed with another replica's key.
	other, _ := replicaWithKey(t, fake, rd, Options{}, "another-key-another-key-another-key!")
	checkStatus(t, other, alice)
	otherKeyed, _ := rd.Do("GET", entryKey(keyOf(alice)))

	for _, c := range []struct {
		name, value string
	}{
		{"garbage", "not a sealed entry"},
		{"sealed with another key", otherKeyed},
		{"alice's entry under a bogus token's key", stored},
		{"alice's entry, one byte changed", stored[:len(stored)-1] + string(stored[len(stored)-1]^1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			bogus := Credential{Token: "ory_st_" + orytest.NewID()[:32]}
			if _, err := rd.Do("SET", entryKey(keyOf(bogus)), c.value); err != nil {
				t.Fatal(err)
			}
			fresh, _ := replica(t, fake, rd, Options{})
			before := fake.WhoamiCalls()
			if got := checkStatus(t, fresh, bogus); got != http.StatusUnauthorized {
				t.Errorf("status = %d, want %d", got, http.StatusUnauthorized)
			}
			if n := fake.WhoamiCalls() - before; n != 1 {
				t.Errorf("whoami calls = %d, want 1", n)
			}
		})
	}
}

// Redis killed, frozen or flushed: every replica answers from its own cache and
// Ory, each answer right, none waiting long on Redis; and the shared cache and the
// revocations work again once Redis is back.
func TestSharedRedisFailures(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, sa := replica(t, fake, rd, Options{})
	b, sb := replica(t, fake, rd, Options{})
	id := fake.AddIdentity("frank@example.com")
	bogus := Credential{Token: "ory_st_bogusbogusbogusbogusbogusbogus"}

	// load checks new and known, valid and bogus tokens on both replicas until
	// stop is closed, and counts wrong answers.
	var wrong, checks atomic.Int64
	load := func(stop chan struct{}) *sync.WaitGroup {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				k := []*Checker{a, b}[w%2]
				known := Credential{Token: fake.AddSession(id)}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cred, want := known, http.StatusOK
					switch i % 3 {
					case 1:
						cred = Credential{Token: fake.AddSession(id)}
					case 2:
						cred, want = bogus, http.StatusUnauthorized
					}
					checks.Add(1)
					if got := checkStatus(t, k, cred); got != want {
						wrong.Add(1)
						t.Errorf("status = %d, want %d", got, want)
					}
				}
			})
		}
		return &wg
	}
	during := func(name string, fault, recover func()) {
		t.Run(name, func(t *testing.T) {
			wrong.Store(0)
			stop := make(chan struct{})
			wg := load(stop)
			time.Sleep(100 * time.Millisecond)
			fault()
			time.Sleep(300 * time.Millisecond)
			// Bounded: a new token's check takes a Redis timeout or two, not more.
			start := time.Now()
			if got := checkStatus(t, a, Credential{Token: fake.AddSession(id)}); got != http.StatusOK {
				t.Errorf("during: status = %d, want %d", got, http.StatusOK)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("a check during the fault took %s", d)
			}
			recover()
			time.Sleep(100 * time.Millisecond)
			close(stop)
			wg.Wait()
			if n := wrong.Load(); n != 0 {
				t.Errorf("%d wrong answers of %d", n, checks.Load())
			}
			waitShared(t, fake, a, b, sa, sb, id)
		})
	}
	during("killed", rd.Stop, rd.Restart)
	during("frozen", rd.Freeze, rd.Thaw)
	during("flushed", rd.Flush, func() {})
}

// waitShared waits until a and b share again after a Redis failure: an answer
// cached through one is found by the other, and a revocation through one reaches
// the other.
func waitShared(t *testing.T, fake *orytest.Server, a, b *Checker, sa, sb *Shared, id string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		cred := Credential{Token: fake.AddSession(id)}
		checkStatus(t, a, cred)
		before := fake.WhoamiCalls()
		checkStatus(t, b, cred)
		if fake.WhoamiCalls() == before && sa.subscribed.Load() > 0 && sb.subscribed.Load() > 0 {
			// A revocation, now that both are subscribed.
			disable(t, fake, fake.SessionID(cred.Token))
			a.ForgetSession(fake.SessionID(cred.Token))
			if d := refusedWithin(t, b, cred, 2*time.Second); d > 100*time.Millisecond {
				t.Logf("revocation after recovery seen in %s", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("replicas not sharing 15s after Redis came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
