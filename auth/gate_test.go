package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/ory"
)

// A whoami answer that is neither a session nor one of the refusals a session check
// can get (401, a 403 step-up, 429) means Ory is misconfigured or broken: a wrong
// slug, ORY_SDK_URL pointing at Kratos's admin port or behind a path prefix. Every
// protected route must then fail closed with 503, never pass on Ory's 404.
func TestCheckFailsClosedOnUnexpectedWhoami(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  orytest.Fault
		prefix string // appended to the fake's URL as ORY_SDK_URL
	}{
		{name: "404", fault: orytest.Status(http.StatusNotFound)},
		{name: "404 from a bogus path prefix", prefix: "/bogus"},
		{name: "405", fault: orytest.Status(http.StatusMethodNotAllowed)},
		{name: "409", fault: orytest.Status(http.StatusConflict)},
		{name: "410", fault: orytest.Status(http.StatusGone)},
		{name: "422", fault: orytest.Status(http.StatusUnprocessableEntity)},
		{name: "403 that is not a session step-up", fault: orytest.Body(http.StatusForbidden,
			`{"error":{"id":"security_csrf_violation","code":403,"message":"forbidden"}}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			tok := fake.AddSession(fake.AddIdentity("a@example.com"))
			if tt.fault != nil {
				fake.SetFault(orytest.OnWhoami(tt.fault))
			}
			k := NewChecker(ory.New(ory.Config{PublicURL: fake.URL + tt.prefix, AdminURL: fake.URL}).Frontend,
				Options{CacheTTL: time.Minute, DenyTTL: time.Minute})

			for _, h := range []http.Header{
				{"Authorization": {"Bearer " + tok}},
				{"Cookie": {"ory_kratos_session=" + tok}},
			} {
				req := httptest.NewRequest(http.MethodGet, "/p", nil)
				for name, vs := range h {
					req.Header[name] = vs
				}
				w := httptest.NewRecorder()
				protected(k, "").ServeHTTP(w, req)
				if w.Code != http.StatusServiceUnavailable {
					t.Errorf("%v: status = %d, want %d; body %s", h, w.Code, http.StatusServiceUnavailable, w.Body)
				}
				if got := w.Header().Get("Retry-After"); got == "" {
					t.Errorf("%v: no Retry-After on 503", h)
				}
			}
			// An outage is never cached: the next check asks Ory again.
			_, _ = k.Check(t.Context(), Credential{Token: tok})
			if n := fake.WhoamiCalls(); tt.prefix == "" && n != 3 {
				t.Errorf("whoami calls = %d, want 3", n)
			}
		})
	}
}

// A revocation that lands between Ory's answer and the cache insert must never
// leave the revoked session cached. The hook runs at the insert; it starts the
// revocation and gives it time to finish. Without one lock over the generation
// check and the insert (and over the increment and the eviction), the revocation
// finishes first and the insert then caches the revoked session.
func TestRevocationNeverCachedBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		revoke func(k *Checker, sid, identity string)
	}{
		{"ForgetSession", func(k *Checker, sid, _ string) { k.ForgetSession(sid) }},
		{"ForgetIdentitySessions", func(k *Checker, _, identity string) { k.ForgetIdentitySessions(identity, "another") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			identity := fake.AddIdentity("a@example.com")
			tok := fake.AddSession(identity)
			k := newChecker(t, fake, Options{CacheTTL: time.Hour})
			revoked := make(chan struct{})
			k.beforeInsert = func() {
				go func() {
					tt.revoke(k, fake.SessionID(tok), identity)
					close(revoked)
				}()
				select {
				case <-revoked:
				case <-time.After(100 * time.Millisecond):
				}
			}
			if got := checkStatus(t, k, Credential{Token: tok}); got != http.StatusOK {
				t.Fatalf("status = %d, want %d", got, http.StatusOK)
			}
			<-revoked
			k.beforeInsert = nil
			_, _ = k.Check(t.Context(), Credential{Token: tok})
			if n := fake.WhoamiCalls(); n != 2 {
				t.Errorf("whoami calls = %d, want 2 (the revoked session must not be cached)", n)
			}
		})
	}
}

// A revocation that completes while Ory is still answering (after the check began,
// before its answer is cached) must win: the answer may be about the revoked
// session, so it is not cached.
func TestRevocationDuringWhoamiNotCached(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	identity := fake.AddIdentity("a@example.com")
	tok := fake.AddSession(identity)
	k := newChecker(t, fake, Options{CacheTTL: time.Hour})
	var once sync.Once
	fake.SetFault(orytest.OnWhoami(func(http.ResponseWriter, *http.Request) bool {
		once.Do(func() { k.ForgetSession(fake.SessionID(tok)) })
		return false // then answer the (still active) session as usual
	}))
	if got := checkStatus(t, k, Credential{Token: tok}); got != http.StatusOK {
		t.Fatalf("status = %d, want %d", got, http.StatusOK)
	}
	_, _ = k.Check(t.Context(), Credential{Token: tok})
	if n := fake.WhoamiCalls(); n != 2 {
		t.Errorf("whoami calls = %d, want 2 (an answer that raced a revocation must not be cached)", n)
	}
}

// Refusals live in their own, smaller bound: a flood of distinct bogus tokens
// cannot push valid sessions out of the cache.
func TestRefusalsDoNotEvictSessions(t *testing.T) {
	t.Parallel()
	const size = 100
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := newChecker(t, fake, Options{CacheTTL: time.Hour, DenyTTL: time.Hour, CacheSize: size})

	if got := checkStatus(t, k, Credential{Token: tok}); got != http.StatusOK {
		t.Fatalf("status = %d, want %d", got, http.StatusOK)
	}
	for i := range 2 * size {
		if got := checkStatus(t, k, Credential{Token: fmt.Sprintf("ory_st_bogus%04d", i)}); got != http.StatusUnauthorized {
			t.Fatalf("bogus token %d: status = %d, want %d", i, got, http.StatusUnauthorized)
		}
	}
	calls := fake.WhoamiCalls()
	if got := checkStatus(t, k, Credential{Token: tok}); got != http.StatusOK {
		t.Fatalf("status = %d, want %d", got, http.StatusOK)
	}
	if n := fake.WhoamiCalls(); n != calls {
		t.Errorf("whoami calls = %d, want %d (the valid session must still be cached)", n, calls)
	}
	// The refusals are bounded too: the oldest has been dropped.
	if got := checkStatus(t, k, Credential{Token: "ory_st_bogus0000"}); got != http.StatusUnauthorized {
		t.Fatalf("status = %d, want %d", got, http.StatusUnauthorized)
	}
	if n := fake.WhoamiCalls(); n != calls+1 {
		t.Errorf("whoami calls = %d, want %d (the oldest refusal dropped)", n, calls+1)
	}
}
