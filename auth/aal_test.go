package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/lestrrat-go/jwx/v3/jwt"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/problem"
)

// factorsOf says which identities have a second factor; an identity it does not
// know makes HasSecondFactor fail, as the Admin API failing would.
type factorsOf map[string]bool

func (f factorsOf) HasSecondFactor(_ context.Context, id string) (bool, error) {
	has, ok := f[id]
	if !ok {
		return false, problem.Unavailable(nil)
	}
	return has, nil
}

// stepUpEngine serves GET /p behind RequireSession and RequireAAL(aal2),
// answering the AAL of the session the handler sees.
func stepUpEngine(k *Checker, su *StepUp) *gin.Engine {
	r := gin.New()
	r.GET("/p", RequireSession(k), RequireAAL(su, "aal2"), func(c *gin.Context) {
		s, _ := SessionFrom(c)
		c.JSON(http.StatusOK, gin.H{"aal": s.GetAuthenticatorAssuranceLevel()})
	})
	return r
}

// get sends GET /p with the token and the extra header pairs.
func get(engine http.Handler, token string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/p", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	engine.ServeHTTP(w, req)
	return w
}

type problemOut struct {
	Code              string `json:"code"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

func TestRequireAAL(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	with, without, broken := fake.AddIdentity("totp@example.com"), fake.AddIdentity("plain@example.com"), fake.AddIdentity("x@example.com")
	factors := factorsOf{with: true, without: false}

	tests := []struct {
		name     string
		mode     StepUpMode
		identity string
		aal      string
		want     int
		wantCode string
	}{
		{"when-available: second factor, aal1", StepUpWhenAvailable, with, "aal1", http.StatusForbidden, problem.CodeAAL2Required},
		{"when-available: second factor, aal2", StepUpWhenAvailable, with, "aal2", http.StatusOK, ""},
		{"when-available: none, aal1", StepUpWhenAvailable, without, "aal1", http.StatusOK, ""},
		{"when-available: no level at all", StepUpWhenAvailable, with, "", http.StatusForbidden, problem.CodeAAL2Required},
		{"when-available: factors unknown, fail closed", StepUpWhenAvailable, broken, "aal1", http.StatusServiceUnavailable, problem.CodeOryUnavailable},
		{"when-available: aal2 needs no factor lookup", StepUpWhenAvailable, broken, "aal2", http.StatusOK, ""},
		{"always: none, aal1", StepUpAlways, without, "aal1", http.StatusForbidden, problem.CodeAAL2Required},
		{"always: aal2", StepUpAlways, without, "aal2", http.StatusOK, ""},
		{"off: second factor, aal1", StepUpOff, with, "aal1", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newChecker(t, fake, Options{CacheTTL: time.Minute})
			su := NewStepUp(StepUpConfig{Mode: tt.mode, PublicURL: fake.URL + "/"}, k, factors)
			w := get(stepUpEngine(k, su), fake.AddSession(tt.identity, orytest.AAL(tt.aal)))
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if tt.wantCode == "" {
				return
			}
			var p problemOut
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != tt.wantCode {
				t.Fatalf("body = %s, want code %s", w.Body, tt.wantCode)
			}
			if tt.wantCode != problem.CodeAAL2Required {
				return
			}
			u, err := url.Parse(p.RedirectBrowserTo)
			if err != nil || u.Scheme+"://"+u.Host != fake.URL || u.Path != "/self-service/login/browser" || u.Query().Get("aal") != "aal2" {
				t.Errorf("redirect_browser_to = %q, want %s/self-service/login/browser?aal=aal2", p.RedirectBrowserTo, fake.URL)
			}
		})
	}

	t.Run("only aal2", func(t *testing.T) {
		t.Parallel()
		for _, level := range []string{"aal1", "aal3", "AAL2", ""} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("RequireAAL(%q) did not panic", level)
					}
				}()
				RequireAAL(NewStepUp(StepUpConfig{}, nil, factors), level)
			}()
		}
	})
	t.Run("without RequireSession", func(t *testing.T) {
		t.Parallel()
		r := gin.New()
		su := NewStepUp(StepUpConfig{Mode: StepUpAlways}, newChecker(t, fake, Options{}), factors)
		r.GET("/x", RequireAAL(su, "aal2"), func(c *gin.Context) { c.Status(http.StatusOK) })
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
		if w.Code != http.StatusInternalServerError {
			t.Errorf("status = %d, want %d", w.Code, http.StatusInternalServerError)
		}
	})
}

// The browser comes back only to a place this service already trusts: the
// configured return URL, or the caller's origin when it is an allowed one.
func TestRequireAALReturnTo(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	id := fake.AddIdentity("totp@example.com")
	const app, other = "https://app.example.com", "https://other.example.com"
	tests := []struct {
		name     string
		returnTo string
		origins  []string
		origin   string
		want     string // return_to; "" for none
	}{
		{"nothing configured", "", nil, "", ""},
		{"configured", app + "/account", nil, "", app + "/account"},
		{"allowed origin", "", []string{app, other}, other, other + "/"},
		{"allowed origin of the configured URL", app + "/account", []string{app}, app, app + "/account"},
		{"another allowed origin", app + "/account", []string{app, other}, other, other + "/"},
		{"origin not allowed", app + "/account", []string{app}, "https://evil.example", app + "/account"},
		{"origin not allowed, nothing configured", "", []string{app}, "https://evil.example", ""},
		{"null origin", "", []string{app}, "null", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newChecker(t, fake, Options{})
			su := NewStepUp(StepUpConfig{PublicURL: fake.URL, ReturnTo: tt.returnTo, Origins: tt.origins}, k, factorsOf{id: true})
			w := get(stepUpEngine(k, su), fake.AddSession(id), "Origin", tt.origin)
			var p problemOut
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != http.StatusForbidden {
				t.Fatalf("status = %d, want %d; body %s", w.Code, http.StatusForbidden, w.Body)
			}
			u, err := url.Parse(p.RedirectBrowserTo)
			if err != nil {
				t.Fatal(err)
			}
			if got, set := u.Query()["return_to"]; (tt.want == "" && set) || (tt.want != "" && (len(got) != 1 || got[0] != tt.want)) {
				t.Errorf("return_to = %q, want %q (redirect_browser_to %s)", got, tt.want, p.RedirectBrowserTo)
			}
		})
	}
}

// Kratos raises a session's level in place, under the same token. A cached aal1
// answer must not keep refusing the upgraded session, and the upgraded answer
// replaces it for every route, so the cache never holds the old level again.
func TestRequireAALSeesStepUpThroughCache(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	id := fake.AddIdentity("totp@example.com")
	k := newChecker(t, fake, Options{CacheTTL: time.Hour, DenyTTL: time.Hour})
	engine := stepUpEngine(k, NewStepUp(StepUpConfig{PublicURL: fake.URL}, k, factorsOf{id: true}))
	plain := protected(k, "")
	tok := fake.AddSession(id)

	if w := get(plain, tok); w.Code != http.StatusOK { // aal1, now cached
		t.Fatalf("status = %d, want %d", w.Code, http.StatusOK)
	}
	before := fake.WhoamiCalls()
	if w := get(engine, tok); w.Code != http.StatusForbidden {
		t.Fatalf("before the step up: status = %d, want %d", w.Code, http.StatusForbidden)
	}
	if n := fake.WhoamiCalls() - before; n != 1 {
		t.Errorf("whoami calls for a cached aal1 session on an aal2 route = %d, want 1 (asked once more, not cached as a refusal)", n)
	}
	fake.StepUp(tok)
	if w := get(engine, tok); w.Code != http.StatusOK || w.Body.String() != `{"aal":"aal2"}` {
		t.Fatalf("after the step up: status = %d, body %s; want %d with aal2", w.Code, w.Body, http.StatusOK)
	}
	before = fake.WhoamiCalls()
	for range 3 {
		if w := get(engine, tok); w.Code != http.StatusOK {
			t.Fatalf("again: status = %d, want %d", w.Code, http.StatusOK)
		}
	}
	if n := fake.WhoamiCalls() - before; n != 0 {
		t.Errorf("whoami calls once the cache holds the aal2 session = %d, want 0", n)
	}
}

// Without the cache the session was fetched for the request: nothing to ask again.
func TestRequireAALWithoutCacheAsksOnce(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	id := fake.AddIdentity("totp@example.com")
	k := newChecker(t, fake, Options{})
	engine := stepUpEngine(k, NewStepUp(StepUpConfig{PublicURL: fake.URL}, k, factorsOf{id: true}))
	if w := get(engine, fake.AddSession(id)); w.Code != http.StatusForbidden {
		t.Fatalf("status = %d, want %d", w.Code, http.StatusForbidden)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1", n)
	}
}

// A session revoked meanwhile, or Ory failing, when the session is asked about
// again: that answer, never the step-up hint and never a pass.
func TestRequireAALRecheckFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault orytest.Fault
		want  int
	}{
		{"revoked", orytest.Unauthorized(), http.StatusUnauthorized},
		{"ory down", orytest.Status(http.StatusBadGateway), http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			id := fake.AddIdentity("totp@example.com")
			k := newChecker(t, fake, Options{CacheTTL: time.Hour})
			tok := fake.AddSession(id)
			if w := get(protected(k, ""), tok); w.Code != http.StatusOK {
				t.Fatalf("status = %d, want %d", w.Code, http.StatusOK)
			}
			fake.SetFault(orytest.OnWhoami(tt.fault))
			if w := get(stepUpEngine(k, NewStepUp(StepUpConfig{PublicURL: fake.URL}, k, factorsOf{id: true})), tok); w.Code != tt.want {
				t.Errorf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

// Concurrent requests of one credential below the level share one Ory call.
func TestRecheckCoalesced(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	entered, release := make(chan struct{}, 16), make(chan struct{})
	fake.SetFault(orytest.OnWhoami(func(_ http.ResponseWriter, r *http.Request) bool {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	}))
	k := newChecker(t, fake, Options{CacheTTL: time.Hour, Timeout: 10 * time.Second})
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := k.Recheck(t.Context(), Credential{Token: tok})
			errs <- err
		})
		if i == 0 {
			<-entered
		}
	}
	select {
	case <-entered:
		t.Error("a second recheck of the same credential called Ory itself")
	case <-time.After(time.Second):
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Recheck: %v", err)
		}
	}
	if got := fake.WhoamiCalls(); got != 1 {
		t.Errorf("whoami calls = %d, want 1", got)
	}
}

// A session JWT says its level until it expires: an aal1 JWT is refused (its
// holder fetches a new one after stepping up) without asking Ory, and an aal2
// one passes.
func TestRequireAALSessionJWT(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	fake := orytest.New(t)
	k := newChecker(t, fake, Options{CacheTTL: time.Hour, JWT: newVerifier(t, jwks.URL, JWTConfig{})})
	engine := stepUpEngine(k, NewStepUp(StepUpConfig{PublicURL: fake.URL}, k, factorsOf{jwtSub: true}))
	tests := []struct {
		aal  string
		want int
	}{
		{"aal1", http.StatusForbidden},
		{"aal2", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.aal, func(t *testing.T) {
			tok := sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("aal", tt.aal) }))
			for range 2 {
				if w := get(engine, tok); w.Code != tt.want {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
				}
			}
		})
	}
	if n := fake.WhoamiCalls(); n != 0 {
		t.Errorf("whoami calls = %d, want 0", n)
	}
}

func TestParseStepUpMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want StepUpMode
		ok   bool
	}{
		{"", StepUpWhenAvailable, true},
		{"when-available", StepUpWhenAvailable, true},
		{"always", StepUpAlways, true},
		{"off", StepUpOff, true},
		{"Always", "", false},
		{"never", "", false},
	} {
		got, err := ParseStepUpMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseStepUpMode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// Credentials as Kratos's Admin API lists them: config stripped except for the
// types named in include_credential (webauthn).
func TestHasSecondFactor(t *testing.T) {
	t.Parallel()
	const password = `"password":{"type":"password","identifiers":["a@example.com"],"version":0}`
	tests := []struct {
		name  string
		creds string
		want  bool
	}{
		{"password only", `{` + password + `}`, false},
		{"none", `{}`, false},
		{"totp", `{` + password + `,"totp":{"type":"totp","identifiers":["id"],"version":0}}`, true},
		{"lookup secrets", `{` + password + `,"lookup_secret":{"type":"lookup_secret","identifiers":["id"]}}`, true},
		{"webauthn key", `{"webauthn":{"type":"webauthn","config":{"credentials":[{"id":"aWQ=","is_passwordless":false}]}}}`, true},
		{"webauthn key without the flag", `{"webauthn":{"type":"webauthn","config":{"credentials":[{"id":"aWQ="}]}}}`, true},
		{"passwordless webauthn only", `{` + password + `,"webauthn":{"type":"webauthn","config":{"credentials":[{"id":"aWQ=","is_passwordless":true}]}}}`, false},
		{"webauthn, one of two a second factor", `{"webauthn":{"type":"webauthn","config":{"credentials":[{"is_passwordless":true},{"is_passwordless":false}]}}}`, true},
		{"webauthn without config", `{"webauthn":{"type":"webauthn"}}`, false},
		{"passkey", `{"passkey":{"type":"passkey","identifiers":["x"]}}`, false},
		{"oidc", `{"oidc":{"type":"oidc","identifiers":["google:1"]}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var creds map[string]client.IdentityCredentials
			if err := json.Unmarshal([]byte(tt.creds), &creds); err != nil {
				t.Fatal(err)
			}
			if got := HasSecondFactor(creds); got != tt.want {
				t.Errorf("HasSecondFactor(%s) = %v, want %v", tt.creds, got, tt.want)
			}
		})
	}
}
