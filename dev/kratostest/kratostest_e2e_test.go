//go:build e2e

// End-to-end tests of the harness against the real Kratos binary (bin/kratos):
//
//	go test -tags e2e -race ./dev/kratostest/ -v
package kratostest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

func TestE2ETokenFlows(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t)
	email := k.NewEmail()

	reg := k.Register(t, email, kratostest.Password)
	if !strings.HasPrefix(reg.SessionToken, "ory_st_") || reg.SessionID == "" || reg.IdentityID == "" {
		t.Fatalf("register: %+v", reg)
	}
	s, err := k.Whoami(oryflow.Credentials{SessionToken: reg.SessionToken}, "")
	if err != nil || s.ID != reg.SessionID || s.IdentityID != reg.IdentityID || !s.Active || s.AAL != "aal1" {
		t.Fatalf("whoami(registration token) = %+v, %v", s, err)
	}

	login := k.Login(t, email, kratostest.Password)
	if login.SessionToken == reg.SessionToken || login.SessionID == reg.SessionID || login.IdentityID != reg.IdentityID {
		t.Fatalf("login: %+v (registration %+v)", login, reg)
	}

	ctx := context.Background()
	_, err = oryflow.Login(ctx, nil, k.PublicURL(), email, "wrong-"+kratostest.Password)
	if !oryflow.IsInvalidCredentials(err) || strings.Contains(err.Error(), kratostest.Password) {
		t.Fatalf("wrong password: %v", err)
	}
	_, err = oryflow.Register(ctx, nil, k.PublicURL(), email, kratostest.Password, nil)
	if !oryflow.IsDuplicateAccount(err) || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = oryflow.Register(ctx, nil, k.PublicURL(), k.NewEmail(), "short", nil)
	if err == nil || !strings.Contains(err.Error(), "at least 8 characters") || strings.Contains(err.Error(), "short") {
		t.Fatalf("short password: %v", err)
	}
	_, err = oryflow.Register(ctx, nil, k.PublicURL(), k.NewEmail(), kratostest.Password, map[string]any{"name": map[string]any{"first": "Ada", "last": "Lovelace"}})
	if err != nil {
		t.Fatalf("register with name: %v", err)
	}
	_, err = oryflow.Register(ctx, nil, k.PublicURL(), "not-an-email", kratostest.Password, nil)
	if err == nil || !strings.Contains(err.Error(), "traits.email") {
		t.Fatalf("bad email: %v", err)
	}

	// Session to JWT with the tokenizer template from kratos.yml.
	s, err = k.Whoami(oryflow.Credentials{SessionToken: login.SessionToken}, kratostest.TokenizerTemplate)
	if err != nil || s.Tokenized == "" {
		t.Fatalf("tokenize_as: %+v, %v", s, err)
	}
	claims := k.VerifyJWT(t, s.Tokenized)
	if claims["sub"] != reg.IdentityID || claims["sid"] != login.SessionID || claims["email"] != email || claims["aal"] != "aal1" {
		t.Fatalf("claims = %v", claims)
	}
	if ttl := claims["exp"].(float64) - claims["iat"].(float64); ttl != 600 {
		t.Fatalf("exp - iat = %v, want 600 (ttl 10m)", ttl)
	}
	if iss, _ := claims["iss"].(string); !strings.HasPrefix(iss, k.PublicURL()) {
		t.Fatalf("iss = %v, want %s", claims["iss"], k.PublicURL())
	}

	// Revocation through the admin API is seen on the next whoami.
	k.RevokeSession(t, login.SessionID)
	_, err = k.Whoami(oryflow.Credentials{SessionToken: login.SessionToken}, "")
	var oe *oryflow.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusUnauthorized {
		t.Fatalf("whoami after revoke: %v", err)
	}
}

