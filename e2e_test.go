//go:build e2e

package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

// The end-to-end tests run the service through run, against a real Kratos that they
// start (make e2e builds it), and check every response against openapi.yaml.

const password = "correct-horse-battery-staple-42"

// startService runs the service against k with env on a free port until the test
// ends, at debug level, with a short Ory timeout.
func startService(t *testing.T, k *kratostest.Kratos, env map[string]string) *service {
	t.Helper()
	vars := map[string]string{
		"ORY_SDK_URL":   k.PublicURL(),
		"ORY_ADMIN_URL": k.AdminURL(),
		"ORY_TIMEOUT":   "2s",
		"LOG_LEVEL":     "debug",
	}
	maps.Copy(vars, env)
	return startRun(t, vars)
}

type resourceBody struct {
	IdentityID string `json:"identity_id"`
	SessionID  string `json:"session_id"`
	AAL        string `json:"aal"`
}

type problemBody struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
}

func TestE2ESessions(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, nil)
	alice := k.Register(t, k.NewEmail(), password)

	t.Run("token as bearer", func(t *testing.T) {
		r := apitest.Decode[resourceBody](t, svc.expect(t, 200, "GET", "/api/resource", bearer(alice.SessionToken)...))
		if r.IdentityID != alice.IdentityID || r.SessionID != alice.SessionID || r.AAL != "aal1" {
			t.Errorf("resource = %+v, want identity %s session %s aal1", r, alice.IdentityID, alice.SessionID)
		}
	})
	t.Run("X-Session-Token", func(t *testing.T) {
		svc.expect(t, 200, "GET", "/api/resource", "X-Session-Token", alice.SessionToken)
	})
	t.Run("cookie from a browser login", func(t *testing.T) {
		email := k.NewEmail()
		k.Register(t, email, password)
		cookie := k.BrowserLogin(t, email, password)
		if !strings.Contains(cookie, "ory_kratos_session=") {
			t.Fatalf("browser login cookie = %q, want ory_kratos_session", cookie)
		}
		// Other cookies of the application ride along and must not disturb the check.
		svc.expect(t, 200, "GET", "/api/resource", "Cookie", "theme=dark; "+cookie+"; _ga=GA1.2")
	})
	t.Run("token beats a bad cookie", func(t *testing.T) {
		svc.expect(t, 200, "GET", "/api/resource", append(bearer(alice.SessionToken), "Cookie", "ory_kratos_session=forged")...)
	})
	refused := func(t *testing.T, h []string) {
		t.Helper()
		_, body, hdr := svc.call(t, "GET", "/api/resource", h...)
		p := apitest.Decode[problemBody](t, body)
		if p.Status != 401 || p.Code != "unauthorized" || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("headers %q: problem = %+v, WWW-Authenticate %q; want 401 unauthorized", h, p, hdr.Get("WWW-Authenticate"))
		}
	}
	t.Run("refused without Ory", func(t *testing.T) {
		before := oryChecks(t, svc)
		for _, h := range [][]string{
			nil,
			bearer("ory_apikey_notasession"),
			bearer("ory_pat_notasession"),
			{"Authorization", "Basic dXNlcjpwYXNz"},
		} {
			refused(t, h)
		}
		if after := oryChecks(t, svc); after != before {
			t.Errorf("session checks sent to Ory = %v, want none", after-before)
		}
	})
	t.Run("refused by Ory", func(t *testing.T) {
		before := oryChecks(t, svc)
		for _, h := range [][]string{
			{"Cookie", "ory_kratos_session=forged"},
			bearer("ory_st_forgedforgedforgedforgedforged"),
		} {
			refused(t, h)
		}
		if after := oryChecks(t, svc); after != before+2 {
			t.Errorf("session checks sent to Ory = %v, want 2", after-before)
		}
	})
	t.Run("me", func(t *testing.T) {
		me := apitest.Decode[map[string]any](t, svc.expect(t, 200, "GET", "/api/me", bearer(alice.SessionToken)...))
		if me["id"] != alice.IdentityID {
			t.Errorf("me.id = %v, want %s", me["id"], alice.IdentityID)
		}
		if _, ok := me["credentials"]; ok {
			t.Error("me exposes credentials")
		}
	})
	t.Run("my sessions", func(t *testing.T) {
		second := k.Login(t, emailOf(t, k, alice), password)
		list := apitest.Decode[struct {
			Sessions []struct {
				ID      string `json:"id"`
				Current bool   `json:"current"`
			} `json:"sessions"`
		}](t, svc.expect(t, 200, "GET", "/api/me/sessions", bearer(alice.SessionToken)...))
		seen := map[string]bool{}
		for _, s := range list.Sessions {
			seen[s.ID] = s.Current
		}
		if cur, ok := seen[alice.SessionID]; !ok || !cur {
			t.Errorf("sessions %v: want %s listed as current", seen, alice.SessionID)
		}
		if cur, ok := seen[second.SessionID]; !ok || cur {
			t.Errorf("sessions %v: want %s listed, not current", seen, second.SessionID)
		}
	})
}

