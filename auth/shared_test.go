package auth

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/redistest"
)

// The shared cache against a real redis-server (dev/redistest) and the fake Ory:
// several Checkers on one Redis stand for several replicas.

const testSharedKey = "0123456789abcdef0123456789abcdef-test"

// replica returns a Checker on fake with a shared cache on rd, subscribed to
// revocations until the test ends.
func replica(t *testing.T, fake *orytest.Server, rd *redistest.Server, opts Options) (*Checker, *Shared) {
	t.Helper()
	return replicaWithKey(t, fake, rd, opts, testSharedKey)
}

func replicaWithKey(t *testing.T, fake *orytest.Server, rd *redistest.Server, opts Options, key string) (*Checker, *Shared) {
	t.Helper()
	// Generous: the race detector on a loaded machine, not Redis, is what is slow here.
	sh, err := NewShared(SharedOptions{URL: rd.URL, Key: []byte(key), Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Close() })
	if opts.CacheTTL == 0 {
		opts.CacheTTL = time.Hour
	}
	if opts.DenyTTL == 0 {
		opts.DenyTTL = time.Minute
	}
	opts.Shared = sh
	k := newChecker(t, fake, opts)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	select {
	case <-sh.Listen(ctx, k):
	case <-time.After(10 * time.Second):
		t.Fatal("no subscription to revocations within 10s")
	}
	return k, sh
}

// disable revokes session id in the fake Ory, as another app or the console would.
func disable(t *testing.T, fake *orytest.Server, id string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, fake.URL+"/admin/sessions/"+id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable session: status = %d, want %d", resp.StatusCode, http.StatusNoContent)
	}
}

// refusedWithin polls k until it refuses cred or d has passed, and returns how long
// that took, failing the test when it did not happen.
func refusedWithin(t *testing.T, k *Checker, cred Credential, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if got := checkStatus(t, k, cred); got == http.StatusUnauthorized {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("still admitted %s after the revocation, want 401 within %s", time.Since(start), d)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSharedCacheAnswersOtherReplicas(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	b, _ := replica(t, fake, rd, Options{})
	alice := Credential{Token: fake.AddSession(fake.AddIdentity("alice@example.com"))}
	bogus := Credential{Token: "ory_st_bogusbogusbogusbogusbogusbogus"}

	for _, k := range []*Checker{a, b, b} {
		s, err := k.Check(context.Background(), alice)
		if err != nil || s.Id != fake.SessionID(alice.Token) {
			t.Fatalf("Check = %v, %v; want session %s", s, err, fake.SessionID(alice.Token))
		}
		if got := checkStatus(t, k, bogus); got != http.StatusUnauthorized {
			t.Fatalf("bogus token: status = %d, want %d", got, http.StatusUnauthorized)
		}
	}
	if n := fake.WhoamiCalls(); n != 2 {
		t.Errorf("whoami calls for one token and one bogus token on two replicas = %d, want 2", n)
	}
	// Entries live no longer than the local cache keeps them; refusals briefly.
	for _, c := range []struct {
		cred Credential
		max  time.Duration
	}{{alice, time.Hour}, {bogus, time.Minute}} {
		pttl, err := rd.Do("PTTL", entryKey(keyOf(c.cred)))
		if err != nil {
			t.Fatal(err)
		}
		if ms := atoi(t, pttl); ms <= 0 || time.Duration(ms)*time.Millisecond > c.max {
			t.Errorf("shared entry PTTL = %sms, want within (0, %s]", pttl, c.max)
		}
	}
	// Nothing in Redis names the credential.
	keys, _ := rd.Do("KEYS", "*")
	if strings.Contains(keys, alice.Token) {
		t.Error("a raw token is a Redis key")
	}
}

// TestSharedCacheCoalescesReplicas: many concurrent checks of one new token on
// three replicas make one whoami call between them.
func TestSharedCacheCoalescesReplicas(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	fake.SetFault(orytest.OnWhoami(orytest.Delay(50 * time.Millisecond)))
	var ks []*Checker
	for range 3 {
		k, _ := replica(t, fake, rd, Options{})
		ks = append(ks, k)
	}
	tok := Credential{Token: fake.AddSession(fake.AddIdentity("bob@example.com"))}
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := range 300 {
		wg.Go(func() {
			if _, err := ks[i%3].Check(context.Background(), tok); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Check: %v", err)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls for 300 concurrent checks on 3 replicas = %d, want 1", n)
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return n
}
