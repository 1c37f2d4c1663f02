package handlers_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/handlers"
)

// revokeInOry disables the session in the fake through its Admin API, as a sign-out
// elsewhere (Ory's UI, another service, an operator) does: this service never hears
// of it.
func revokeInOry(t *testing.T, e *env, sid string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, e.fake.URL+"/admin/sessions/"+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable session in the fake: status = %d, want %d", resp.StatusCode, http.StatusNoContent)
	}
}

// A session JWT keeps verifying after its session was revoked in Ory. On the
// session routes it acts through the Admin API with the project's key, so the
// caller's own session must be found active there first: otherwise a stolen JWT
// could read the owner's devices or sign the owner out everywhere until it expires.
func TestJWTOfSessionRevokedInOry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path string
	}{
		{"list", "GET", "/api/me/sessions"},
		{"list one page", "GET", "/api/me/sessions?page_size=1"},
		{"sign out everywhere else", "DELETE", "/api/me/sessions"},
		{"revoke another", "DELETE", "/api/me/sessions/{other}"},
		{"revoke the current", "DELETE", "/api/me/sessions/{current}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The cache holds the verified JWT, as a real JWT verifies locally
			// without asking Ory (the test verifier asks the fake).
			e := newEnv(t, envOptions{cacheTTL: time.Minute, jwt: true})
			me, cur := e.user("me@example.com")
			others := []string{e.session(me), e.session(me)}
			jwt := "jwt." + cur
			resp, body := e.do(t, "GET", "/api/resource", jwt)
			e.expect(t, resp, body, http.StatusOK)

			revokeInOry(t, e, e.fake.SessionID(cur))
			before := len(e.fake.AdminRequests())
			path := strings.NewReplacer("{other}", e.fake.SessionID(others[0]), "{current}", e.fake.SessionID(cur)).Replace(tt.path)
			resp, body = e.do(t, tt.method, path, jwt)
			e.expect(t, resp, body, http.StatusUnauthorized)
			for _, r := range e.fake.AdminRequests()[before:] {
				if strings.HasPrefix(r, "DELETE") {
					t.Errorf("admin request %q after the caller's session was found revoked", r)
				}
			}
			for _, tok := range others {
				if !e.fake.SessionActive(e.fake.SessionID(tok)) {
					t.Errorf("session %s was revoked by a caller whose own session is revoked", e.fake.SessionID(tok))
				}
			}
			// The JWT is refused from now on, without asking Ory again.
			resp, body = e.do(t, "GET", "/api/resource", jwt)
			e.expect(t, resp, body, http.StatusUnauthorized)
		})
	}
}

// The check that the caller's session is still active covers the whole list, not
// only the page asked for: an active caller whose session is on another page gets
// every page.
func TestJWTListPagesWithoutCurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute, jwt: true})
	me, cur := e.user("me@example.com")
	want := map[string]bool{e.fake.SessionID(cur): true}
	for range 3 {
		want[e.fake.SessionID(e.session(me))] = true
	}
	seen := map[string]bool{}
	token := ""
	for range len(want) + 1 {
		path := "/api/me/sessions?page_size=1"
		if token != "" {
			path += "&page_token=" + token
		}
		resp, body := e.do(t, "GET", path, "jwt."+cur)
		e.expect(t, resp, body, http.StatusOK)
		page := apitest.Decode[handlers.SessionList](t, body)
		for _, s := range page.Sessions {
			seen[s.ID] = true
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != len(want) {
		t.Errorf("listed %d sessions over the pages, want %d", len(seen), len(want))
	}
}
