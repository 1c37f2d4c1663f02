package main

import (
	"bufio"
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
)

// runningService is the service started through run on a free port.
type runningService struct {
	base   string
	addr   string
	logs   *lockedBuffer
	hc     *http.Client
	done   chan error // receives run's result
	cancel context.CancelFunc
}

// startRun runs the service with env (PORT is set here) and waits for /healthz.
// The test's cleanup cancels it if the test did not.
func startRun(t *testing.T, env map[string]string) *runningService {
	t.Helper()
	port := unusedPort(t)
	vars := map[string]string{"PORT": fmt.Sprint(port)}
	for k, v := range env {
		vars[k] = v
	}
	s := &runningService{
		addr: fmt.Sprintf("127.0.0.1:%d", port),
		logs: &lockedBuffer{},
		hc:   &http.Client{Timeout: 10 * time.Second},
		done: make(chan error, 1),
	}
	s.base = "http://" + s.addr
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- run(ctx, envOf(vars), s.logs) }()
	t.Cleanup(cancel)

	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.hc.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("run returned before serving: %v\nlogs: %s", err, s.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type callResult struct {
	status int
	err    error
}

// slowCalls starts one GET /api/resource per token, each on its own connection.
func (s *runningService) slowCalls(tokens []string) chan callResult {
	out := make(chan callResult, len(tokens))
	for _, tok := range tokens {
		go func() {
			hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			req, _ := http.NewRequest(http.MethodGet, s.base+"/api/resource", nil)
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
	svc.cancel()

	// The listener closes at once; the in-flight requests are still waiting on Ory.
	refusedAfter := time.Duration(-1)
	for time.Since(start) < oryDelay/2 {
		c, err := net.DialTimeout("tcp", svc.addr, 100*time.Millisecond)
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
	select {
	case err := <-svc.done:
		if err != nil {
			t.Errorf("run() = %v, want nil", err)
		}
		if took := time.Since(start); took > shutdownWait {
			t.Errorf("run returned %s after cancel, past SHUTDOWN_TIMEOUT %s", took, shutdownWait)
		}
	case <-time.After(shutdownWait + 2*time.Second):
		t.Fatal("run did not return within SHUTDOWN_TIMEOUT")
	}
	if _, err := svc.hc.Get(svc.base + "/healthz"); err == nil {
		t.Error("the service still answers after run returned")
	}
	t.Logf("connections refused %s after cancel; run returned after %s", refusedAfter, time.Since(start))
	if !strings.Contains(svc.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no stopped line:\n%s", svc.logs)
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
	svc.cancel()
	select {
	case err := <-svc.done:
		if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shutdown") {
			t.Errorf("run() = %v, want a shutdown deadline error", err)
		}
		if took := time.Since(start); took > wait+time.Second {
			t.Errorf("run returned %s after cancel, want about %s", took, wait)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("run hangs past SHUTDOWN_TIMEOUT")
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
// may appear in any log line, response header or body, and the config dump masks
// the key.
func TestRunNoSecretsAnywhere(t *testing.T) {
	t.Parallel()
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
		"LOG_LEVEL": "debug", "ORY_TIMEOUT": "300ms", "SESSION_CACHE_TTL": "1m",
		"CORS_ALLOWED_ORIGINS": "https://app.example.com",
	})

	var mu sync.Mutex
	var seen strings.Builder // every response: status line, headers, body
	call := func(method, path string, headers ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, svc.base+path, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Add(headers[i], headers[i+1])
		}
		resp, err := svc.hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&seen, "%d\n", resp.StatusCode) // not the request: it holds the secrets
		_ = resp.Header.Write(&seen)
		seen.Write(body)
		return resp.StatusCode
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	expect := func(want int, method, path string, headers ...string) {
		t.Helper()
		if got := call(method, path, headers...); got != want {
			t.Errorf("%s %s: status = %d, want %d", method, path, got, want)
		}
	}

	// Every route and credential form.
	expect(200, "GET", "/healthz")
	expect(200, "GET", "/readyz")
	expect(200, "GET", "/api/resource", bearer(userTok)...)
	expect(200, "GET", "/api/resource", "X-Session-Token", adminTok)
	expect(200, "GET", "/api/resource", "Cookie", "app="+appCookie+"; ory_kratos_session="+userTok)
	expect(200, "GET", "/api/me", bearer(userTok)...)
	expect(200, "GET", "/api/me/sessions?page_size=1", bearer(userTok)...)
	expect(200, "GET", "/api/admin/identities", bearer(adminTok)...)
	expect(403, "GET", "/api/admin/identities", bearer(userTok)...)
	expect(204, "DELETE", "/api/me/sessions/"+fake.SessionID(userSpare), bearer(userTok)...)
	expect(200, "DELETE", "/api/me/sessions", bearer(adminTok)...)
	expect(401, "GET", "/api/resource", bearer(spare)...) // just revoked
	expect(204, "OPTIONS", "/api/resource", "Origin", "https://app.example.com", "Access-Control-Request-Method", "GET")
	// Refusals and errors.
	expect(401, "GET", "/api/resource", bearer(forged)...)
	expect(401, "GET", "/api/resource", "Cookie", "ory_kratos_session="+forgedCookie)
	expect(401, "GET", "/api/resource", bearer(unitKey)...)
	expect(401, "GET", "/api/resource", "X-Session-Token", pat)
	expect(401, "GET", "/api/resource", "Authorization", "Basic "+forged)
	expect(401, "GET", "/api/resource", "X-Session-Token", forged+"\u00e9")
	expect(400, "GET", "/api/me/sessions?page_token="+forged, bearer(userTok)...)
	expect(404, "GET", "/api/nope", bearer(userTok)...)
	expect(405, "POST", "/api/resource", bearer(userTok)...)
	// Ory faults, on the session check (cache off for those: new tokens) and the Admin API.
	for _, f := range []orytest.Fault{
		orytest.OnWhoami(orytest.Status(500)), orytest.OnWhoami(fake.Hang()), orytest.OnWhoami(orytest.RateLimited("")),
		orytest.OnWhoami(orytest.Malformed()), orytest.OnWhoami(orytest.InactiveSession()),
		orytest.OnAdmin(orytest.Status(401)), orytest.OnAdmin(orytest.BadGateway()), orytest.OnAdmin(fake.Hang()),
	} {
		fake.SetFault(f)
		fresh := fake.AddSession(userID)
		secrets = append(secrets, fresh)
		call("GET", "/api/me", bearer(fresh)...)
		call("GET", "/api/resource", "Cookie", "ory_kratos_session="+forgedCookie+"x")
		call("GET", "/readyz")
	}
	fake.SetFault(nil)
	// Requests net/http refuses before the router, which its ErrorLog may report.
	for _, raw := range []string{
		"GET /api/resource HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + forged + "\x01\r\n\r\n",
		"GET /api/resource HTTP/1.1\r\nHost: x\r\nCookie: ory_kratos_session=" + forgedCookie + "\r\nX-Pad: " + strings.Repeat("p", 70<<10) + "\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + forged + "\r\n\r\n", // a TLS hello on plain HTTP
	} {
		c, err := net.Dial("tcp", svc.addr)
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

	svc.cancel()
	if err := <-svc.done; err != nil {
		t.Errorf("run() = %v", err)
	}
	logs := svc.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a log line contains the secret %.12s...", s)
		}
		if strings.Contains(seen.String(), s) {
			i := strings.Index(seen.String(), s)
			t.Errorf("a response contains the secret %.12s...: %q", s, seen.String()[max(0, i-300):i+len(s)])
		}
	}
	if !strings.Contains(logs, `api_key=ory_apikey_***`) {
		t.Errorf("the config dump does not show the masked key:\n%.600s", logs)
	}
	if n := strings.Count(logs, `"msg":"request"`); n < 30 {
		t.Errorf("%d request lines at debug level, want one per request", n)
	}
	if fake.WhoamiCallsWithKey() != 0 {
		t.Error("the API key was sent to whoami")
	}
}
