package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// Any subdomain can plant cookies for its parent domain, so a malformed ory_ cookie
// that is not a session cookie must not lock the user out: only the session cookies
// (ory_kratos_session, ory_session_{slug}) are forwarded, and only they decide.
func TestOryCookiesDecideFromSessionCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		want    string
		wantErr bool
	}{
		{"empty sibling", []string{"ory_kratos_session=abc; ory_x="}, "ory_kratos_session=abc", false},
		{"sibling with comma", []string{"ory_x=a,b; ory_kratos_session=abc"}, "ory_kratos_session=abc", false},
		{"sibling with backslash", []string{`ory_x=a\b`, "ory_session_proj=abc"}, "ory_session_proj=abc", false},
		{"sibling name with separator", []string{"ory_(x)=1; ory_kratos_session=abc"}, "ory_kratos_session=abc", false},
		{"sibling of quotes only", []string{`ory_x=""; ory_kratos_session=abc`}, "ory_kratos_session=abc", false},
		{"valid sibling is not forwarded", []string{"ory_kratos_continuity=x; ory_kratos_session=abc"}, "ory_kratos_session=abc", false},
		{"oversized sibling is skipped", []string{"ory_x=" + strings.Repeat("v", 9000) + "; ory_kratos_session=abc"}, "ory_kratos_session=abc", false},
		{"both session cookie kinds", []string{"ory_session_proj=a; ory_kratos_session=b"}, "ory_session_proj=a; ory_kratos_session=b", false},
		{"only non-session ory cookies", []string{"ory_x=1; ory_kratos_continuity=2"}, "", false},
		{"empty session cookie", []string{"ory_kratos_session=; ory_x=1"}, "", true},
		{"session cookie with comma", []string{"ory_kratos_session=a,b"}, "", true},
		{"network session cookie empty", []string{"ory_session_proj="}, "", true},
		{"planted empty session cookie next to a good one", []string{"ory_kratos_session=abc; ory_kratos_session="}, "", true},
		{"session cookie name with separator", []string{"ory_session_(x)=1"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := OryCookies(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("OryCookies() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformedCredential) {
				t.Errorf("OryCookies() error = %v, want ErrMalformedCredential", err)
			}
			if got != tt.want {
				t.Errorf("OryCookies() = %.80q, want %.80q", got, tt.want)
			}
		})
	}
}

// A valid session cookie next to a planted bad ory_ cookie reaches the route; a
// request with only non-session ory_ cookies is refused without an Ory call.
func TestRequireSessionIgnoresForeignOryCookies(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := newChecker(t, fake, Options{})
	tests := []struct {
		name      string
		cookie    string
		want      int
		wantCalls int64
	}{
		{"empty ory_x", "ory_kratos_session=" + tok + "; ory_x=", http.StatusOK, 1},
		{"ory_x with comma", "ory_x=a,b; ory_kratos_session=" + tok, http.StatusOK, 1},
		{"only ory_x", "ory_x=1", http.StatusUnauthorized, 0},
		{"malformed session cookie", "ory_kratos_session=a,b", http.StatusUnauthorized, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the fake's call counter.
			before := fake.WhoamiCalls()
			req := httptest.NewRequest(http.MethodGet, "/p", nil)
			req.Header.Set("Cookie", tt.cookie)
			w := httptest.NewRecorder()
			protected(k, "").ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if n := fake.WhoamiCalls() - before; n != tt.wantCalls {
				t.Errorf("whoami calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}
