package handlers_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/ory"
)

// prefixJWT takes "jwt." plus a session token of the fake as a session JWT of that
// token's session, so tests can send callers down the JWT path (no Ory credential)
// without minting real JWTs; auth's own tests cover real ones.
type prefixJWT struct{ plain *auth.Checker }

func jwtCallers(fake *orytest.Server) auth.TokenVerifier {
	return prefixJWT{auth.NewChecker(ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL}).Frontend, auth.Options{})}
}

func (prefixJWT) Accepts(tok string) bool { return strings.HasPrefix(tok, "jwt.") }

func (v prefixJWT) Verify(ctx context.Context, tok string) (*client.Session, error) {
	s, err := v.plain.Check(ctx, auth.Credential{Token: strings.TrimPrefix(tok, "jwt.")})
	if err != nil {
		return nil, err
	}
	cp, now := *s, time.Now()
	exp := now.Add(10 * time.Minute)
	cp.IssuedAt, cp.ExpiresAt = &now, &exp
	return &cp, nil
}

// adminSessionCalls counts the Admin API requests about sessions.
func adminSessionCalls(fake *orytest.Server) (n int) {
	for _, r := range fake.AdminRequests() {
		if strings.Contains(r, "/sessions") {
			n++
		}
	}
	return n
}

// caller sends requests with a token, a cookie or a session JWT.
type caller struct {
	name string
	send func(e *env, t testing.TB, method, path, tok string) (*http.Response, []byte)
}

var (
	byToken  = caller{"token", func(e *env, t testing.TB, m, p, tok string) (*http.Response, []byte) { return e.do(t, m, p, tok) }}
	byCookie = caller{"cookie", func(e *env, t testing.TB, m, p, tok string) (*http.Response, []byte) {
		return e.do(t, m, p, "", "Cookie", "theme=dark; ory_kratos_session="+tok)
	}}
	byJWT = caller{"session JWT", func(e *env, t testing.TB, m, p, tok string) (*http.Response, []byte) {
		return e.do(t, m, p, "jwt."+tok)
	}}
)

// TestMySessionRoutes runs the self-service session routes for each kind of
// caller: token and cookie callers act through the FrontendAPI with their own
// credential and make no Admin API session call; session JWT callers (no Ory
// credential) go through the Admin API. Ownership holds either way.
func TestMySessionRoutes(t *testing.T) {
	t.Parallel()
	for _, by := range []caller{byToken, byCookie, byJWT} {
		t.Run(by.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{cacheTTL: time.Minute, jwt: true})
			me, cur := e.user("me@example.com")
			others := []string{e.session(me), e.session(me), e.session(me)}
			_, strangerTok := e.user("stranger@example.com")
			stranger := e.fake.SessionID(strangerTok)
			sid := func(tok string) string { return e.fake.SessionID(tok) }
			for _, tk := range append(others, strangerTok) {
				resp, body := e.do(t, "GET", "/api/resource", tk) // cached, so eviction is seen
				e.expect(t, resp, body, http.StatusOK)
			}

			resp, body := by.send(e, t, "GET", "/api/me/sessions", cur)
			e.expect(t, resp, body, http.StatusOK)
			list := apitest.Decode[handlers.SessionList](t, body).Sessions
			var ids []string
			for _, s := range list {
				ids = append(ids, s.ID)
				if s.Current != (s.ID == sid(cur)) {
					t.Errorf("session %s: current = %v", s.ID, s.Current)
				}
			}
			want := []string{sid(cur), sid(others[0]), sid(others[1]), sid(others[2])}
			slices.Sort(ids)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("listed %v, want %v (the current session included)", ids, want)
			}

			resp, body = by.send(e, t, "DELETE", "/api/me/sessions/"+stranger, cur)
			e.expect(t, resp, body, http.StatusNotFound)
			if !e.fake.SessionActive(stranger) {
				t.Error("another identity's session was disabled")
			}
			resp, body = by.send(e, t, "DELETE", "/api/me/sessions/"+sid(others[0]), cur)
			e.expect(t, resp, body, http.StatusNoContent)
			resp, body = e.do(t, "GET", "/api/resource", others[0])
			e.expect(t, resp, body, http.StatusUnauthorized)

			resp, body = by.send(e, t, "DELETE", "/api/me/sessions", cur)
			e.expect(t, resp, body, http.StatusOK)
			got := apitest.Decode[handlers.Revoked](t, body).Revoked
			if w := []string{sid(others[1]), sid(others[2])}; !sameSet(got, w) {
				t.Errorf("revoked = %v, want %v", got, w)
			}
			for _, tk := range others[1:] {
				resp, body = e.do(t, "GET", "/api/resource", tk)
				e.expect(t, resp, body, http.StatusUnauthorized)
			}
			for _, tk := range []string{cur, strangerTok} {
				resp, body = e.do(t, "GET", "/api/resource", tk)
				e.expect(t, resp, body, http.StatusOK)
			}
			resp, body = by.send(e, t, "GET", "/api/me/sessions", cur)
			e.expect(t, resp, body, http.StatusOK)
			if l := apitest.Decode[handlers.SessionList](t, body).Sessions; len(l) != 1 || !l[0].Current {
				t.Errorf("after signing out everywhere else: %+v, want the current session alone", l)
			}

			admin, self := adminSessionCalls(e.fake), len(e.fake.SelfServiceRequests())
			if by.name == byJWT.name {
				if admin == 0 || self != 0 {
					t.Errorf("session JWT caller: %d admin session calls, %d self-service calls; want the Admin API only", admin, self)
				}
			} else if admin != 0 || self == 0 {
				t.Errorf("%s caller: %d admin session calls (%v), %d self-service calls; want the FrontendAPI only", by.name, admin, e.fake.AdminRequests(), self)
			}
			if e.fake.SelfServiceCallsWithKey() != 0 {
				t.Error("a self-service call carried the API key")
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRevokeCurrentSessionByID: the caller may revoke the very session it calls
// with (Kratos's FrontendAPI refuses that, so it is the one Admin API call of these
// routes); the next request with it is 401.
func TestRevokeCurrentSessionByID(t *testing.T) {
	t.Parallel()
	for _, by := range []caller{byToken, byCookie, byJWT} {
		t.Run(by.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{cacheTTL: time.Minute, jwt: true})
			_, cur := e.user("me@example.com")
			resp, body := by.send(e, t, "DELETE", "/api/me/sessions/"+e.fake.SessionID(cur), cur)
			e.expect(t, resp, body, http.StatusNoContent)
			resp, body = by.send(e, t, "GET", "/api/resource", cur)
			e.expect(t, resp, body, http.StatusUnauthorized)
		})
	}
}