// oryChecks is the number of session checks the service has sent to Ory, from its
// metrics.
func oryChecks(t *testing.T, svc *service) float64 {
	t.Helper()
	var n float64
	for line := range strings.SplitSeq(string(svc.expect(t, 200, "GET", "/metrics")), "\n") {
		if name, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "ory_session_checks_seconds_count{") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			n += f
		}
	}
	return n
}

// emailOf reads the identity's email through the Admin API.
func emailOf(t *testing.T, k *kratostest.Kratos, r oryflow.Result) string {
	t.Helper()
	traits, _ := k.Identity(t, r.IdentityID)["traits"].(map[string]any)
	email, _ := traits["email"].(string)
	if email == "" {
		t.Fatalf("identity %s has no email", r.IdentityID)
	}
	return email
}

func TestE2ERevocation(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	cached := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "1h"})
	uncached := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "0"})

	email := k.NewEmail()
	a1 := k.Register(t, email, password)
	a2 := k.Login(t, email, password)
	a3 := k.Login(t, email, password)
	bob := k.Register(t, k.NewEmail(), password)
	for _, tok := range []string{a1.SessionToken, a2.SessionToken, a3.SessionToken, bob.SessionToken} {
		cached.expect(t, 200, "GET", "/api/resource", bearer(tok)...) // now cached for an hour
	}

	t.Run("another identity's session is 404 and survives", func(t *testing.T) {
		p := apitest.Decode[problemBody](t, cached.expect(t, 404, "DELETE", "/api/me/sessions/"+a2.SessionID, bearer(bob.SessionToken)...))
		if p.Code != "not_found" {
			t.Errorf("code = %q, want not_found", p.Code)
		}
		uncached.expect(t, 200, "GET", "/api/resource", bearer(a2.SessionToken)...)
	})
	t.Run("unknown and invalid ids", func(t *testing.T) {
		cached.expect(t, 404, "DELETE", "/api/me/sessions/00000000-0000-4000-8000-000000000000", bearer(a1.SessionToken)...)
		cached.expect(t, 400, "DELETE", "/api/me/sessions/not-a-uuid", bearer(a1.SessionToken)...)
	})
	t.Run("own session revoked is refused on the next request, even cached", func(t *testing.T) {
		cached.expect(t, 204, "DELETE", "/api/me/sessions/"+a2.SessionID, bearer(a1.SessionToken)...)
		cached.expect(t, 401, "GET", "/api/resource", bearer(a2.SessionToken)...)
		uncached.expect(t, 401, "GET", "/api/resource", bearer(a2.SessionToken)...)
		cached.expect(t, 200, "GET", "/api/resource", bearer(a1.SessionToken)...)
	})
	t.Run("sign out everywhere else", func(t *testing.T) {
		a4 := k.Login(t, email, password)
		cached.expect(t, 200, "GET", "/api/resource", bearer(a4.SessionToken)...)
		out := apitest.Decode[struct {
			Revoked []string `json:"revoked"`
		}](t, cached.expect(t, 200, "DELETE", "/api/me/sessions", bearer(a1.SessionToken)...))
		got := strings.Join(out.Revoked, ",")
		if !strings.Contains(got, a3.SessionID) || !strings.Contains(got, a4.SessionID) || strings.Contains(got, a1.SessionID) {
			t.Errorf("revoked = %v, want %s and %s but not the current %s", out.Revoked, a3.SessionID, a4.SessionID, a1.SessionID)
		}
		for _, tok := range []string{a3.SessionToken, a4.SessionToken} {
			cached.expect(t, 401, "GET", "/api/resource", bearer(tok)...)
		}
		cached.expect(t, 200, "GET", "/api/resource", bearer(a1.SessionToken)...)
		cached.expect(t, 200, "GET", "/api/resource", bearer(bob.SessionToken)...)
	})
	t.Run("revoked in Ory directly: seen at once without the cache", func(t *testing.T) {
		c := k.Register(t, k.NewEmail(), password)
		uncached.expect(t, 200, "GET", "/api/resource", bearer(c.SessionToken)...)
		k.RevokeSession(t, c.SessionID)
		uncached.expect(t, 401, "GET", "/api/resource", bearer(c.SessionToken)...)
	})
}

