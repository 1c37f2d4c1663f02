//go:build e2e

package main

import (
	"slices"
	"testing"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

const (
	adminSessionCall = `^/admin/(identities/[^/]+/sessions|sessions)`
	selfServiceCall  = `^/sessions(/[0-9a-f-]{36})?$`
)

type mySessions struct {
	Sessions []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	} `json:"sessions"`
}

// TestE2ESelfServiceSessions: against a real Kratos, token and cookie callers list
// (the current session included), revoke one and revoke the others through the
// FrontendAPI with their own credential, with no Admin API session call; another
// user's session id stays 404. A session JWT caller has no such credential and
// goes through the Admin API, with ownership enforced the same way.
func TestE2ESelfServiceSessions(t *testing.T) {
	k := kratostest.Start(t)
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "1h"})
	jwtSvc := startService(t, k, map[string]string{
		"SESSION_CACHE_TTL": "1h",
		"ORY_JWKS_URL":      "file://" + k.PublicJWKSPath(),
		"ORY_JWT_TEMPLATE":  "jwt_example",
		"ORY_JWT_ISSUER":    k.PublicURL() + "/",
	})

	tests := []struct {
		name  string
		svc   *service
		login func(t *testing.T, email string) (sessionID string, cred []string)
		admin bool // the Admin API path
	}{
		{"token", svc, func(t *testing.T, email string) (string, []string) {
			r := k.Login(t, email, password)
			return r.SessionID, bearer(r.SessionToken)
		}, false},
		{"cookie", svc, func(t *testing.T, email string) (string, []string) {
			r := k.BrowserLoginResult(t, email, password)
			return r.SessionID, []string{"Cookie", r.CookieHeader}
		}, false},
		{"session JWT", jwtSvc, func(t *testing.T, email string) (string, []string) {
			r := k.Login(t, email, password)
			s, err := k.Whoami(oryflow.Credentials{SessionToken: r.SessionToken}, "jwt_example")
			if err != nil || s.Tokenized == "" {
				t.Fatalf("whoami tokenize_as: %v", err)
			}
			return r.SessionID, bearer(s.Tokenized)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := k.NewEmail()
			k.Register(t, email, password)
			cur, cred := tt.login(t, email)
			o1, o2 := k.Login(t, email, password), k.Login(t, email, password)
			bob := k.Register(t, k.NewEmail(), password)
			for _, tok := range []string{o1.SessionToken, o2.SessionToken, bob.SessionToken} {
				tt.svc.expect(t, 200, "GET", "/api/resource", bearer(tok)...) // cached for an hour
			}
			adminBefore, selfBefore := k.RequestsLike(adminSessionCall), k.RequestsLike(selfServiceCall)

			list := apitest.Decode[mySessions](t, tt.svc.expect(t, 200, "GET", "/api/me/sessions", cred...))
			var ids []string
			for _, s := range list.Sessions {
				ids = append(ids, s.ID)
				if s.Current != (s.ID == cur) {
					t.Errorf("session %s: current = %v", s.ID, s.Current)
				}
			}
			// Registration made a session too; it is listed like the others.
			for _, want := range []string{cur, o1.SessionID, o2.SessionID} {
				if !slices.Contains(ids, want) {
					t.Errorf("sessions = %v, want %s among them (current %s)", ids, want, cur)
				}
			}

			tt.svc.expect(t, 404, "DELETE", "/api/me/sessions/"+bob.SessionID, cred...)
			tt.svc.expect(t, 200, "GET", "/api/resource", bearer(bob.SessionToken)...)
			tt.svc.expect(t, 404, "DELETE", "/api/me/sessions/00000000-0000-4000-8000-000000000000", cred...)

			tt.svc.expect(t, 204, "DELETE", "/api/me/sessions/"+o1.SessionID, cred...)
			tt.svc.expect(t, 401, "GET", "/api/resource", bearer(o1.SessionToken)...)

			out := apitest.Decode[Revoked](t, tt.svc.expect(t, 200, "DELETE", "/api/me/sessions", cred...))
			if !slices.Contains(out.Revoked, o2.SessionID) || slices.Contains(out.Revoked, cur) || slices.Contains(out.Revoked, o1.SessionID) {
				t.Errorf("revoked = %v, want %s, not the current %s nor the revoked %s", out.Revoked, o2.SessionID, cur, o1.SessionID)
			}
			tt.svc.expect(t, 401, "GET", "/api/resource", bearer(o2.SessionToken)...)
			tt.svc.expect(t, 200, "GET", "/api/resource", bearer(bob.SessionToken)...)
			tt.svc.expect(t, 200, "GET", "/api/resource", cred...)
			after := apitest.Decode[mySessions](t, tt.svc.expect(t, 200, "GET", "/api/me/sessions", cred...))
			if len(after.Sessions) != 1 || after.Sessions[0].ID != cur || !after.Sessions[0].Current {
				t.Errorf("after signing out everywhere else: %+v, want the current session %s alone", after.Sessions, cur)
			}

			admin, self := k.RequestsLike(adminSessionCall)-adminBefore, k.RequestsLike(selfServiceCall)-selfBefore
			switch {
			case tt.admin && (admin == 0 || self != 0):
				t.Errorf("session JWT caller: %d Admin API session calls, %d FrontendAPI ones; want the Admin API only", admin, self)
			case !tt.admin && (admin != 0 || self == 0):
				t.Errorf("%s caller: %d Admin API session calls, %d FrontendAPI ones; want the FrontendAPI only", tt.name, admin, self)
			}
		})
	}
}

// Revoked is the answer of DELETE /api/me/sessions.
type Revoked struct {
	Revoked []string `json:"revoked"`
}
