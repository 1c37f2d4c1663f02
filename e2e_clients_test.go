//go:build e2e

package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
)

// TestE2EClientsReadyzQuota: however many anonymous /readyz calls arrive, at once
// or one after another, Kratos sees a handful of probes, not one per call.
func TestE2EClientsReadyzQuota(t *testing.T) {
	k := kratostest.Start(t)
	svc := startService(t, k, nil)
	whoami := func() int64 { return k.Requests("/sessions/whoami") }
	admin := func() int64 { return k.Requests("/admin/identities/00000000-0000-0000-0000-000000000000") }
	w0, a0 := whoami(), admin()

	var wg sync.WaitGroup
	statuses := make([]int, 100)
	for i := range statuses {
		wg.Go(func() {
			resp, err := http.Get(svc.URL + "/readyz")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			svc.api.CheckResponse(t, resp)
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusOK {
			t.Fatalf("concurrent /readyz: status = %d, want %d", s, http.StatusOK)
		}
	}
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		svc.expect(t, http.StatusOK, "GET", "/readyz")
		time.Sleep(5 * time.Millisecond)
	}
	// 100 at once and 3s of calls one after another: at most one probe per 2s.
	if w, a := whoami()-w0, admin()-a0; w > 4 || a > 4 || w < 1 || a < 1 {
		t.Errorf("Kratos saw %d whoami and %d admin calls from /readyz, want 1 to 4 each", w, a)
	}
}

// TestE2EClientsNoRedirects points ORY_SDK_URL at Kratos's admin port, which
// redirects /sessions/whoami to /admin/sessions/whoami. The service must not follow
// (the token would go wherever the redirect says): 503, never 200 or 401, and the
// log names the Location but not the token.
func TestE2EClientsNoRedirects(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	u := k.Register(t, k.NewEmail(), password)
	svc := startService(t, k, map[string]string{"ORY_SDK_URL": k.AdminURL(), "SESSION_CACHE_TTL": "0"})

	for _, h := range [][]string{bearer(u.SessionToken), {"X-Session-Token", u.SessionToken}} {
		svc.expect(t, http.StatusServiceUnavailable, "GET", "/api/resource", h...)
	}
	if n := k.Requests("/admin/sessions/whoami", http.StatusOK); n != 0 {
		t.Errorf("Kratos answered %d whoami calls at the redirect target: the redirect was followed", n)
	}
	if n := k.Requests("/admin/sessions/whoami", http.StatusTemporaryRedirect); n != 2 {
		t.Errorf("Kratos redirected %d whoami calls, want 2 (the test checks nothing otherwise)", n)
	}
	logs := svc.Logs.String()
	if !strings.Contains(logs, "/admin/sessions/whoami") {
		t.Errorf("the service log does not name the redirect's Location:\n%s", logs)
	}
	if strings.Contains(logs, u.SessionToken) {
		t.Error("the service log contains the session token")
	}
}