func TestE2EAdmin(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, nil)
	user := k.Register(t, k.NewEmail(), password)
	adminEmail := k.NewEmail()
	admin := k.Register(t, adminEmail, password)
	k.Register(t, k.NewEmail(), password)

	p := apitest.Decode[problemBody](t, svc.expect(t, 403, "GET", "/api/admin/identities", bearer(user.SessionToken)...))
	if p.Code != "forbidden" {
		t.Errorf("code = %q, want forbidden", p.Code)
	}
	svc.expect(t, 401, "GET", "/api/admin/identities")

	// The role lives in metadata_public, which only the Admin API can write. A new
	// session carries it (a cached one keeps its old view until the cache expires).
	k.SetMetadataPublic(t, admin.IdentityID, map[string]any{"role": "admin"})
	admin = k.Login(t, adminEmail, password)

	type page struct {
		Identities []struct {
			ID string `json:"id"`
		} `json:"identities"`
		NextPageToken string `json:"next_page_token"`
	}
	seen := map[string]bool{}
	path := "/api/admin/identities?page_size=1"
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		pg := apitest.Decode[page](t, svc.expect(t, 200, "GET", path, bearer(admin.SessionToken)...))
		if len(pg.Identities) > 1 {
			t.Fatalf("page_size=1 gave %d identities", len(pg.Identities))
		}
		for _, i := range pg.Identities {
			seen[i.ID] = true
		}
		if pg.NextPageToken == "" {
			break
		}
		path = "/api/admin/identities?page_size=1&page_token=" + pg.NextPageToken
	}
	if len(seen) != 3 || !seen[user.IdentityID] || !seen[admin.IdentityID] {
		t.Errorf("identities over all pages = %v, want the 3 registered", seen)
	}
	for _, q := range []string{"page_size=0", "page_size=501", "page_size=abc", "page_token=%00"} {
		svc.expect(t, 400, "GET", "/api/admin/identities?"+q, bearer(admin.SessionToken)...)
	}
	svc.expect(t, 400, "GET", "/api/admin/identities?page_token=bogus", bearer(admin.SessionToken)...)
}

func TestE2EOryOutage(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithSQLite(), kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "0", "ORY_TIMEOUT": "1s"})
	u := k.Register(t, k.NewEmail(), password)
	svc.expect(t, 200, "GET", "/api/resource", bearer(u.SessionToken)...)
	svc.expect(t, 200, "GET", "/readyz")

	k.Stop()
	start := time.Now()
	p := apitest.Decode[problemBody](t, svc.expect(t, 503, "GET", "/api/resource", bearer(u.SessionToken)...))
	if took := time.Since(start); took > time.Second {
		t.Errorf("503 took %s with Kratos down, want under 1s", took)
	}
	if p.Code != "ory_unavailable" {
		t.Errorf("code = %q, want ory_unavailable", p.Code)
	}
	svc.expect(t, 503, "GET", "/api/me", bearer(u.SessionToken)...)
	ready := apitest.Decode[map[string]any](t, svc.waitReadyz(t, 503))
	if checks, _ := ready["checks"].(map[string]any); checks["ory_public"] != "unavailable" || checks["ory_admin"] != "unavailable" {
		t.Errorf("readyz checks = %v, want both unavailable", ready["checks"])
	}
	svc.expect(t, 200, "GET", "/healthz")

	k.Restart()
	svc.waitReadyz(t, 200)
	svc.expect(t, 200, "GET", "/api/resource", bearer(u.SessionToken)...)
}

