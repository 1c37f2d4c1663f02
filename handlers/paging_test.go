package handlers_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
)

// within sends a request with a bearer token and gives up after d, so a handler
// that never ends fails the test instead of hanging it.
func (e *env) within(t *testing.T, d time.Duration, method, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: d}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: no answer within %s: %v", method, path, d, err)
	}
	defer resp.Body.Close()
	body := e.v.CheckResponse(t, resp)
	e.record(body)
	return resp, body
}

// endlessPages answers every session list, the Admin API's and the FrontendAPI's,
// with an empty page and a rel="next" link whose token next returns.
func endlessPages(next func() string) orytest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/sessions") {
			return false
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s?page_size=500&page_token=%s>; rel="next"`, r.URL.Path, next()))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("[]"))
		return true
	}
}

// endlessSessions is endlessPages with a session never seen before on each page.
func endlessSessions(next func() string) orytest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/sessions") {
			return false
		}
		w.Header().Set("Link", fmt.Sprintf(`<%s?page_size=500&page_token=%s>; rel="next"`, r.URL.Path, next()))
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `[{"id":%q,"active":true}]`, orytest.NewID())
		return true
	}
}

// TestSessionPagingEnds: an Ory that never stops paging (the same token again, or
// new tokens forever) ends after few calls, never in a partial success. Through
// the Admin API (session JWT callers) both are 503. Through the FrontendAPI (token
// callers) new sessions on new pages forever are 503 too, while a token named
// again or an empty page ends the list there: Ory has been seen to repeat pages,
// and Kratos names a next page after an empty one.
func TestSessionPagingEnds(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	other := orytest.NewID()
	tests := []struct {
		name     string
		fault    orytest.Fault
		jwt      bool
		maxCalls int
		want     map[string]int // route -> status
	}{
		{"the same token again", endlessPages(func() string { return "c2FtZQ" }), true, 3,
			map[string]int{"/api/me/sessions": 503, "/api/me/sessions/" + other: 503}},
		{"new tokens forever", endlessPages(func() string { return fmt.Sprintf("dG9r%d", n.Add(1)) }), true, 60,
			map[string]int{"/api/me/sessions": 503, "/api/me/sessions/" + other: 503}},
		{"the same token again", endlessPages(func() string { return "c2FtZQ" }), false, 3,
			map[string]int{"/api/me/sessions": 200, "/api/me/sessions/" + other: 404}},
		{"new tokens forever", endlessPages(func() string { return fmt.Sprintf("dG9r%d", n.Add(1)) }), false, 3,
			map[string]int{"/api/me/sessions": 200, "/api/me/sessions/" + other: 404}},
		{"new sessions forever", endlessSessions(func() string { return fmt.Sprintf("dG9r%d", n.Add(1)) }), false, 60,
			map[string]int{"/api/me/sessions": 503, "/api/me/sessions/" + other: 503}},
	}
	for _, tt := range tests {
		for route, want := range tt.want {
			t.Run(fmt.Sprintf("%s jwt=%v %s", tt.name, tt.jwt, route), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOptions{jwt: tt.jwt})
				_, tok := e.user("pages@example.com")
				if tt.jwt {
					tok = "jwt." + tok
				}
				e.fake.SetFault(tt.fault)
				resp, body := e.within(t, 5*time.Second, "DELETE", route, tok)
				e.expect(t, resp, body, want)
				if calls := int(e.fake.AdminCalls()) + len(e.fake.SelfServiceRequests()); calls > tt.maxCalls+1 {
					t.Errorf("Ory calls = %d, want at most %d", calls, tt.maxCalls+1)
				}
			})
		}
	}
}

// TestRevokeMyOtherSessionsConcurrently: sessions are revoked a few at a time, not
// one after another and not all at once.
func TestRevokeMyOtherSessionsConcurrently(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{jwt: true}) // the Admin API path: token callers make one call
	me, current := e.user("many@example.com")
	for range 12 {
		e.fake.AddSession(me)
	}
	var mu sync.Mutex
	inFlight, most := 0, 0
	e.fake.SetFault(orytest.OnAdmin(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete {
			return false
		}
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return false
	}))
	resp, body := e.within(t, 5*time.Second, "DELETE", "/api/me/sessions", "jwt."+current)
	e.expect(t, resp, body, http.StatusOK)
	if got := len(apitest.Decode[handlers.Revoked](t, body).Revoked); got != 12 {
		t.Errorf("revoked %d sessions, want 12", got)
	}
	if most < 2 || most > 8 {
		t.Errorf("at most %d revocations at once, want a few (2 to 8)", most)
	}
}

// TestRevokeMyOtherSessionsPartialFailure: when Ory fails part way, the answer is
// the failure (never a silent partial success), and the sessions already revoked
// are refused at once anyway: none is answered from the cache.
func TestRevokeMyOtherSessionsPartialFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute, jwt: true}) // the Admin API path
	me, current := e.user("partial@example.com")
	others := []string{e.session(me), e.session(me), e.session(me), e.session(me)}
	for _, tk := range append([]string{current}, others...) {
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, http.StatusOK)
	}
	var disables atomic.Int64
	e.fake.SetFault(orytest.OnAdmin(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete && disables.Add(1) > 2 {
			return orytest.Status(http.StatusInternalServerError)(w, r)
		}
		return false
	}))
	resp, body := e.within(t, 5*time.Second, "DELETE", "/api/me/sessions", "jwt."+current)
	e.expect(t, resp, body, http.StatusServiceUnavailable)
	e.fake.SetFault(nil)
	if p := apitest.Decode[problemBody](t, body); p.Code != "ory_unavailable" {
		t.Errorf("code = %q, want ory_unavailable", p.Code)
	}

	revoked := 0
	for _, tk := range others {
		if e.fake.SessionActive(e.fake.SessionID(tk)) {
			continue
		}
		revoked++
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, http.StatusUnauthorized)
	}
	if revoked == 0 {
		t.Fatal("no session was revoked before the failure; the test proves nothing")
	}
	resp, body = e.do(t, "GET", "/api/resource", current)
	e.expect(t, resp, body, http.StatusOK)
}

// TestBulkTimeout: however slowly Ory pages or revokes, DELETE /api/me/sessions
// answers 503 once the route's deadline passes.
func TestBulkTimeout(t *testing.T) {
	t.Parallel()
	slowly := func(f orytest.Fault) orytest.Fault {
		return func(w http.ResponseWriter, r *http.Request) bool {
			time.Sleep(150 * time.Millisecond)
			return f(w, r)
		}
	}
	var n atomic.Int64
	tests := []struct {
		name  string
		fault orytest.Fault
		jwt   bool
	}{
		// Through the FrontendAPI an empty page ends the walk (TestSessionPagingEnds),
		// so its pages bring new sessions: the walk must be stopped by the deadline,
		// not end by itself about when the deadline passes.
		{"slow pages", slowly(endlessSessions(func() string { return fmt.Sprintf("dG9r%d", n.Add(1)) })), false},
		{"slow admin pages", slowly(endlessPages(func() string { return fmt.Sprintf("dG9r%d", n.Add(1)) })), true},
		{"slow revocations", orytest.OnAdmin(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodDelete {
				time.Sleep(150 * time.Millisecond)
			}
			return false
		}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t, orytest.WithAPIKey(apiKey))
			clients := ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL, APIKey: apiKey, Timeout: time.Second})
			checks := auth.Options{Timeout: time.Second}
			if tt.jwt {
				checks.JWT = jwtCallers(fake)
			}
			srv := httptest.NewServer(handlers.NewRouter(handlers.Deps{
				Logger:      slog.New(slog.DiscardHandler),
				Checker:     auth.NewChecker(clients.Frontend, checks),
				Ory:         clients,
				Metrics:     metrics.New(),
				BulkTimeout: 300 * time.Millisecond,
			}))
			t.Cleanup(srv.Close)
			me := fake.AddIdentity("slow@example.com")
			tok := fake.AddSession(me)
			for range 40 {
				fake.AddSession(me)
			}
			fake.SetFault(tt.fault)

			req, _ := http.NewRequestWithContext(t.Context(), "DELETE", srv.URL+"/api/me/sessions", nil)
			if tt.jwt {
				tok = "jwt." + tok
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			start := time.Now()
			resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			apitest.New(t).CheckResponse(t, resp)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusServiceUnavailable)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("answered after %s, want about the 300ms deadline", took)
			}
		})
	}
}
