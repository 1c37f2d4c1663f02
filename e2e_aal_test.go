//go:build e2e

package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

type stepUpBody struct {
	Status            int    `json:"status"`
	Code              string `json:"code"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// totpCode is the authenticator app's current code for secret.
func totpCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	return c
}

// TestE2EStepUp: against Kratos with TOTP on, sign-out-everywhere and the admin
// routes need aal2 from an identity with a second factor; Ory's own step-up
// flows (settings, login with aal=aal2) upgrade the very session the service has
// cached, and the service sees it at once.
func TestE2EStepUp(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	const returnTo = "http://127.0.0.1:4455/" // one of kratos.yml's allowed return URLs
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "1h", "STEP_UP_RETURN_TO": returnTo})
	email := k.NewEmail()
	reg := k.Register(t, email, password)
	k.SetMetadataPublic(t, reg.IdentityID, map[string]any{"role": "admin"})
	stepUpRoutes := [][2]string{{"DELETE", "/api/me/sessions"}, {"GET", "/api/admin/identities"}}
	aalOf := func(t *testing.T, tok string) string {
		t.Helper()
		return apitest.Decode[resourceBody](t, svc.expect(t, 200, "GET", "/api/resource", bearer(tok)...)).AAL
	}

	t.Run("no second factor: aal1 passes", func(t *testing.T) {
		plain := k.Register(t, k.NewEmail(), password)
		k.SetMetadataPublic(t, plain.IdentityID, map[string]any{"role": "admin"})
		for _, r := range stepUpRoutes {
			svc.expect(t, 200, r[0], r[1], bearer(plain.SessionToken)...)
		}
	})
	// Whether an identity has a second factor is reused for a few seconds, like
	// /api/me (docs/sessions.md): this identity's is not read before it enrols.
	if got := aalOf(t, reg.SessionToken); got != "aal1" { // now cached at aal1
		t.Fatalf("aal = %s, want aal1", got)
	}

	ctx := t.Context()
	secret, err := oryflow.EnrolTOTP(ctx, nil, k.PublicURL(), reg.SessionToken, func(s string) (string, error) {
		return totp.GenerateCode(s, time.Now())
	})
	if err != nil {
		t.Fatalf("enrol TOTP: %v", err)
	}
	if ident := k.Identity(t, reg.IdentityID); ident["credentials"].(map[string]any)["totp"] == nil {
		t.Fatalf("identity credentials after enrolling = %v, want totp", ident["credentials"])
	}

	t.Run("the enrolling session is upgraded in place and seen through the cache", func(t *testing.T) {
		for _, r := range stepUpRoutes {
			svc.expect(t, 200, r[0], r[1], bearer(reg.SessionToken)...)
		}
		if got := aalOf(t, reg.SessionToken); got != "aal2" {
			t.Errorf("aal = %s, want aal2", got)
		}
	})

	// A password alone now gives an aal1 session, which Kratos's whoami accepts
	// (session.whoami.required_aal: aal1): the service decides per route.
	login := k.Login(t, email, password)
	t.Run("aal1: ordinary routes work, step-up routes answer 403 with the hint", func(t *testing.T) {
		if got := aalOf(t, login.SessionToken); got != "aal1" { // now cached at aal1
			t.Fatalf("aal = %s, want aal1", got)
		}
		svc.expect(t, 200, "GET", "/api/me", bearer(login.SessionToken)...)
		svc.expect(t, 200, "GET", "/api/me/sessions", bearer(login.SessionToken)...)
		for _, r := range stepUpRoutes {
			p := apitest.Decode[stepUpBody](t, svc.expect(t, 403, r[0], r[1], bearer(login.SessionToken)...))
			u, err := url.Parse(p.RedirectBrowserTo)
			if p.Code != "session_aal2_required" || err != nil || u.Scheme+"://"+u.Host != k.PublicURL() || u.Path != "/self-service/login/browser" ||
				u.Query().Get("aal") != "aal2" || u.Query().Get("return_to") != returnTo {
				t.Errorf("%s %s: %+v, want session_aal2_required to %s/self-service/login/browser?aal=aal2&return_to=%s", r[0], r[1], p, k.PublicURL(), returnTo)
			}
		}
		// The refused sign-out revoked nothing.
		svc.expect(t, 200, "GET", "/api/resource", bearer(reg.SessionToken)...)
	})

	t.Run("a browser's hint starts Kratos's aal2 login flow", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		b, err := oryflow.BrowserLogin(ctx, hc, k.PublicURL(), email, password)
		if err != nil {
			t.Fatalf("browser login: %v", err)
		}
		p := apitest.Decode[stepUpBody](t, svc.expect(t, 403, "DELETE", "/api/me/sessions", "Cookie", b.CookieHeader))
		f, err := oryflow.StartBrowserLogin(ctx, hc, p.RedirectBrowserTo)
		if err != nil {
			t.Fatalf("start the login flow at %s: %v", p.RedirectBrowserTo, err)
		}
		if f.RequestedAAL != "aal2" || f.ReturnTo != returnTo {
			t.Errorf("login flow asks for %q and returns to %q, want aal2 and %s", f.RequestedAAL, f.ReturnTo, returnTo)
		}
	})

	t.Run("aal2 login: the same token passes at once", func(t *testing.T) {
		up, err := oryflow.LoginTOTP(ctx, nil, k.PublicURL(), login.SessionToken, totpCode(t, secret))
		if err != nil {
			t.Fatalf("aal2 login: %v", err)
		}
		if up.SessionID != login.SessionID {
			t.Errorf("aal2 login gave session %s, want the same session %s upgraded", up.SessionID, login.SessionID)
		}
		svc.expect(t, 200, "GET", "/api/admin/identities", bearer(login.SessionToken)...)
		if got := aalOf(t, login.SessionToken); got != "aal2" {
			t.Errorf("aal = %s, want aal2", got)
		}
		svc.expect(t, 200, "DELETE", "/api/me/sessions", bearer(login.SessionToken)...)
		svc.expect(t, 401, "GET", "/api/resource", bearer(reg.SessionToken)...)
	})

	t.Run("session JWTs carry their level", func(t *testing.T) {
		jwtSvc := startService(t, k, map[string]string{
			"ORY_JWKS_URL":     "file://" + k.PublicJWKSPath(),
			"ORY_JWT_TEMPLATE": "jwt_example",
			"ORY_JWT_ISSUER":   k.PublicURL() + "/",
		})
		aal1 := k.Login(t, email, password)
		for _, c := range []struct {
			token string
			want  int
		}{{aal1.SessionToken, 403}, {login.SessionToken, 200}} {
			s, err := k.Whoami(oryflow.Credentials{SessionToken: c.token}, "jwt_example")
			if err != nil || s.Tokenized == "" {
				t.Fatalf("whoami tokenize_as: %v", err)
			}
			jwtSvc.expect(t, c.want, "GET", "/api/admin/identities", bearer(s.Tokenized)...)
		}
	})

	t.Run("STEP_UP=always and off", func(t *testing.T) {
		always := startService(t, k, map[string]string{"STEP_UP": "always"})
		off := startService(t, k, map[string]string{"STEP_UP": "off"})
		plain := k.Register(t, k.NewEmail(), password)
		always.expect(t, 403, "DELETE", "/api/me/sessions", bearer(plain.SessionToken)...)
		aal1 := k.Login(t, email, password)
		off.expect(t, 200, "GET", "/api/admin/identities", bearer(aal1.SessionToken)...)
		always.expect(t, 403, "GET", "/api/admin/identities", bearer(aal1.SessionToken)...)
	})
}