func TestE2ESessionJWT(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{
		"ORY_JWKS_URL":     "file://" + k.PublicJWKSPath(),
		"ORY_JWT_TEMPLATE": "jwt_example",
		"ORY_JWT_ISSUER":   k.PublicURL() + "/",
	})
	u := k.Register(t, k.NewEmail(), password)
	s, err := k.Whoami(oryflow.Credentials{SessionToken: u.SessionToken}, "jwt_example")
	if err != nil || s.Tokenized == "" {
		t.Fatalf("whoami tokenize_as: %v (token %q)", err, s.Tokenized)
	}
	r := apitest.Decode[resourceBody](t, svc.expect(t, 200, "GET", "/api/resource", bearer(s.Tokenized)...))
	if r.IdentityID != u.IdentityID || r.SessionID != u.SessionID {
		t.Errorf("resource = %+v, want identity %s session %s", r, u.IdentityID, u.SessionID)
	}
	// Verified locally: Kratos down changes nothing for JWTs, and ory_st_ tokens
	// still go to Kratos (and so fail closed).
	k.Stop()
	svc.expect(t, 200, "GET", "/api/resource", bearer(s.Tokenized)...)
	svc.expect(t, 503, "GET", "/api/resource", bearer(u.SessionToken)...)
	tampered := s.Tokenized[:len(s.Tokenized)-4] + "AAAA"
	svc.expect(t, 401, "GET", "/api/resource", bearer(tampered)...)
}

// TestE2ENoSecretsInLogs runs last over the logs of a busy service: no token,
// cookie value or API key may appear, even at debug level.
func TestE2ENoSecretsInLogs(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, nil)
	email := k.NewEmail()
	u := k.Register(t, email, password)
	cookie := k.BrowserLogin(t, email, password)
	svc.expect(t, 200, "GET", "/api/resource", bearer(u.SessionToken)...)
	svc.expect(t, 200, "GET", "/api/resource", "Cookie", cookie)
	svc.expect(t, 401, "GET", "/api/resource", bearer("ory_st_forgedforgedforged")...)
	svc.expect(t, 200, "GET", "/api/resource", "X-Session-Token", u.SessionToken)
	svc.expect(t, 200, "GET", "/api/me/sessions", bearer(u.SessionToken)...)
	metrics := string(svc.expect(t, 200, "GET", "/metrics"))
	_, cookieValue, _ := strings.Cut(cookie, "=")
	for _, secret := range []string{u.SessionToken, cookieValue, "ory_st_forgedforgedforged"} {
		if strings.Contains(svc.Logs.String(), secret) {
			t.Errorf("logs contain a secret %.12s...", secret)
		}
		if strings.Contains(metrics, secret) {
			t.Errorf("metrics contain a secret %.12s...", secret)
		}
	}
	if !strings.Contains(svc.Logs.String(), `"route":"/api/resource"`) {
		t.Errorf("logs miss request lines:\n%s", svc.Logs)
	}
}

