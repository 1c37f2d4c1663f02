package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/servicetest"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

func TestRun(t *testing.T) {
	fake := orytest.New(t, orytest.WithAPIKey(unitKey))
	identity := fake.AddIdentity("run@example.com")
	tok := fake.AddSession(identity)
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL":       fake.URL,
		"ORY_ADMIN_URL":     fake.URL,
		"ORY_API_KEY":       unitKey,
		"SESSION_CACHE_TTL": "30s",
		"ORY_TIMEOUT":       "2s",
		"LOG_LEVEL":         "debug",
		"SHUTDOWN_TIMEOUT":  "5s",
	})

	for range 2 {
		body := svc.expect(t, http.StatusOK, http.MethodGet, "/api/resource", bearer(tok)...)
		if !strings.Contains(string(body), identity) {
			t.Fatalf("GET /api/resource: body %s, want identity %s", body, identity)
		}
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1 (second request cached)", n)
	}

	if err := svc.Stop(10 * time.Second); err != nil {
		t.Errorf("run() = %v, want nil after a graceful shutdown", err)
	}

	out := svc.Logs.String()
	for _, secret := range []string{tok, unitKey} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain the secret %.12s...", secret)
		}
	}
	for _, want := range []string{`"msg":"listening"`, `"msg":"request"`, `"msg":"stopped"`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(t.Context(), envOf(map[string]string{"PORT": "nope"}), &out)
	if err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Errorf("run() = %v, want an error naming PORT", err)
	}
	if out.Len() != 0 {
		t.Errorf("run wrote %q before failing", out.String())
	}
}

type callResult struct {
	status int
	err    error
}

// slowCalls starts one GET /api/resource per token, each on its own connection.
func (s *service) slowCalls(tokens []string) chan callResult {
	out := make(chan callResult, len(tokens))
	for _, tok := range tokens {
		go func() {
			hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/resource", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := hc.Do(req)
			if err != nil {
				out <- callResult{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out <- callResult{status: resp.StatusCode}
		}()
	}
	return out
}

// waitInFlight waits until the fake has received n whoami calls.
func waitInFlight(t *testing.T, fake *orytest.Server, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for fake.WhoamiCalls() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached Ory", fake.WhoamiCalls(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunGracefulShutdownUnderLoad cancels run while slow requests are in flight:
// they complete with 200, new connections are refused once shutdown starts, and
// run returns nil within SHUTDOWN_TIMEOUT.
func TestRunGracefulShutdownUnderLoad(t *testing.T) {
	t.Parallel()
	const n, oryDelay, shutdownWait = 8, 1500 * time.Millisecond, 5 * time.Second
	fake := orytest.New(t, orytest.WithAPIKey(unitKey))
	id := fake.AddIdentity("slow@example.com")
	tokens := make([]string, n) // distinct, so that no check is coalesced with another
	for i := range tokens {
		tokens[i] = fake.AddSession(id)
	}
	fake.SetFault(orytest.OnWhoami(orytest.Delay(oryDelay)))
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL": fake.URL, "ORY_ADMIN_URL": fake.URL, "ORY_API_KEY": unitKey,
		"SESSION_CACHE_TTL": "0", "ORY_TIMEOUT": "5s", "SHUTDOWN_TIMEOUT": shutdownWait.String(),
	})

	results := svc.slowCalls(tokens)
	waitInFlight(t, fake, n)
	start := time.Now()
	svc.Cancel()

	// The listener closes at once; the in-flight requests are still waiting on Ory.
	refusedAfter := time.Duration(-1)
	for time.Since(start) < oryDelay/2 {
		c, err := net.DialTimeout("tcp", svc.Addr, 100*time.Millisecond)
		if err != nil {
			refusedAfter = time.Since(start)
			break
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	if refusedAfter < 0 {
		t.Errorf("new connections still accepted %s after shutdown started", oryDelay/2)
	}
	if len(results) != 0 {
		t.Fatal("in-flight requests ended before the Ory delay: the test proves nothing")
	}

	for range n {
		r := <-results
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("in-flight request: status %d, error %v; want 200", r.status, r.err)
		}
	}
	if err := svc.Wait(shutdownWait + 2*time.Second); err != nil {
		t.Errorf("run() = %v, want nil within SHUTDOWN_TIMEOUT", err)
	} else if took := time.Since(start); took > shutdownWait {
		t.Errorf("run returned %s after cancel, past SHUTDOWN_TIMEOUT %s", took, shutdownWait)
	}
	if _, err := svc.Client.Get(svc.URL + "/healthz"); err == nil {
		t.Error("the service still answers after run returned")
	}
	t.Logf("connections refused %s after cancel; run returned after %s", refusedAfter, time.Since(start))
	if !strings.Contains(svc.Logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", svc.Logs)
	}
}

// TestRunShutdownDeadline: requests slower than SHUTDOWN_TIMEOUT make run return an
// error at the deadline (and drop them) instead of hanging.
func TestRunShutdownDeadline(t *testing.T) {
	t.Parallel()
	const wait = 200 * time.Millisecond
	fake := orytest.New(t)
	id := fake.AddIdentity("stuck@example.com")
	tokens := []string{fake.AddSession(id), fake.AddSession(id)}
	fake.SetFault(orytest.OnWhoami(orytest.Delay(2 * time.Second)))
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL": fake.URL, "ORY_ADMIN_URL": fake.URL,
		"SESSION_CACHE_TTL": "0", "ORY_TIMEOUT": "10s", "SHUTDOWN_TIMEOUT": wait.String(),
	})
	results := svc.slowCalls(tokens)
	waitInFlight(t, fake, int64(len(tokens)))
	start := time.Now()
	err := svc.Stop(3 * time.Second)
	if errors.Is(err, servicetest.ErrStillRunning) {
		t.Fatal("run hangs past SHUTDOWN_TIMEOUT")
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shutdown") {
		t.Errorf("run() = %v, want a shutdown deadline error", err)
	}
	if took := time.Since(start); took > wait+time.Second {
		t.Errorf("run returned %s after cancel, want about %s", took, wait)
	}
	// The dropped requests end now, not when Ory answers.
	for range tokens {
		select {
		case r := <-results:
			if r.err == nil && r.status == http.StatusOK {
				t.Error("a request past the deadline still got 200")
			}
		case <-time.After(time.Second):
			t.Fatal("in-flight request still open after run returned")
		}
	}
}

