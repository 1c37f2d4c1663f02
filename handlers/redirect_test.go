package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOryRedirectIsAnOutage puts a server in front of one Ory API that redirects
// every call to the real (fake) Ory. Following would work, and carry the session
// token or the API key wherever the redirect points; the service answers 503
// instead, logs the Location, and nothing reaches the target.
func TestOryRedirectIsAnOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		public bool // redirect the public API, else the admin API
		path   string
	}{
		{"whoami", true, "/api/resource"},
		{"admin", false, "/api/me"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnvWith(t, envOptions{}, func(fakeURL string) (string, string) {
				r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, fakeURL+r.URL.Path, http.StatusTemporaryRedirect)
				}))
				t.Cleanup(r.Close)
				if tt.public {
					return r.URL, fakeURL
				}
				return fakeURL, r.URL
			})
			_, tok := e.user("r@example.com")
			resp, body := e.do(t, "GET", tt.path, tok)
			e.expect(t, resp, body, http.StatusServiceUnavailable)
			if w, a := e.fake.WhoamiCalls(), e.fake.AdminCalls(); tt.public && w != 0 || !tt.public && a != 0 {
				t.Errorf("the redirect target got %d whoami and %d admin calls, want none on the redirected side", w, a)
			}
			if !strings.Contains(e.logs.String(), "redirecting to "+e.fake.URL+"/") {
				t.Errorf("the log does not name the redirect's Location:\n%s", e.logs)
			}
		})
	}
}