// TestE2EOryRestartUnderLoad keeps concurrent traffic with valid and invalid
// credentials going while Kratos (SQLite, so sessions survive) stops and restarts:
// a valid credential gets only 200 or 503 (never 401), an invalid one only 401 or
// 503 (never 200), and everything answers normally once Kratos is back. A second
// service with the session cache shows the Admin API refusing connections while
// cached sessions still pass.
func TestE2EOryRestartUnderLoad(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithSQLite(), kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "0", "ORY_TIMEOUT": "1s"})
	cached := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "1h", "ORY_TIMEOUT": "1s"})

	type cred struct {
		name   string
		header []string
		valid  bool
	}
	var creds []cred
	for i := range 3 {
		u := k.Register(t, k.NewEmail(), password)
		creds = append(creds, cred{fmt.Sprintf("token %d", i), bearer(u.SessionToken), true})
	}
	email := k.NewEmail()
	k.Register(t, email, password)
	creds = append(creds,
		cred{"cookie", []string{"Cookie", k.BrowserLogin(t, email, password)}, true},
		cred{"forged token", bearer("ory_st_forgedforgedforgedforgedforgedfo"), false},
		cred{"forged cookie", []string{"Cookie", "ory_kratos_session=MTcwforgedforged"}, false},
	)
	// expectAll checks every credential answers as it should, on both services.
	expectAll := func() {
		t.Helper()
		for _, c := range creds {
			want := 401
			if c.valid {
				want = 200
			}
			svc.expect(t, want, "GET", "/api/resource", c.header...)
			cached.expect(t, want, "GET", "/api/resource", c.header...)
		}
	}
	expectAll()

	type tally struct {
		mu     sync.Mutex
		counts map[string]int // "valid 200", "invalid 503", ...
		wrong  []string
	}
	tl := &tally{counts: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 10 * time.Second}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := creds[i%len(creds)]
				req, _ := http.NewRequest("GET", svc.URL+"/api/resource", nil)
				req.Header.Set(c.header[0], c.header[1])
				resp, err := hc.Do(req)
				kind := map[bool]string{true: "valid", false: "invalid"}[c.valid]
				tl.mu.Lock()
				switch {
				case err != nil:
					tl.wrong = append(tl.wrong, fmt.Sprintf("%s: %v", c.name, err))
				case resp.StatusCode == 503 || (c.valid && resp.StatusCode == 200) || (!c.valid && resp.StatusCode == 401):
					tl.counts[fmt.Sprintf("%s %d", kind, resp.StatusCode)]++
				default:
					tl.wrong = append(tl.wrong, fmt.Sprintf("%s: %d", c.name, resp.StatusCode))
				}
				tl.mu.Unlock()
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}

	time.Sleep(time.Second)
	k.Stop()
	time.Sleep(1500 * time.Millisecond)
	// Kratos is down: cached sessions pass, the Admin API refuses connections (503).
	cached.expect(t, 200, "GET", "/api/resource", creds[0].header...)
	cached.expect(t, 503, "GET", "/api/me", creds[0].header...)
	cached.expect(t, 503, "GET", "/api/me/sessions", creds[3].header...)
	cached.expect(t, 401, "GET", "/api/resource", creds[4].header...) // refusal cached, never 200
	k.Restart()
	time.Sleep(1500 * time.Millisecond)
	k.Stop()
	k.Restart()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	t.Logf("answers under restart: %v", tl.counts)
	if len(tl.wrong) > 0 {
		t.Errorf("%d wrong answers (first %q)", len(tl.wrong), tl.wrong[0])
	}
	if tl.counts["valid 503"] == 0 || tl.counts["valid 200"] == 0 || tl.counts["invalid 401"] == 0 {
		t.Errorf("answers %v: want 200s, 401s and the outage's 503s", tl.counts)
	}
	// Recovered: every credential answers as before, on both services.
	expectAll()
	svc.expect(t, 200, "GET", "/api/me", creds[0].header...)
	cached.expect(t, 200, "GET", "/api/me", creds[0].header...)
	svc.expect(t, 200, "GET", "/readyz")
}

// TestE2EOryHangs freezes Kratos: connections are accepted but never answered. Every
// check must end with 503 within ORY_TIMEOUT, never 401, and recover on thaw.
func TestE2EOryHangs(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	svc := startService(t, k, map[string]string{"SESSION_CACHE_TTL": "0", "ORY_TIMEOUT": "500ms"})
	u := k.Register(t, k.NewEmail(), password)
	svc.expect(t, 200, "GET", "/api/resource", bearer(u.SessionToken)...)

	k.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			k.Thaw()
		}
	}()
	for _, path := range []string{"/api/resource", "/api/me"} {
		start := time.Now()
		p := apitest.Decode[problemBody](t, svc.expect(t, 503, "GET", path, bearer(u.SessionToken)...))
		if took := time.Since(start); took < 400*time.Millisecond || took > 2*time.Second {
			t.Errorf("%s with Kratos hung answered after %s, want about ORY_TIMEOUT (500ms)", path, took)
		}
		if p.Code != "ory_unavailable" {
			t.Errorf("%s: code = %q, want ory_unavailable", path, p.Code)
		}
	}
	svc.expect(t, 503, "GET", "/readyz")
	svc.expect(t, 200, "GET", "/healthz")

	k.Thaw()
	thawed = true
	svc.expect(t, 200, "GET", "/api/resource", bearer(u.SessionToken)...)
	svc.expect(t, 200, "GET", "/readyz")
}

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