// TestRunNoSecretsAnywhere runs every kind of request, error and Ory fault through
// run at debug level with an API key configured: no token, cookie value or the key
// may appear in any log line, response header or body, or the metrics, and the config
// dump masks the key. Under each fault, every credential form (Bearer,
// X-Session-Token, cookie, and the API key sent as a session token) gets the status
// the fault calls for, and a hung Ory answers 503 after ORY_TIMEOUT, not before and
// not much later: run must hand the timeout to the session check and the Admin API.
func TestRunNoSecretsAnywhere(t *testing.T) {
	t.Parallel()
	const oryTimeout = 400 * time.Millisecond
	fake := orytest.New(t, orytest.WithAPIKey(unitKey))
	adminID := fake.AddIdentity("admin@example.com")
	fake.SetRole(adminID, "admin")
	adminTok := fake.AddSession(adminID)
	spare := fake.AddSession(adminID)
	userID := fake.AddIdentity("user@example.com")
	userTok := fake.AddSession(userID)
	userSpare := fake.AddSession(userID)
	const (
		forged       = "ory_st_forgedsecretforgedsecretforgedse"
		forgedCookie = "MTcwforgedcookievalueforgedcookievalue"
		appCookie    = "appcookiesecretvalue1234567890"
		pat          = "ory_pat_clientsentitsownpat0123456789"
	)
	secrets := []string{unitKey, adminTok, spare, userTok, userSpare, forged, forgedCookie, appCookie, pat}
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL": fake.URL, "ORY_ADMIN_URL": fake.URL, "ORY_API_KEY": unitKey,
		"LOG_LEVEL": "debug", "ORY_TIMEOUT": oryTimeout.String(), "SESSION_CACHE_TTL": "1m",
		"CORS_ALLOWED_ORIGINS": "https://app.example.com", "SHUTDOWN_TIMEOUT": "2s",
	})

	var mu sync.Mutex
	var seen strings.Builder // every response: status line, headers, body
	record := func(status int, h http.Header, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&seen, "%d\n", status) // not the request: it holds the secrets
		_ = h.Write(&seen)
		seen.Write(body)
	}
	call := func(t testing.TB, method, path string, headers ...string) int {
		t.Helper()
		status, body, h := svc.call(t, method, path, headers...)
		record(status, h, body)
		return status
	}
	expect := func(t testing.TB, want int, method, path string, headers ...string) {
		t.Helper()
		if got := call(t, method, path, headers...); got != want {
			t.Errorf("%s %s: status = %d, want %d", method, path, got, want)
		}
	}
	cookie := func(tok string) []string {
		return []string{"Cookie", "app=" + appCookie + "; ory_kratos_session=" + tok}
	}

	// Every route and credential form.
	expect(t, 200, "GET", "/healthz")
	expect(t, 200, "GET", "/readyz")
	expect(t, 200, "GET", "/api/resource", bearer(userTok)...)
	expect(t, 200, "GET", "/api/resource", "X-Session-Token", adminTok)
	expect(t, 200, "GET", "/api/resource", cookie(userTok)...)
	expect(t, 200, "GET", "/api/me", bearer(userTok)...)
	expect(t, 200, "GET", "/api/me/sessions?page_size=1", bearer(userTok)...)
	expect(t, 200, "GET", "/api/admin/identities", bearer(adminTok)...)
	expect(t, 403, "GET", "/api/admin/identities", bearer(userTok)...)
	expect(t, 204, "DELETE", "/api/me/sessions/"+fake.SessionID(userSpare), bearer(userTok)...)
	expect(t, 200, "DELETE", "/api/me/sessions", bearer(adminTok)...)
	expect(t, 401, "GET", "/api/resource", bearer(spare)...) // just revoked
	// A preflight is not in openapi.yaml (browsers send it, not API clients).
	preflight, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, svc.URL+"/api/resource", nil)
	preflight.Header.Set("Origin", "https://app.example.com")
	preflight.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err := svc.Client.Do(preflight); err != nil {
		t.Errorf("preflight: %v", err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		record(resp.StatusCode, resp.Header, body)
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("preflight: status = %d, want %d", resp.StatusCode, http.StatusNoContent)
		}
	}
	// Refusals and errors.
	expect(t, 401, "GET", "/api/resource", bearer(forged)...)
	expect(t, 401, "GET", "/api/resource", "Cookie", "ory_kratos_session="+forgedCookie)
	expect(t, 401, "GET", "/api/resource", bearer(unitKey)...)
	expect(t, 401, "GET", "/api/resource", "X-Session-Token", unitKey)
	expect(t, 401, "GET", "/api/resource", "X-Session-Token", pat)
	expect(t, 401, "GET", "/api/resource", "Authorization", "Basic "+forged)
	expect(t, 401, "GET", "/api/resource", "X-Session-Token", forged+"\u00e9")
	expect(t, 400, "GET", "/api/me/sessions?page_token="+forged, bearer(userTok)...)
	expect(t, 404, "GET", "/api/nope", bearer(userTok)...)
	expect(t, 405, "POST", "/api/resource", bearer(userTok)...)

	// Ory faults, on the session check and on the Admin API. Each credential is a
	// session of a new identity, so neither the session cache (on here) nor /api/me's
	// identity cache answers anything the fault should.
	faults := []struct {
		name    string
		fault   orytest.Fault
		session int  // status of GET /api/resource: the session check only
		admin   int  // status of GET /api/me: the session check, then the Admin API
		hangs   bool // Ory never answers: the 503 comes after ORY_TIMEOUT
	}{
		{"whoami 500", orytest.OnWhoami(orytest.Status(500)), 503, 503, false},
		{"whoami hangs", orytest.OnWhoami(fake.Hang()), 503, 503, true},
		{"whoami 429", orytest.OnWhoami(orytest.RateLimited("")), 429, 429, false},
		{"whoami malformed", orytest.OnWhoami(orytest.Malformed()), 503, 503, false},
		{"whoami inactive session", orytest.OnWhoami(orytest.InactiveSession()), 401, 401, false},
		{"admin rejects the key", orytest.OnAdmin(orytest.Status(401)), 200, 503, false},
		{"admin 502", orytest.OnAdmin(orytest.BadGateway()), 200, 503, false},
		{"admin hangs", orytest.OnAdmin(fake.Hang()), 200, 503, true},
	}
	fiveHundreds := 0
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			fake.SetFault(f.fault)
			defer fake.SetFault(nil)
			creds := map[string]func(string) []string{
				"Bearer":          bearer,
				"X-Session-Token": func(tok string) []string { return []string{"X-Session-Token", tok} },
				"cookie":          cookie,
			}
			for form, cred := range creds {
				fresh := fake.AddSession(fake.AddIdentity("fault@example.com"))
				freshAdmin := fake.AddSession(adminID) // the admin routes' own Admin API call
				secrets = append(secrets, fresh, freshAdmin)
				for _, r := range []struct {
					path, tok string
					want      int
				}{{"/api/resource", fresh, f.session}, {"/api/me", fresh, f.admin}, {"/api/admin/identities", freshAdmin, f.admin}} {
					start := time.Now()
					got := call(t, "GET", r.path, cred(r.tok)...)
					took := time.Since(start)
					if got != r.want {
						t.Errorf("%s %s: status = %d, want %d", form, r.path, got, r.want)
					}
					if got >= 500 {
						fiveHundreds++
					}
					// Only the calls that reach the hung side wait; the others answer at once.
					waits := f.hangs && got == http.StatusServiceUnavailable
					if waits && (took < oryTimeout || took > oryTimeout+2*time.Second) {
						t.Errorf("%s %s: a hung Ory answered after %s, want about ORY_TIMEOUT (%s)", form, r.path, took, oryTimeout)
					}
				}
			}
			// The API key, sent as a session token, is refused without asking Ory.
			for _, h := range [][]string{bearer(unitKey), {"X-Session-Token", unitKey}, {"X-Session-Token", pat}} {
				expect(t, 401, "GET", "/api/me", h...)
			}
			if got := call(t, "GET", "/api/resource", "Cookie", "ory_kratos_session="+forgedCookie+"x"); got == 200 {
				t.Error("a forged cookie got 200")
			}
			// A rate-limited Ory is up: /readyz stays ready through it.
			ready := http.StatusServiceUnavailable
			if f.session == http.StatusTooManyRequests {
				ready = http.StatusOK
			}
			svc.waitReadyz(t, ready)
		})
	}
	fake.SetFault(nil)

	// Requests net/http refuses before the router, which its ErrorLog may report.
	for _, raw := range []string{
		"GET /api/resource HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + forged + "\x01\r\n\r\n",
		"GET /api/resource HTTP/1.1\r\nHost: x\r\nCookie: ory_kratos_session=" + forgedCookie + "\r\nX-Pad: " + strings.Repeat("p", 70<<10) + "\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + forged + "\r\n\r\n", // a TLS hello on plain HTTP
	} {
		c, err := net.Dial("tcp", svc.Addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(c, raw)
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		mu.Lock()
		seen.WriteString(line)
		mu.Unlock()
	}
	metrics := string(svc.expect(t, 200, "GET", "/metrics"))

	if err := svc.Stop(10 * time.Second); err != nil {
		t.Errorf("run() = %v", err)
	}
	logs := svc.Logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			i := strings.Index(logs, s)
			t.Errorf("a log line contains the secret %.12s...: %q", s, logs[max(0, i-300):i])
		}
		if strings.Contains(seen.String(), s) {
			i := strings.Index(seen.String(), s)
			t.Errorf("a response contains the secret %.12s...: %q", s, seen.String()[max(0, i-300):i])
		}
		if strings.Contains(metrics, s) {
			t.Errorf("the metrics contain the secret %.12s...", s)
		}
	}
	if !strings.Contains(logs, `api_key=ory_apikey_***`) {
		t.Errorf("the config dump does not show the masked key:\n%.600s", logs)
	}
	if n := strings.Count(logs, `"msg":"request"`); n < 30 {
		t.Errorf("%d request lines at debug level, want one per request", n)
	}
	// The 5xx answers were logged (at error level), so the scan above saw them.
	if n := strings.Count(logs, `"level":"ERROR","msg":"request"`); n < fiveHundreds {
		t.Errorf("%d request lines at error level, want at least the %d 5xx answers", n, fiveHundreds)
	}
	if fake.WhoamiCallsWithKey() != 0 {
		t.Error("the API key was sent to whoami")
	}
}

