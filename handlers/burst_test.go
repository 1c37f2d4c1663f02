package handlers_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/handlers"
)

// Ory Network's published Developer-plan limits for the Admin API endpoints these
// routes could use, per project and minute (Ory's rate-limit guide,
// https://www.ory.sh/docs/guides/rate-limits). They belong to this test, not the
// product: Ory changes them per plan and over time.
const (
	developerGetIdentityPerMin    = 40 // GET /admin/identities/{id}
	developerListSessionsPerMin   = 25 // GET /admin/identities/{id}/sessions
	developerDisableSessionPerMin = 80 // DELETE /admin/sessions/{id}, /admin/identities/{id}/sessions
)

// TestBurstStaysInDeveloperBuckets: a burst of users, each with a few sessions,
// on /api/me, /api/me/sessions and sign-out-everywhere, all within a minute, makes
// fewer Admin API calls per endpoint than Ory's Developer buckets hold, and every
// answer is still right.
func TestBurstStaysInDeveloperBuckets(t *testing.T) {
	t.Parallel()
	// A generous Ory timeout: this test counts calls, and the race detector on a
	// busy machine slows the burst down.
	e := newEnv(t, envOptions{cacheTTL: 30 * time.Second, identityTTL: time.Minute, oryTimeout: 10 * time.Second})
	const users, sessionsEach = 30, 4
	type user struct {
		id     string
		tokens []string
	}
	us := make([]user, users)
	for i := range us {
		id, tok := e.user(fmt.Sprintf("u%d@example.com", i))
		us[i] = user{id: id, tokens: []string{tok}}
		for range sessionsEach - 1 {
			us[i].tokens = append(us[i].tokens, e.session(id))
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, u := range us {
		wg.Go(func() {
			cur := u.tokens[0]
			for _, tk := range u.tokens {
				for range 3 {
					resp, body := e.do(t, "GET", "/api/me", tk)
					e.expect(t, resp, body, http.StatusOK)
					if got := apitest.Decode[handlers.Identity](t, body).ID; got != u.id {
						t.Errorf("GET /api/me id = %s, want %s", got, u.id)
					}
				}
			}
			for range 3 {
				resp, body := e.do(t, "GET", "/api/me/sessions", cur)
				e.expect(t, resp, body, http.StatusOK)
				if n := len(apitest.Decode[handlers.SessionList](t, body).Sessions); n != sessionsEach {
					t.Errorf("listed %d sessions, want %d", n, sessionsEach)
				}
			}
			resp, body := e.do(t, "DELETE", "/api/me/sessions", cur)
			e.expect(t, resp, body, http.StatusOK)
			if n := len(apitest.Decode[handlers.Revoked](t, body).Revoked); n != sessionsEach-1 {
				t.Errorf("revoked %d sessions, want %d", n, sessionsEach-1)
			}
			for _, tk := range u.tokens[1:] {
				resp, body := e.do(t, "GET", "/api/resource", tk)
				e.expect(t, resp, body, http.StatusUnauthorized)
			}
			resp, body = e.do(t, "GET", "/api/me/sessions", cur)
			e.expect(t, resp, body, http.StatusOK)
			if l := apitest.Decode[handlers.SessionList](t, body).Sessions; len(l) != 1 || !l[0].Current {
				t.Errorf("after signing out everywhere else: %+v, want the current session alone", l)
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took > time.Minute {
		t.Fatalf("the burst took %s: its calls no longer fall in one minute's bucket", took)
	}
	var get, list, disable int
	for _, r := range e.fake.AdminRequests() {
		method, path, _ := strings.Cut(r, " ")
		path, _, _ = strings.Cut(path, "?")
		switch {
		case method == "GET" && strings.HasSuffix(path, "/sessions"):
			list++
		case method == "GET" && strings.HasPrefix(path, "/admin/identities/"):
			get++
		case method == "DELETE":
			disable++
		}
	}
	for _, c := range []struct {
		name       string
		calls, max int
	}{
		{"GET /admin/identities/{id}", get, developerGetIdentityPerMin},
		{"listing an identity's sessions", list, developerListSessionsPerMin},
		{"disabling sessions", disable, developerDisableSessionPerMin},
	} {
		if c.calls > c.max {
			t.Errorf("%s: %d Admin API calls in a minute, want at most %d (Developer bucket)", c.name, c.calls, c.max)
		}
	}
	t.Logf("admin calls in the burst: %d identity reads, %d session lists, %d disables", get, list, disable)
}
