package handlers_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/handlers"
)

// stepUpOf is the step-up configuration of an env: o.stepUp, pointing at the fake
// unless it says otherwise.
func stepUpOf(o envOptions) auth.StepUpConfig {
	su := o.stepUp
	if su.PublicURL == "" {
		su.PublicURL = o.publicURL
	}
	return su
}

type stepUpProblem struct {
	Status            int    `json:"status"`
	Code              string `json:"code"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// TestStepUpRoutes: signing out everywhere and the admin routes need aal2 from an
// identity with a second factor, per STEP_UP; the other routes never do.
func TestStepUpRoutes(t *testing.T) {
	t.Parallel()
	stepUpRoutes := []struct{ method, path string }{
		{"DELETE", "/api/me/sessions"},
		{"GET", "/api/admin/identities"},
	}
	plainRoutes := []struct{ method, path string }{
		{"GET", "/api/resource"},
		{"GET", "/api/me"},
		{"GET", "/api/me/sessions"},
	}
	tests := []struct {
		name   string
		mode   auth.StepUpMode
		factor string // credential type the identity has besides its password
		aal    string
		want   int // on the step-up routes
	}{
		{"default: totp at aal1", "", "totp", "aal1", http.StatusForbidden},
		{"default: lookup secrets at aal1", "", "lookup_secret", "aal1", http.StatusForbidden},
		{"default: totp at aal2", "", "totp", "aal2", http.StatusOK},
		{"default: no second factor at aal1", "", "", "aal1", http.StatusOK},
		{"always: no second factor at aal1", auth.StepUpAlways, "", "aal1", http.StatusForbidden},
		{"always: aal2", auth.StepUpAlways, "", "aal2", http.StatusOK},
		{"off: totp at aal1", auth.StepUpOff, "totp", "aal1", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{cacheTTL: time.Minute, stepUp: auth.StepUpConfig{Mode: tt.mode}})
			id := e.fake.AddIdentity("a@example.com")
			e.fake.SetRole(id, "admin")
			if tt.factor != "" {
				e.fake.AddCredential(id, tt.factor, map[string]any{})
			}
			tok := e.fake.AddSession(id, orytest.AAL(tt.aal))
			e.secret(tok)
			for _, r := range plainRoutes {
				resp, body := e.do(t, r.method, r.path, tok)
				e.expect(t, resp, body, http.StatusOK)
			}
			for _, r := range stepUpRoutes {
				resp, body := e.do(t, r.method, r.path, tok)
				e.expect(t, resp, body, tt.want)
				if tt.want != http.StatusForbidden {
					continue
				}
				p := apitest.Decode[stepUpProblem](t, body)
				u, err := url.Parse(p.RedirectBrowserTo)
				if p.Code != "session_aal2_required" || err != nil || u.Scheme+"://"+u.Host != e.fake.URL ||
					u.Path != "/self-service/login/browser" || u.Query().Get("aal") != "aal2" {
					t.Errorf("%s %s: problem = %+v, want session_aal2_required with Ory's aal2 login flow", r.method, r.path, p)
				}
			}
		})
	}

	t.Run("role before step up", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		id := e.fake.AddIdentity("a@example.com")
		e.fake.AddCredential(id, "totp", map[string]any{})
		resp, body := e.do(t, "GET", "/api/admin/identities", e.session(id))
		e.expect(t, resp, body, http.StatusForbidden)
		if p := apitest.Decode[stepUpProblem](t, body); p.Code != "forbidden" {
			t.Errorf("code = %q, want forbidden: stepping up would not make a user an admin", p.Code)
		}
	})
}

// TestStepUpSharesIdentityReads: whether an identity has a second factor comes
// from the same Admin API read as /api/me, once per identity per TTL.
func TestStepUpSharesIdentityReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute, identityTTL: time.Minute})
	id, tok := e.user("a@example.com")
	for range 3 {
		resp, body := e.do(t, "GET", "/api/me", tok)
		e.expect(t, resp, body, http.StatusOK)
		resp, body = e.do(t, "DELETE", "/api/me/sessions", tok)
		e.expect(t, resp, body, http.StatusOK)
		if got := apitest.Decode[handlers.Revoked](t, body).Revoked; len(got) != 0 {
			t.Errorf("revoked %v, want none", got)
		}
	}
	reads := 0
	for _, r := range e.fake.AdminRequests() {
		if r == "GET /admin/identities/"+id+"?include_credential=webauthn" {
			reads++
		}
	}
	if reads != 1 {
		t.Errorf("identity reads = %d of %v, want 1 (with include_credential=webauthn)", reads, e.fake.AdminRequests())
	}
}

// TestStepUpAfterUpgrade: the same token, stepped up in Ory while its aal1
// session sits in the cache, signs out everywhere at once, and every route sees
// it at aal2 from then on.
func TestStepUpAfterUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Hour, stepUp: auth.StepUpConfig{ReturnTo: "https://app.example.com/security"}})
	id, tok := e.user("a@example.com")
	e.fake.AddCredential(id, "totp", map[string]any{})
	other := e.session(id)

	aalOf := func() string {
		resp, body := e.do(t, "GET", "/api/resource", tok)
		e.expect(t, resp, body, http.StatusOK)
		return apitest.Decode[struct {
			AAL string `json:"aal"`
		}](t, body).AAL
	}
	if got := aalOf(); got != "aal1" {
		t.Fatalf("aal = %s, want aal1", got)
	}
	resp, body := e.do(t, "DELETE", "/api/me/sessions", tok)
	e.expect(t, resp, body, http.StatusForbidden)
	u, _ := url.Parse(apitest.Decode[stepUpProblem](t, body).RedirectBrowserTo)
	if got := u.Query().Get("return_to"); got != "https://app.example.com/security" {
		t.Errorf("return_to = %q, want STEP_UP_RETURN_TO", got)
	}
	if !e.fake.SessionActive(e.fake.SessionID(other)) {
		t.Fatal("the refused request revoked a session")
	}

	e.fake.StepUp(tok)
	resp, body = e.do(t, "DELETE", "/api/me/sessions", tok)
	e.expect(t, resp, body, http.StatusOK)
	if e.fake.SessionActive(e.fake.SessionID(other)) {
		t.Error("the other session is still active after signing out everywhere")
	}
	before := e.fake.WhoamiCalls()
	if got := aalOf(); got != "aal2" {
		t.Errorf("aal after the step up = %s, want aal2 (the cache must not keep the aal1 answer)", got)
	}
	if n := e.fake.WhoamiCalls() - before; n != 0 {
		t.Errorf("whoami calls = %d, want 0: the upgraded session is cached", n)
	}
}