// duplicatePages answers GET /sessions like the Kratos issue reports: every page
// holds the same sessions (the fake's first page, fetched with the caller's
// headers), and the next links come back to a page token already given.
func duplicatePages(fake *orytest.Server) orytest.Fault {
	return orytest.OnSelfService(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.Header.Get("X-Inner") != "" {
			return false
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, fake.URL+"/sessions", nil)
		req.Header = r.Header.Clone()
		req.Header.Set("X-Inner", "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		next := map[string]string{"": "cGFnZTI", "cGFnZTI": "cGFnZTM", "cGFnZTM": "cGFnZTI"}[r.URL.Query().Get("page_token")]
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Link", fmt.Sprintf(`<%s?page_size=500&page_token=%s>; rel="next"`, r.URL.Path, next))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return true
	})
}

// TestMySessionsDuplicatePages: duplicate pages list each session once, and end
// the walk instead of looping or failing.
func TestMySessionsDuplicatePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	me, cur := e.user("dup@example.com")
	e.session(me)
	e.session(me)
	e.fake.SetFault(duplicatePages(e.fake))
	resp, body := e.within(t, 5*time.Second, "GET", "/api/me/sessions", cur)
	e.expect(t, resp, body, http.StatusOK)
	list := apitest.Decode[handlers.SessionList](t, body).Sessions
	if len(list) != 3 {
		t.Errorf("listed %d sessions, want 3, each once: %+v", len(list), list)
	}
	// The second page brings nothing new, which ends the walk (the fake records
	// the fault's inner request of each page).
	if n := len(e.fake.SelfServiceRequests()); n != 2 {
		t.Errorf("self-service calls = %d, want 2: the walk stops at a page with nothing new", n)
	}
}

// TestSelfServiceFaults: Ory failing on the self-service calls fails closed like
// any Ory failure, and a credential Ory no longer accepts there is 401.
func TestSelfServiceFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     func(*orytest.Server) orytest.Fault
		want      int
		wantRetry string
		timeout   time.Duration // the Ory timeout; 0: newEnv's
	}{
		{"500", st(orytest.Status(http.StatusInternalServerError)), http.StatusServiceUnavailable, "1", 0},
		{"502 html", st(orytest.BadGateway()), http.StatusServiceUnavailable, "1", 0},
		{"429", st(orytest.RateLimited("7")), http.StatusTooManyRequests, "7", 0},
		{"hangs", func(s *orytest.Server) orytest.Fault { return s.Hang() }, http.StatusServiceUnavailable, "1", hangTimeout},
		{"malformed", st(orytest.Malformed()), http.StatusServiceUnavailable, "1", 0},
		{"session gone", st(orytest.Unauthorized()), http.StatusUnauthorized, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{oryTimeout: tt.timeout})
			me, cur := e.user("f@example.com")
			other := e.fake.SessionID(e.session(me))
			e.fake.SetFault(orytest.OnSelfService(tt.fault(e.fake)))
			for _, r := range [][2]string{{"GET", "/api/me/sessions"}, {"DELETE", "/api/me/sessions/" + other}, {"DELETE", "/api/me/sessions"}} {
				start := time.Now()
				resp, body := e.do(t, r[0], r[1], cur)
				e.expect(t, resp, body, tt.want)
				if got := resp.Header.Get("Retry-After"); got != tt.wantRetry {
					t.Errorf("%s %s: Retry-After = %q, want %q", r[0], r[1], got, tt.wantRetry)
				}
				if took := time.Since(start); took > faultBound(tt.timeout) {
					t.Errorf("%s %s took %s, want it bounded by the Ory timeout", r[0], r[1], took)
				}
			}
			if tt.want != http.StatusUnauthorized && !e.fake.SessionActive(other) {
				t.Error("a failed revoke still revoked the session")
			}
		})
	}
}