func TestE2EBrowserCookieAndMetadata(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t)
	email := k.NewEmail()
	reg := k.Register(t, email, kratostest.Password)

	cookie := k.BrowserLogin(t, email, kratostest.Password)
	if !strings.HasPrefix(cookie, kratostest.SessionCookieName+"=") {
		t.Fatalf("cookie header = %q", cookie)
	}
	s, err := k.Whoami(oryflow.Credentials{Cookie: cookie}, "")
	if err != nil || s.IdentityID != reg.IdentityID || s.ID == reg.SessionID {
		t.Fatalf("whoami(cookie) = %+v, %v", s, err)
	}

	// Plain net/http with only the Cookie header, as a service would forward it.
	req, _ := http.NewRequest(http.MethodGet, k.PublicURL()+"/sessions/whoami", nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami with Cookie header: HTTP %d", resp.StatusCode)
	}

	k.SetMetadataPublic(t, reg.IdentityID, map[string]any{"role": "admin"})
	k.SetMetadataPublic(t, reg.IdentityID, map[string]any{"role": "admin", "team": "x"}) // replace, not merge-fail
	id := k.Identity(t, reg.IdentityID)
	md, _ := id["metadata_public"].(map[string]any)
	if md["role"] != "admin" || md["team"] != "x" {
		t.Fatalf("metadata_public = %v", id["metadata_public"])
	}
	s, err = k.Whoami(oryflow.Credentials{Cookie: cookie}, kratostest.TokenizerTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := k.VerifyJWT(t, s.Tokenized)["metadata_public"].(map[string]any); md["role"] != "admin" {
		t.Fatalf("metadata_public claim = %v, want role admin", md)
	}
}

func TestE2ERestartSQLiteKeepsSessionsAndStopIsUnreachable(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t, kratostest.WithSQLite())
	if !strings.HasPrefix(k.DSN(), "sqlite://") {
		t.Fatalf("DSN = %q", k.DSN())
	}
	email := k.NewEmail()
	reg := k.Register(t, email, kratostest.Password)
	cookie := k.BrowserLogin(t, email, kratostest.Password)
	publicURL := k.PublicURL()

	k.Restart()
	if k.PublicURL() != publicURL || !k.Running() {
		t.Fatalf("restart changed URL or is not running: %s", k.PublicURL())
	}
	if s, err := k.Whoami(oryflow.Credentials{SessionToken: reg.SessionToken}, ""); err != nil || s.ID != reg.SessionID {
		t.Fatalf("token after restart: %+v, %v", s, err)
	}
	if s, err := k.Whoami(oryflow.Credentials{Cookie: cookie}, ""); err != nil || s.IdentityID != reg.IdentityID {
		t.Fatalf("cookie after restart: %+v, %v", s, err)
	}
	k.Login(t, email, kratostest.Password)

	k.Stop()
	if k.Running() {
		t.Fatal("Running after Stop")
	}
	_, err := k.Whoami(oryflow.Credentials{SessionToken: reg.SessionToken}, "")
	var oe *oryflow.Error
	if err == nil || errors.As(err, &oe) {
		t.Fatalf("whoami on stopped Kratos: want a transport error, got %v", err)
	}
	k.Stop() // idempotent

	k.Restart()
	if _, err := k.Whoami(oryflow.Credentials{SessionToken: reg.SessionToken}, ""); err != nil {
		t.Fatalf("token after stop+restart: %v", err)
	}
}

func TestE2ERestartMemoryLosesData(t *testing.T) {
	t.Parallel()
	k := kratostest.Start(t)
	reg := k.Register(t, k.NewEmail(), kratostest.Password)
	start := time.Now()
	k.Restart()
	t.Logf("memory restart took %s", time.Since(start))
	_, err := k.Whoami(oryflow.Credentials{SessionToken: reg.SessionToken}, "")
	var oe *oryflow.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusUnauthorized {
		t.Fatalf("whoami after memory restart: want 401, got %v", err)
	}
}

func TestE2ERun(t *testing.T) {
	t.Parallel()
	k, err := kratostest.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	res := k.Register(t, k.NewEmail(), kratostest.Password)
	if res.SessionToken == "" {
		t.Fatal("no token")
	}
}
