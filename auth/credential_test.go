package auth

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

const goodToken = "ory_st_0123456789abcdefghijklmnopqrstuv"

func TestCredentialFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		header  http.Header
		want    Credential
		wantErr error
	}{
		{"bearer", http.Header{"Authorization": {"Bearer " + goodToken}}, Credential{Token: goodToken}, nil},
		{"bearer lower case", http.Header{"Authorization": {"bearer " + goodToken}}, Credential{Token: goodToken}, nil},
		{"bearer JWT", http.Header{"Authorization": {"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0.c2ln-_"}}, Credential{Token: "eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0.c2ln-_"}, nil},
		{"x-session-token", http.Header{"X-Session-Token": {goodToken}}, Credential{Token: goodToken}, nil},
		{"x-session-token beats authorization", http.Header{
			"X-Session-Token": {goodToken},
			"Authorization":   {"Bearer ory_st_other"},
		}, Credential{Token: goodToken}, nil},
		{"token beats cookie, cookie not sent", http.Header{
			"Authorization": {"Bearer " + goodToken},
			"Cookie":        {"ory_kratos_session=abc"},
		}, Credential{Token: goodToken}, nil},
		{"only ory cookies, in order", http.Header{
			"Cookie": {"theme=dark; ory_session_slug=v1; _ga=GA1.2; ory_kratos_session=v2"},
		}, Credential{Cookie: "ory_session_slug=v1; ory_kratos_session=v2"}, nil},
		{"ory cookies across cookie headers", http.Header{
			"Cookie": {"ory_session_a=1; x=2", "y=3; ory_session_b=\"4\""},
		}, Credential{Cookie: `ory_session_a=1; ory_session_b="4"`}, nil},
		{"token of exactly 4096", http.Header{"X-Session-Token": {strings.Repeat("a", 4096)}}, Credential{Token: strings.Repeat("a", 4096)}, nil},

		{"no headers", http.Header{}, Credential{}, ErrNoCredential},
		{"empty x-session-token", http.Header{"X-Session-Token": {""}}, Credential{}, ErrNoCredential},
		{"bearer and a space, no token", http.Header{"Authorization": {"Bearer "}}, Credential{}, ErrNoCredential},
		{"cookie without ory cookies", http.Header{"Cookie": {"theme=dark; session=abc"}}, Credential{}, ErrNoCredential},
		{"ory cookie without value separator", http.Header{"Cookie": {"ory_kratos_session"}}, Credential{}, ErrNoCredential},

		{"api key as bearer", http.Header{"Authorization": {"Bearer ory_apikey_abc"}}, Credential{}, ErrMalformedCredential},
		{"pat as bearer", http.Header{"Authorization": {"Bearer ory_pat_abc"}}, Credential{}, ErrMalformedCredential},
		{"wak as bearer", http.Header{"Authorization": {"Bearer ory_wak_abc"}}, Credential{}, ErrMalformedCredential},
		{"api key as x-session-token", http.Header{"X-Session-Token": {"ory_apikey_abc"}}, Credential{}, ErrMalformedCredential},
		{"api key next to a valid cookie", http.Header{
			"Authorization": {"Bearer ory_pat_abc"},
			"Cookie":        {"ory_kratos_session=abc"},
		}, Credential{}, ErrMalformedCredential},
		{"oversized token", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 4097)}}, Credential{}, ErrMalformedCredential},
		{"control byte", http.Header{"X-Session-Token": {"ory_st_a\x01b"}}, Credential{}, ErrMalformedCredential},
		{"tab in token", http.Header{"Authorization": {"Bearer ory_st_a\tb"}}, Credential{}, ErrMalformedCredential},
		{"non-ascii", http.Header{"Authorization": {"Bearer ory_st_é"}}, Credential{}, ErrMalformedCredential},
		{"two x-session-token headers", http.Header{"X-Session-Token": {goodToken, goodToken}}, Credential{}, ErrMalformedCredential},
		{"two authorization headers", http.Header{"Authorization": {"Bearer " + goodToken, "Bearer " + goodToken}}, Credential{}, ErrMalformedCredential},
		{"basic scheme", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, Credential{}, ErrMalformedCredential},
		{"bearer without token", http.Header{"Authorization": {"Bearer"}}, Credential{}, ErrMalformedCredential},
		{"bearer with two spaces", http.Header{"Authorization": {"Bearer  " + goodToken}}, Credential{}, ErrMalformedCredential},
		{"empty authorization", http.Header{"Authorization": {""}}, Credential{}, ErrMalformedCredential},

		// A session cookie that cannot be valid may be planted by a sibling
		// subdomain: it is skipped, and only a request left without any valid
		// session cookie is refused, as one without credentials.
		{"malformed ory cookie value", http.Header{"Cookie": {`ory_kratos_session=a"b`}}, Credential{}, ErrNoCredential},
		{"empty ory cookie value", http.Header{"Cookie": {"ory_kratos_session="}}, Credential{}, ErrNoCredential},
		{"ory cookie name with space", http.Header{"Cookie": {"ory_session_ x=1"}}, Credential{}, ErrNoCredential},
		{"ory cookie non-ascii", http.Header{"Cookie": {"ory_kratos_session=é"}}, Credential{}, ErrNoCredential},
		{"oversized ory cookies", http.Header{"Cookie": {"ory_kratos_session=" + strings.Repeat("a", 8192)}}, Credential{}, ErrNoCredential},
		{"only bad session cookies", http.Header{"Cookie": {"ory_kratos_session=; ory_session_zz=a,b", "ory_session_y=" + strings.Repeat("a", 8192)}}, Credential{}, ErrNoCredential},
		{"planted empty session cookie is skipped", http.Header{
			"Cookie": {"ory_kratos_session=abc; ory_session_zz="},
		}, Credential{Cookie: "ory_kratos_session=abc"}, nil},
		{"planted oversized session cookies are dropped", http.Header{
			"Cookie": {"ory_session_a=" + strings.Repeat("a", 4082) + "; ory_session_b=" + strings.Repeat("b", 4082) + "; ory_kratos_session=abc"},
		}, Credential{Cookie: "ory_session_a=" + strings.Repeat("a", 4082) + "; ory_kratos_session=abc"}, nil},
		{"token still beats planted session cookies", http.Header{
			"Authorization": {"Bearer " + goodToken},
			"Cookie":        {"ory_session_zz=; ory_kratos_session=abc"},
		}, Credential{Token: goodToken}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{Header: tt.header}
			got, err := CredentialFrom(r)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CredentialFrom() error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("CredentialFrom() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOryCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, ""},
		{"empty header", []string{""}, ""},
		{"no ory cookie", []string{"a=1; b=2"}, ""},
		{"kratos cookie", []string{"ory_kratos_session=MTY4"}, "ory_kratos_session=MTY4"},
		{"network cookie among others", []string{"a=1;ory_session_proj=x==;b=2"}, "ory_session_proj=x=="},
		{"keeps order across headers", []string{"ory_session_b=2", "ory_session_a=1"}, "ory_session_b=2; ory_session_a=1"},
		{"quoted value", []string{`ory_session_x="v"`}, `ory_session_x="v"`},
		{"name prefix is case sensitive", []string{"ORY_KRATOS_SESSION=1; Ory_session_y=2"}, ""},
		{"foreign malformed cookie is ignored", []string{`a="b; ory_session_x=1`}, "ory_session_x=1"},
		// Session cookies that cannot be valid, or do not fit, are skipped: a
		// sibling subdomain may have planted them (cookie_test.go).
		{"value with comma", []string{"ory_session_x=a,b"}, ""},
		{"value with backslash", []string{`ory_session_x=a\b`}, ""},
		{"only quotes", []string{`ory_session_x=""`}, ""},
		{"name with separator", []string{"ory_session_(x)=1"}, ""},
		{"exactly at the limit", []string{"ory_session_x=" + strings.Repeat("v", 8192-len("ory_session_x="))}, "ory_session_x=" + strings.Repeat("v", 8192-len("ory_session_x="))},
		{"one byte over the limit", []string{"ory_session_x=" + strings.Repeat("v", 8193-len("ory_session_x="))}, ""},
		{"over the limit in total", []string{"ory_session_a=" + strings.Repeat("v", 5000), "ory_session_b=" + strings.Repeat("v", 5000)}, "ory_session_a=" + strings.Repeat("v", 5000)},
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

// Fuzz inputs choose which headers are present with flags: bit 0 X-Session-Token,
// bit 1 Authorization, bit 2 Cookie (twice with bit 3).
func FuzzCredentialFrom(f *testing.F) {
	f.Add(goodToken, "Bearer "+goodToken, "ory_kratos_session=abc", uint8(7))
	f.Add("", "Bearer ory_apikey_x", "", uint8(2))
	f.Add("", "bearer eyJa.eyJb.c", "", uint8(2))
	f.Add("", "", "a=1; ory_session_x=\"y\"; ory_z=1", uint8(12))
	f.Fuzz(func(t *testing.T, xst, authz, cookie string, flags uint8) {
		h := http.Header{}
		if flags&1 != 0 {
			h["X-Session-Token"] = []string{xst}
		}
		if flags&2 != 0 {
			h["Authorization"] = []string{authz}
		}
		if flags&4 != 0 {
			h["Cookie"] = []string{cookie}
		}
		if flags&8 != 0 {
			h["Cookie"] = append(h["Cookie"], cookie)
		}
		if flags&3 == 0 {
			// A valid session cookie sent first is never lost to the others.
			const first = "ory_kratos_session=abc"
			hc := http.Header{"Cookie": append([]string{first}, h["Cookie"]...)}
			cred, err := CredentialFrom(&http.Request{Header: hc})
			if err != nil || (cred.Cookie != first && !strings.HasPrefix(cred.Cookie, first+"; ")) {
				t.Fatalf("CredentialFrom() with %q first = %+v, %v", first, cred, err)
			}
		}
		cred, err := CredentialFrom(&http.Request{Header: h})
		if err != nil {
			if !errors.Is(err, ErrNoCredential) && !errors.Is(err, ErrMalformedCredential) {
				t.Fatalf("unexpected error %v", err)
			}
			if cred != (Credential{}) {
				t.Fatalf("credential %+v returned with error %v", cred, err)
			}
			return
		}
		if (cred.Token == "") == (cred.Cookie == "") {
			t.Fatalf("want exactly one of token and cookie, got %+v", cred)
		}
		if cred.Token != "" {
			assertToken(t, cred.Token)
		}
		if cred.Cookie != "" {
			assertCookie(t, cred.Cookie)
		}
	})
}

func FuzzOryCookies(f *testing.F) {
	f.Add("ory_kratos_session=abc", "")
	f.Add("a=1; ory_x=2;ory_y=\"3\"", "ory_z=4")
	f.Add("ory_=x", "ory_x=a;b")
	f.Fuzz(func(t *testing.T, a, b string) {
		// Whatever else a sibling subdomain plants, a valid session cookie the
		// browser sends first is forwarded, and first.
		const first = "ory_kratos_session=abc"
		if got := OryCookies([]string{first, a, b}); got != first && !strings.HasPrefix(got, first+"; ") {
			t.Fatalf("OryCookies() with %q first = %.80q", first, got)
		}
		if got := OryCookies([]string{a, b}); got != "" {
			assertCookie(t, got)
		}
		// A valid cookie that leaves room for a short one only: the fuzzer reaches
		// the limit with small inputs, which it can minimise in time.
		pad := "ory_session_pad=" + strings.Repeat("v", 8144)
		got := OryCookies([]string{pad, a, b})
		if got != pad && !strings.HasPrefix(got, pad+"; ") {
			t.Fatalf("OryCookies() with a long cookie first = ...%q", tail(got))
		}
		assertCookie(t, got)
	})
}

// assertToken checks the properties every forwarded token has, independently of
// the code under test.
func assertToken(t *testing.T, tok string) {
	t.Helper()
	if len(tok) > 4096 {
		t.Fatalf("token of %d bytes", len(tok))
	}
	for _, p := range []string{"ory_apikey_", "ory_pat_", "ory_wak_"} {
		if strings.HasPrefix(tok, p) {
			t.Fatalf("API key %q taken for a session token", tok)
		}
	}
	const b64token = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/="
	if strings.Trim(tok, b64token) != "" {
		t.Fatalf("token %q has characters outside b64token", tok)
	}
}

// assertCookie checks a forwarded Cookie header holds only Ory session cookie
// pairs of visible ASCII and fits the limit.
func assertCookie(t *testing.T, cookie string) {
	t.Helper()
	if len(cookie) > 8192 {
		t.Fatalf("cookie of %d bytes", len(cookie))
	}
	for pair := range strings.SplitSeq(cookie, "; ") {
		name, value, ok := strings.Cut(pair, "=")
		if !ok || (name != "ory_kratos_session" && !strings.HasPrefix(name, "ory_session_")) || value == "" {
			t.Fatalf("cookie %q holds pair %q", cookie, pair)
		}
		for i := 0; i < len(pair); i++ {
			if c := pair[i]; c <= ' ' || c >= 0x7f || c == ';' || c == ',' {
				t.Fatalf("cookie %q holds byte %q", cookie, c)
			}
		}
	}
}
