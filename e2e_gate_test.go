//go:build e2e

package main

import (
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

// TestE2EGateMisconfiguredSDKURL points ORY_SDK_URL where no whoami lives: every
// protected route must fail closed with 503 (an outage the operator sees), never
// pass on Kratos's 404 or sign the user out with 401.
func TestE2EGateMisconfiguredSDKURL(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	email := k.NewEmail()
	u := k.Register(t, email, password)
	cookie := k.BrowserLogin(t, email, password)

	for _, tt := range []struct {
		name, sdkURL string
	}{
		{"bogus path prefix", k.PublicURL() + "/bogus"},
		{"admin port", k.AdminURL()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svc := startService(t, k, map[string]string{"ORY_SDK_URL": tt.sdkURL, "SESSION_CACHE_TTL": "0"})
			for _, creds := range [][]string{bearer(u.SessionToken), {"Cookie", cookie}} {
				for _, r := range []struct{ method, path string }{
					{"GET", "/api/resource"},
					{"GET", "/api/me"},
					{"GET", "/api/me/sessions"},
					{"DELETE", "/api/me/sessions/00000000-0000-4000-8000-000000000000"},
					{"DELETE", "/api/me/sessions"},
					{"GET", "/api/admin/identities"},
				} {
					status, body, _ := svc.call(t, r.method, r.path, creds...)
					if status != 503 {
						t.Errorf("%s %s with %s: status = %d, want 503; body: %s", r.method, r.path, creds[0], status, body)
						continue
					}
					if p := apitest.Decode[problemBody](t, body); p.Code != "ory_unavailable" {
						t.Errorf("%s %s: code = %q, want ory_unavailable", r.method, r.path, p.Code)
					}
				}
			}
		})
	}
}

// TestE2EGatePlantedCookie sends a real Kratos session cookie next to ory_ cookies
// that a sibling subdomain could plant: only the session cookie decides.
func TestE2EGatePlantedCookie(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "0"})
	email := k.NewEmail()
	k.Register(t, email, password)
	cookie := k.BrowserLogin(t, email, password)
	if !strings.Contains(cookie, "ory_kratos_session=") {
		t.Fatalf("browser login cookie = %q, want ory_kratos_session", cookie)
	}
	for _, h := range []string{
		cookie + "; ory_x=",
		"ory_x=; " + cookie,
		"ory_x=a,b; " + cookie + "; ory_y=\"\"",
	} {
		svc.expect(t, 200, "GET", "/api/resource", "Cookie", h)
	}
	svc.expect(t, 401, "GET", "/api/resource", "Cookie", "ory_x=a,b")
	svc.expect(t, 401, "GET", "/api/resource", "Cookie", "ory_kratos_session=a,b")
}

// TestE2EGateJWTRevocation revokes sessions through the service in JWT mode: their
// JWTs, verified locally, are refused from the next request on.
func TestE2EGateJWTRevocation(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{
		"ORY_JWKS_URL":     "file://" + k.PublicJWKSPath(),
		"ORY_JWT_TEMPLATE": "jwt_example",
		"ORY_JWT_ISSUER":   k.PublicURL() + "/",
	})
	email := k.NewEmail()
	current := k.Register(t, email, password)
	jwtOf := func(r oryflow.Result) []string {
		t.Helper()
		s, err := k.Whoami(oryflow.Credentials{SessionToken: r.SessionToken}, "jwt_example")
		if err != nil || s.Tokenized == "" {
			t.Fatalf("whoami tokenize_as: %v", err)
		}
		return bearer(s.Tokenized)
	}
	mine := jwtOf(current)
	revokeOne := k.Login(t, email, password)
	one, rest := jwtOf(revokeOne), jwtOf(k.Login(t, email, password))
	for _, h := range [][]string{mine, one, rest} {
		svc.expect(t, 200, "GET", "/api/resource", h...)
	}

	svc.expect(t, 204, "DELETE", "/api/me/sessions/"+revokeOne.SessionID, mine...)
	svc.expect(t, 401, "GET", "/api/resource", one...)
	svc.expect(t, 200, "GET", "/api/resource", rest...)

	svc.expect(t, 200, "DELETE", "/api/me/sessions", mine...)
	svc.expect(t, 401, "GET", "/api/resource", rest...)
	svc.expect(t, 200, "GET", "/api/resource", mine...)
}
