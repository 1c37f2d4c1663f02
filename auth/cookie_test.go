package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// Any subdomain can plant cookies for its parent domain, ory_kratos_session and
// ory_session_{slug} included. So no cookie decides alone: cookies that are not
// session cookies are skipped unread, session cookies that cannot be valid are
// skipped too, and a request is refused only when no valid session cookie is left.
func TestOryCookiesDecideFromSessionCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"empty sibling", []string{"ory_kratos_session=abc; ory_x="}, "ory_kratos_session=abc"},
		{"sibling with comma", []string{"ory_x=a,b; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"sibling with backslash", []string{`ory_x=a\b`, "ory_session_proj=abc"}, "ory_session_proj=abc"},
		{"sibling name with separator", []string{"ory_(x)=1; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"sibling of quotes only", []string{`ory_x=""; ory_kratos_session=abc`}, "ory_kratos_session=abc"},
		{"valid sibling is not forwarded", []string{"ory_kratos_continuity=x; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"oversized sibling is skipped", []string{"ory_x=" + strings.Repeat("v", 9000) + "; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"both session cookie kinds", []string{"ory_session_proj=a; ory_kratos_session=b"}, "ory_session_proj=a; ory_kratos_session=b"},
		{"only non-session ory cookies", []string{"ory_x=1; ory_kratos_continuity=2"}, ""},

		{"planted empty network session cookie", []string{"ory_kratos_session=abc; ory_session_zz="}, "ory_kratos_session=abc"},
		{"planted empty network session cookie first", []string{"ory_session_zz=; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"planted empty session cookie next to a good one", []string{"ory_kratos_session=abc; ory_kratos_session="}, "ory_kratos_session=abc"},
		{"planted session cookie with comma", []string{"ory_session_x=a,b", "ory_session_proj=abc"}, "ory_session_proj=abc"},
		{"planted session cookie name with separator", []string{"ory_session_(x)=1; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"planted session cookie of quotes only", []string{`ory_session_x=""; ory_kratos_session=abc`}, "ory_kratos_session=abc"},
		{"planted non-ascii session cookie", []string{"ory_session_x=\u00e9; ory_kratos_session=abc"}, "ory_kratos_session=abc"},

		{"only an empty session cookie", []string{"ory_kratos_session=; ory_x=1"}, ""},
		{"only a session cookie with comma", []string{"ory_kratos_session=a,b"}, ""},
		{"only an empty network session cookie", []string{"ory_session_proj="}, ""},
		{"only a session cookie name with separator", []string{"ory_session_(x)=1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := OryCookies(tt.in)
			if got != tt.want {
				t.Errorf("OryCookies() = %.80q, want %.80q", got, tt.want)
			}
		})
	}
}

// The forwarded header is bounded by dropping the session cookies that would push
// it over the limit, never by failing: planted oversized session cookies must not
// crowd out the user's own. The cookies are kept in the browser's order (most
// specific path first, then oldest), each one that still fits.
func TestOryCookiesBoundedByDropping(t *testing.T) {
	t.Parallel()
	big := func(name string, n int) string { return name + "=" + strings.Repeat("v", n-len(name)-1) }
	a4k, b4k := big("ory_session_a", 4096), big("ory_session_b", 4096)
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"two planted 4KB cookies before the session", []string{a4k + "; " + b4k + "; ory_kratos_session=abc"}, a4k + "; ory_kratos_session=abc"},
		{"across headers", []string{a4k, b4k, "ory_kratos_session=abc"}, a4k + "; ory_kratos_session=abc"},
		{"session first stays first", []string{"ory_kratos_session=abc; " + a4k + "; " + b4k}, "ory_kratos_session=abc; " + a4k},
		{"cookie over the limit alone is dropped", []string{big("ory_session_x", 8193) + "; ory_kratos_session=abc"}, "ory_kratos_session=abc"},
		{"exactly at the limit", []string{big("ory_session_x", 8192)}, big("ory_session_x", 8192)},
		{"a full header takes no more", []string{big("ory_session_a", 4095) + "; " + big("ory_session_b", 4095) + "; ory_kratos_session=abc"}, big("ory_session_a", 4095) + "; " + big("ory_session_b", 4095)},
		{"only oversized", []string{big("ory_session_x", 8193)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := OryCookies(tt.in)
			if len(got) > maxCookieLen {
				t.Errorf("len(OryCookies()) = %d, want at most %d", len(got), maxCookieLen)
			}
			if got != tt.want {
				t.Errorf("OryCookies() = %.80q...%.40q, want %.80q...%.40q", got, tail(got), tt.want, tail(tt.want))
			}
		})
	}
}

// tail returns the end of s, where the differences of long cookie headers show.
func tail(s string) string { return s[max(0, len(s)-40):] }

// A valid session cookie next to planted bad or oversized ory_ cookies, session
// cookies included, reaches the route; a request without a valid session cookie
// is refused without an Ory call.
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
		{"planted empty network session cookie", "ory_kratos_session=" + tok + "; ory_session_zz=", http.StatusOK, 1},
		{"planted 4KB network session cookies", "ory_session_a=" + strings.Repeat("v", 4082) + "; ory_session_b=" + strings.Repeat("v", 4082) + "; ory_kratos_session=" + tok, http.StatusOK, 1},
		{"malformed session cookie", "ory_kratos_session=a,b", http.StatusUnauthorized, 0},
		{"only malformed session cookies", "ory_kratos_session=; ory_session_zz=a,b; ory_session_(x)=1", http.StatusUnauthorized, 0},
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