// otherTemplate adds the tokenizer template jwt_other to a test Kratos: the same
// keys as jwt_example, and a claims mapper that names its own template in aud, as
// kratos/tokenizer.claims.jsonnet does for jwt_example. Kratos merges a JSON
// value of this variable over kratos.yml's templates.
func otherTemplate(t *testing.T) kratostest.Option {
	t.Helper()
	mapper := "local c = std.extVar('claims'); { claims: c { aud: ['jwt_other'] } }"
	templates, err := json.Marshal(map[string]any{"jwt_other": map[string]string{
		"jwks_url":          "file://dev-only.jwks.json",
		"claims_mapper_url": "base64://" + base64.StdEncoding.EncodeToString([]byte(mapper)),
		"ttl":               "10m",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return kratostest.WithEnv("SESSION_WHOAMI_TOKENIZER_TEMPLATES=" + string(templates))
}

// jwtOf returns the session JWT of template for the session token, and its claims.
func jwtOf(t *testing.T, k *kratostest.Kratos, sessionToken, template string) (string, map[string]any) {
	t.Helper()
	s, err := k.Whoami(oryflow.Credentials{SessionToken: sessionToken}, template)
	if err != nil || s.Tokenized == "" {
		t.Fatalf("whoami tokenize_as=%s: %v (token %q)", template, err, s.Tokenized)
	}
	return s.Tokenized, k.VerifyJWT(t, s.Tokenized)
}

// TestE2EJWTTemplateBinding runs the service with only ORY_JWKS_URL and
// ORY_JWT_TEMPLATE set: a JWT of that template from this Kratos is accepted; one
// signed by the same keys for another template, or by another Kratos sharing the
// keys (another iss), is refused with 401.
func TestE2EJWTTemplateBinding(t *testing.T) {
	k := kratostest.Start(t, otherTemplate(t))
	svc := startService(t, k, map[string]string{
		"ORY_JWKS_URL":     "file://" + k.PublicJWKSPath(),
		"ORY_JWT_TEMPLATE": kratostest.TokenizerTemplate,
	})
	u := k.Register(t, k.NewEmail(), password)

	mine, claims := jwtOf(t, k, u.SessionToken, kratostest.TokenizerTemplate)
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != kratostest.TokenizerTemplate {
		t.Errorf("aud of a %s token = %v, want [%s]", kratostest.TokenizerTemplate, claims["aud"], kratostest.TokenizerTemplate)
	}
	if iss, _ := claims["iss"].(string); strings.TrimSuffix(iss, "/") != k.PublicURL() {
		t.Errorf("iss = %v, want %s/", claims["iss"], k.PublicURL())
	}
	r := apitest.Decode[resourceBody](t, svc.expect(t, 200, "GET", "/api/resource", bearer(mine)...))
	if r.IdentityID != u.IdentityID || r.SessionID != u.SessionID {
		t.Errorf("resource = %+v, want identity %s session %s", r, u.IdentityID, u.SessionID)
	}

	other, _ := jwtOf(t, k, u.SessionToken, "jwt_other")
	svc.expect(t, 401, "GET", "/api/resource", bearer(other)...)

	// Another Kratos with the same keys (a staging copy, say): its tokens name
	// itself as iss.
	k2 := kratostest.Start(t)
	u2 := k2.Register(t, k2.NewEmail(), password)
	foreign, _ := jwtOf(t, k2, u2.SessionToken, kratostest.TokenizerTemplate)
	svc.expect(t, 401, "GET", "/api/resource", bearer(foreign)...)

	// The refusals were the claims, not the keys: the service still takes its own.
	svc.expect(t, 200, "GET", "/api/resource", bearer(mine)...)
}

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
