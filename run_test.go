package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/servicetest"
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