// TestRunOnOryNetwork: the service started with a slug and a custom domain (the
// fake, in Ory Network mode) says so at start, passes Ory Network's
// x-ratelimit-reset on as Retry-After, counts the 429 in its metrics, and stays
// ready while Ory limits it.
func TestRunOnOryNetwork(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t, orytest.WithAPIKey(unitKey), orytest.Network(orytest.NoLimits()))
	tok := fake.AddSession(fake.AddIdentity("net@example.com"))
	svc := startRun(t, map[string]string{
		"ORY_PROJECT_SLUG": "p1",
		"ORY_SDK_URL":      fake.URL,
		"ORY_ADMIN_URL":    fake.URL,
		"ORY_API_KEY":      unitKey,
	})
	if logs := svc.Logs.String(); !strings.Contains(logs, "ory=network slug=p1 ") {
		t.Errorf("the start-up line does not say ory=network slug=p1:\n%.600s", logs)
	}

	fake.SetFault(fake.RateLimited(20))
	status, body, h := svc.call(t, http.MethodGet, "/api/resource", bearer(tok)...)
	if status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want %d; %s", status, http.StatusTooManyRequests, body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 20 || ra > 60 {
		t.Errorf("Retry-After = %q, want 20..60 from x-ratelimit-reset", h.Get("Retry-After"))
	}
	// The first /readyz probe of this service meets the limit on both APIs.
	if ready := string(svc.expect(t, http.StatusOK, http.MethodGet, "/readyz")); strings.Count(ready, "rate_limited") != 2 {
		t.Errorf("/readyz = %s, want both checks rate_limited", ready)
	}
	metrics := string(svc.expect(t, http.StatusOK, http.MethodGet, "/metrics"))
	if !strings.Contains(metrics, `ory_rate_limited_total{api="frontend"}`) || !strings.Contains(metrics, `ory_rate_limited_total{api="admin"}`) {
		t.Errorf("the metrics do not count Ory's 429s by API:\n%s", grepLines(metrics, "ory_rate_limited"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// jwtKeys is a signing key and the JSON of its public key set, standing in for a
// tokenizer template's keys.
type jwtKeys struct {
	key  jwk.Key
	jwks []byte
}

func newJWTKeys(t *testing.T) jwtKeys {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "run-test-1")
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := jwk.PublicSetOf(func() jwk.Set { s := jwk.NewSet(); _ = s.AddKey(key); return s }())
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	return jwtKeys{key: key, jwks: body}
}

// file writes the public key set to a file and returns its file:// URL.
func (k jwtKeys) file(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.public.json")
	if err := os.WriteFile(path, k.jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// token signs the claims of a session JWT as the local Kratos makes them for the
// template jwt_example; edit changes them.
func (k jwtKeys) token(t *testing.T, edit func(b *jwt.Builder) *jwt.Builder) string {
	t.Helper()
	now := time.Now()
	b := jwt.NewBuilder().
		Subject("0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10").
		Issuer(defaultPublicURL+"/").
		Audience([]string{"jwt_example"}).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(time.Minute)).
		Claim("sid", fmt.Sprintf("9f425a8d-7efc-4768-8f23-%012d", now.UnixNano()%1e12)).
		Claim("aal", "aal1")
	if edit != nil {
		b = edit(b)
	}
	claims, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(claims, jwt.WithKey(jwa.ES256(), k.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func (s *service) status(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("GET /api/resource: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunJWTClaims: by default a session JWT must come from Ory's public URL
// (iss), carry the template's name in aud, and be within a few seconds of its
// exp; ORY_JWT_CLOCK_SKEW widens the last.
func TestRunJWTClaims(t *testing.T) {
	t.Parallel()
	keys := newJWTKeys(t)
	expired10s := func(b *jwt.Builder) *jwt.Builder {
		return b.IssuedAt(time.Now().Add(-70 * time.Second)).NotBefore(time.Now().Add(-70 * time.Second)).Expiration(time.Now().Add(-10 * time.Second))
	}
	tests := []struct {
		name string
		env  map[string]string
		edit func(b *jwt.Builder) *jwt.Builder
		want int
	}{
		{"valid", nil, nil, http.StatusOK},
		{"iss without trailing slash", nil, func(b *jwt.Builder) *jwt.Builder { return b.Issuer(defaultPublicURL) }, http.StatusOK},
		{"expired 10s ago", nil, expired10s, http.StatusUnauthorized},
		{"expired 10s ago, skew 30s", map[string]string{"ORY_JWT_CLOCK_SKEW": "30s"}, expired10s, http.StatusOK},
		{"other issuer", nil, func(b *jwt.Builder) *jwt.Builder { return b.Issuer("http://127.0.0.1:4444/") }, http.StatusUnauthorized},
		{"ORY_JWT_ISSUER", map[string]string{"ORY_JWT_ISSUER": "https://auth.example.com/"},
			func(b *jwt.Builder) *jwt.Builder { return b.Issuer("https://auth.example.com/") }, http.StatusOK},
		{"Ory's URL when ORY_JWT_ISSUER names another", map[string]string{"ORY_JWT_ISSUER": "https://auth.example.com/"}, nil, http.StatusUnauthorized},
		{"other template", nil, func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"jwt_other"}) }, http.StatusUnauthorized},
		{"no audience", nil, func(b *jwt.Builder) *jwt.Builder { return b.Audience(nil) }, http.StatusUnauthorized},
		{"ORY_JWT_AUDIENCE", map[string]string{"ORY_JWT_AUDIENCE": "https://api.example.com"},
			func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"https://api.example.com"}) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ORY_JWKS_URL": keys.file(t), "ORY_JWT_TEMPLATE": "jwt_example"}
			for k, v := range tt.env {
				env[k] = v
			}
			svc := startRun(t, env)
			if got := svc.status(t, keys.token(t, tt.edit)); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRunJWTGracefulShutdown: a request in flight at the signal that needs the key
// set refetched (its token names a key rotated in since start) still gets its
// answer, and run returns nil well before SHUTDOWN_TIMEOUT: the key set outlives
// the signal until the server has shut down.
func TestRunJWTGracefulShutdown(t *testing.T) {
	t.Parallel()
	const shutdownWait = 3 * time.Second
	old, rotated := newJWTKeys(t), newJWTKeys(t)
	_ = rotated.key.Set(jwk.KeyIDKey, "run-test-2")
	both := jwk.NewSet()
	for _, k := range []jwk.Key{old.key, rotated.key} {
		pub, err := jwk.PublicKeyOf(k)
		if err != nil {
			t.Fatal(err)
		}
		_ = both.AddKey(pub)
	}
	bothJSON, err := json.Marshal(both)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		body      = old.jwks
		refetched = make(chan struct{}) // closed when the refetch has reached the key server
		release   = make(chan struct{}) // closed to let the refetch answer
		fetches   int
		once      sync.Once
	)
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		first := fetches == 1
		b := body
		mu.Unlock()
		if !first {
			once.Do(func() { close(refetched) })
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(jwks.Close)

	ctx := context.WithValue(context.Background(), jwksClientKey{}, jwks.Client())
	svc := &service{Service: servicetest.StartContext(t, ctx, run, map[string]string{
		"ORY_JWKS_URL": jwks.URL + "/.well-known/jwks.json", "ORY_JWT_TEMPLATE": "jwt_example",
		"SHUTDOWN_TIMEOUT": shutdownWait.String(),
	})}
	if got := svc.status(t, old.token(t, nil)); got != http.StatusOK {
		t.Fatalf("status before shutdown = %d, want %d\nlogs: %s", got, http.StatusOK, svc.Logs)
	}

	mu.Lock()
	body = bothJSON
	mu.Unlock()
	results := svc.slowCalls([]string{rotated.token(t, nil)})
	select {
	case <-refetched:
	case <-time.After(5 * time.Second):
		t.Fatal("a token of a new key did not make the service refetch the key set")
	}
	start := time.Now()
	svc.Cancel()
	for !strings.Contains(svc.Logs.String(), `"msg":"shutting down"`) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("no shutting down line:\n%s", svc.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // what runs on the signal's context has stopped by now
	close(release)

	select {
	case r := <-results:
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("request in flight at the signal: status %d, error %v; want 200", r.status, r.err)
		}
	case <-time.After(shutdownWait + 2*time.Second):
		t.Fatal("request in flight at the signal never answered")
	}
	switch err := svc.Wait(shutdownWait + 2*time.Second); {
	case errors.Is(err, servicetest.ErrStillRunning):
		t.Fatal("run did not return within SHUTDOWN_TIMEOUT")
	case err != nil:
		t.Errorf("run() = %v, want nil", err)
	case time.Since(start) > shutdownWait/2:
		t.Errorf("run returned %s after cancel, want well within SHUTDOWN_TIMEOUT %s", time.Since(start), shutdownWait)
	}
}
