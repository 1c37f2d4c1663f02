package auth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/redistest"
)

// A revocation through one replica reaches the others: they refuse the session
// within 100 ms although each had it cached for an hour.
func TestSharedRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	b, _ := replica(t, fake, rd, Options{})
	c, _ := replica(t, fake, rd, Options{})
	id := fake.AddIdentity("carol@example.com")
	one, kept, other := fake.AddSession(id), fake.AddSession(id), fake.AddSession(id)
	creds := map[string]Credential{}
	for _, tok := range []string{one, kept, other} {
		creds[tok] = Credential{Token: tok}
		for _, k := range []*Checker{a, b, c} {
			if got := checkStatus(t, k, creds[tok]); got != http.StatusOK {
				t.Fatalf("status = %d, want %d", got, http.StatusOK)
			}
		}
	}

	t.Run("one session", func(t *testing.T) {
		disable(t, fake, fake.SessionID(one))
		a.ForgetSession(fake.SessionID(one))
		for _, k := range []*Checker{b, c} {
			refusedWithin(t, k, creds[one], 100*time.Millisecond)
		}
	})
	t.Run("sign out everywhere else", func(t *testing.T) {
		disable(t, fake, fake.SessionID(other))
		b.ForgetIdentitySessions(id, fake.SessionID(kept))
		for _, k := range []*Checker{a, c} {
			refusedWithin(t, k, creds[other], 100*time.Millisecond)
			if got := checkStatus(t, k, creds[kept]); got != http.StatusOK {
				t.Errorf("kept session: status = %d, want %d", got, http.StatusOK)
			}
		}
	})
}

// A session JWT verifies locally on every replica: a revocation through one is
// recorded by all.
func TestSharedRevocationRefusesJWTsEverywhere(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	now := time.Now()
	v := &countingVerifier{exp: now.Add(5 * time.Minute)}
	a, _ := replica(t, fake, rd, Options{JWT: v})
	b, _ := replica(t, fake, rd, Options{JWT: v})
	jwt := Credential{Token: "eyJ.good.sig"}
	for _, k := range []*Checker{a, b} {
		if got := checkStatus(t, k, jwt); got != http.StatusOK {
			t.Fatalf("status = %d, want %d", got, http.StatusOK)
		}
	}
	a.ForgetSession("sid")
	refusedWithin(t, b, jwt, 100*time.Millisecond)
}

// A shared entry made from an Ory answer begun before a revocation is never
// served, whichever replica reads it and however late it was written: a replica
// that subscribed after the revocation (no message reached it) asks Ory.
func TestSharedEntryOfRevokedSessionNotServed(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, sa := replica(t, fake, rd, Options{})
	id := fake.AddIdentity("dave@example.com")
	tokens := []string{fake.AddSession(id), fake.AddSession(id), fake.AddSession(id)}
	kept := fake.SessionID(tokens[2])

	t.Run("stored before the revocation", func(t *testing.T) {
		cred := Credential{Token: tokens[0]}
		checkStatus(t, a, cred)
		disable(t, fake, fake.SessionID(tokens[0]))
		a.ForgetSession(fake.SessionID(tokens[0]))
		late, _ := replica(t, fake, rd, Options{})
		if got := checkStatus(t, late, cred); got != http.StatusUnauthorized {
			t.Errorf("status = %d, want %d", got, http.StatusUnauthorized)
		}
	})
	t.Run("stored after a sign-out everywhere else", func(t *testing.T) {
		cred := Credential{Token: tokens[1]}
		s, err := a.Check(context.Background(), cred)
		if err != nil {
			t.Fatal(err)
		}
		// The count read before asking Ory, then the revocation, then the store.
		_, gen, err := sa.claim(context.Background(), keyOf(cred), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		a.ForgetIdentitySessions(id, kept)
		e, _ := a.cacheable(s, nil)
		sa.store(context.Background(), keyOf(cred), e, gen, true)
		late, _ := replica(t, fake, rd, Options{})
		before := fake.WhoamiCalls()
		checkStatus(t, late, cred)
		if n := fake.WhoamiCalls() - before; n != 1 {
			t.Errorf("whoami calls = %d, want 1: an entry from before the sign-out was served", n)
		}
		if got := checkStatus(t, late, Credential{Token: tokens[2]}); got != http.StatusOK {
			t.Errorf("kept session: status = %d, want %d", got, http.StatusOK)
		}
	})
}

// A replica that lost its subscription may have missed revocations: it drops its
// cache when it subscribes again. A revocation made while Redis was down is
// published once it is back (a JWT's revocation lives nowhere else).
func TestSharedRevocationAfterOutage(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	v := &countingVerifier{exp: time.Now().Add(5 * time.Minute)}
	a, sa := replica(t, fake, rd, Options{JWT: v})
	b, sb := replica(t, fake, rd, Options{JWT: v})
	tok := Credential{Token: fake.AddSession(fake.AddIdentity("gina@example.com"))}
	jwt := Credential{Token: "eyJ.good.sig"}
	for _, k := range []*Checker{a, b} {
		for _, c := range []Credential{tok, jwt} {
			if got := checkStatus(t, k, c); got != http.StatusOK {
				t.Fatalf("status = %d, want %d", got, http.StatusOK)
			}
		}
	}
	rd.Stop()
	disable(t, fake, fake.SessionID(tok.Token)) // outside this service: no message
	a.ForgetSession("sid")                      // through a, while Redis is down
	rd.Restart()
	deadline := time.Now().Add(15 * time.Second)
	for sa.subscribed.Load() < 2 || sb.subscribed.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("not subscribed again 15s after Redis came back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := checkStatus(t, b, tok); got != http.StatusUnauthorized {
		t.Errorf("session revoked during the outage: status = %d, want %d", got, http.StatusUnauthorized)
	}
	// Republished on a retry tick once Redis is usable again: two ticks, plus room
	// for a loaded machine (CI runs every package's tests at once).
	refusedWithin(t, b, jwt, 2*retryAfter+5*time.Second)
}

// A session revoked through another replica is refused from the message alone:
// Ory has ended it for good, so no replica needs to ask again (and the refusal
// does not wait on Ory).
func TestSharedRevocationNeedsNoOryCall(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	b, _ := replica(t, fake, rd, Options{})
	id := fake.AddIdentity("ivan@example.com")
	tok, other := Credential{Token: fake.AddSession(id)}, Credential{Token: fake.AddSession(id)}
	for _, c := range []Credential{tok, other} {
		checkStatus(t, a, c)
		checkStatus(t, b, c)
	}
	disable(t, fake, fake.SessionID(tok.Token))
	before := fake.WhoamiCalls()
	a.ForgetSession(fake.SessionID(tok.Token))
	refusedWithin(t, b, tok, 100*time.Millisecond)
	if got := checkStatus(t, b, other); got != http.StatusOK {
		t.Errorf("another session of the identity: status = %d, want %d", got, http.StatusOK)
	}
	if n := fake.WhoamiCalls() - before; n != 0 {
		t.Errorf("whoami calls after the revocation = %d, want 0", n)
	}
}
