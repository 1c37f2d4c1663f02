package handlers_test

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// switchable is a reverse proxy to the fake Ory on a fixed port that can refuse
// connections (down) and come back on the same port (up), as a restarting Ory does.
type switchable struct {
	t     *testing.T
	addr  string
	proxy http.Handler

	mu  sync.Mutex
	srv *http.Server
}

func newSwitchable(t *testing.T, target string) *switchable {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // hung and cancelled calls are the point
	s := &switchable{t: t, addr: ln.Addr().String(), proxy: proxy}
	s.serve(ln)
	t.Cleanup(s.down)
	return s
}

func (s *switchable) URL() string { return "http://" + s.addr }

func (s *switchable) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv := &http.Server{Handler: s.proxy}
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
}

// down closes the listener and every connection: new connections are refused.
func (s *switchable) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// up listens again on the same port.
func (s *switchable) up() {
	s.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// TestOryFaultsFailClosedAndRecover injects each Ory fault on the session check
// and on the Admin API, on every route that calls Ory: a valid session gets the
// outage status (never 401), a forged token never gets 200, a request without a
// credential is 401 without an Ory call, every answer is bounded by the Ory
// timeout, and everything works again once the fault is gone. It runs with the
// session cache off and on (the cache must never keep an outage's answer), against
// self-hosted Kratos and Ory Network (its 429s carry x-ratelimit-reset, not
// Retry-After).
func TestOryFaultsFailClosedAndRecover(t *testing.T) {
	t.Parallel()
	tests := []faultCase{
		{name: "whoami refuses connections", whoami: true, refused: true, want: 503, wantRetry: "1"},
		{name: "whoami hangs", hangs: true, whoami: true, fault: func(s *orytest.Server) orytest.Fault { return s.Hang() }, want: 503, wantRetry: "1"},
		{name: "whoami 500", whoami: true, fault: st(orytest.Status(500)), want: 503, wantRetry: "1"},
		{name: "whoami 502 html", whoami: true, fault: st(orytest.BadGateway()), want: 503, wantRetry: "1"},
		{name: "whoami 503", whoami: true, fault: st(orytest.Status(503)), want: 503, wantRetry: "1"},
		{name: "whoami 429 with the mode's headers", whoami: true, fault: func(s *orytest.Server) orytest.Fault { return s.RateLimited(3) }, want: 429, wantRetry: "3"},
		{name: "whoami 429 without any header", whoami: true, fault: st(orytest.RateLimited("")), want: 429, wantRetry: "1"},
		{name: "whoami 200 malformed JSON", whoami: true, fault: st(orytest.Malformed()), want: 503, wantRetry: "1"},
		{name: "whoami 200 inactive session", whoami: true, fault: st(orytest.InactiveSession()), want: 401},
		{name: "whoami 200 empty object", whoami: true, fault: st(orytest.Body(200, `{}`)), want: 503, wantRetry: "1"},
		{name: "admin refuses connections", refused: true, want: 503, wantRetry: "1"},
		{name: "admin hangs", hangs: true, fault: func(s *orytest.Server) orytest.Fault { return s.Hang() }, want: 503, wantRetry: "1"},
		{name: "admin 500", fault: st(orytest.Status(500)), want: 503, wantRetry: "1"},
		{name: "admin 502 html", fault: st(orytest.BadGateway()), want: 503, wantRetry: "1"},
		{name: "admin 429 with the mode's headers", fault: func(s *orytest.Server) orytest.Fault { return s.RateLimited(5) }, want: 429, wantRetry: "5"},
		{name: "admin 429 without any header", fault: st(orytest.RateLimited("")), want: 429, wantRetry: "1"},
		{name: "admin 200 malformed JSON", fault: st(orytest.Malformed()), want: 503, wantRetry: "1"},
		// A rejected API key is this service's misconfiguration: the caller's session
		// is fine, so never 401 (the client would sign the user out) and never 403.
		{name: "admin rejects the API key (401)", fault: st(orytest.Status(401)), want: 503, wantRetry: "1"},
		{name: "admin forbids the API key (403)", fault: st(orytest.Body(403, `{"error":{"id":"forbidden","code":403,"message":"no permission"}}`)), want: 503, wantRetry: "1"},
	}
	for _, mode := range oryModes {
		for _, cache := range []struct {
			name string
			ttl  time.Duration
		}{{"cache off", 0}, {"cache on", time.Minute}} {
			t.Run(mode.name+"/"+cache.name, func(t *testing.T) {
				t.Parallel()
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						t.Parallel()
						tt.failsClosed(t, envOptions{cacheTTL: cache.ttl, fake: mode.opts})
					})
				}
			})
		}
	}
}

// oryModes are the two Ory the service meets: self-hosted Kratos, and Ory Network
// without its buckets (the faults are the subject, not the limits).
var oryModes = []struct {
	name string
	opts []orytest.Option
}{
	{"self-hosted", nil},
	{"ory network", []orytest.Option{orytest.Network(orytest.NoLimits())}},
}

// retryAfterOK reports whether the Retry-After sent is the one wanted. A delay
// taken from x-ratelimit-reset (Ory Network) has a bounded random spread on top.
func retryAfterOK(got, want string, network bool) bool {
	if got == want {
		return true
	}
	g, err1 := strconv.Atoi(got)
	w, err2 := strconv.Atoi(want)
	return network && err1 == nil && err2 == nil && w > 1 && g >= w && g <= w+w/2+1
}

// faultCase is one Ory fault of TestOryFaultsFailClosedAndRecover.
type faultCase struct {
	name      string
	whoami    bool // the fault is on the session check (else on the Admin API)
	fault     func(*orytest.Server) orytest.Fault
	refused   bool // Ory (the side under test) refuses connections instead
	hangs     bool // the fault holds the call until the Ory timeout
	want      int
	wantRetry string
}

func (tc faultCase) failsClosed(t *testing.T, o envOptions) {
	whoami, refused, want, wantRetry := tc.whoami, tc.refused, tc.want, tc.wantRetry
	type route struct{ method, path string }
	// Admin API faults reach the session routes only for callers without an Ory
	// credential: a session JWT (token and cookie callers use the FrontendAPI).
	o.jwt = !whoami
	if tc.hangs {
		o.oryTimeout = hangTimeout
	}
	// The side under test goes through a proxy that can refuse connections.
	var sw *switchable
	e := newEnvWith(t, o, func(fakeURL string) (public, admin string) {
		sw = newSwitchable(t, fakeURL)
		if whoami {
			return sw.URL(), fakeURL
		}
		return fakeURL, sw.URL()
	})
	adminID, adminTok := e.user("admin@example.com")
	e.fake.SetRole(adminID, "admin")
	victim := e.session(adminID)
	if !whoami {
		adminTok = "jwt." + adminTok
	}
	const forged = "ory_st_forgedforgedforgedforgedforgedfo"
	e.secret(forged)

	routes := []route{{"GET", "/api/me"}, {"GET", "/api/me/sessions"}, {"GET", "/api/admin/identities"},
		{"DELETE", "/api/me/sessions/" + e.fake.SessionID(victim)}, {"DELETE", "/api/me/sessions"}}
	if whoami {
		routes = append([]route{{"GET", "/api/resource"}}, routes...)
	}

	if refused {
		sw.down()
	} else {
		e.fake.SetFault(onSide(whoami, tc.fault(e.fake)))
	}
	for _, r := range routes {
		start := time.Now()
		resp, body := e.do(t, r.method, r.path, adminTok)
		if took := time.Since(start); took > faultBound(o.oryTimeout) {
			t.Errorf("%s %s took %s, want it bounded by the Ory timeout", r.method, r.path, took)
		}
		e.expect(t, resp, body, want)
		if got := resp.Header.Get("Retry-After"); !retryAfterOK(got, wantRetry, e.fake.IsNetwork()) {
			t.Errorf("%s %s: Retry-After = %q, want %q", r.method, r.path, got, wantRetry)
		}

		resp, body = e.do(t, r.method, r.path, forged)
		if resp.StatusCode == 200 || resp.StatusCode == 204 {
			t.Errorf("%s %s with a forged token: %d %s", r.method, r.path, resp.StatusCode, body)
		}
		if !whoami {
			e.expect(t, resp, body, 401) // the session check itself works
		}

		calls := e.fake.WhoamiCalls()
		resp, body = e.do(t, r.method, r.path, "")
		e.expect(t, resp, body, 401)
		if e.fake.WhoamiCalls() != calls {
			t.Errorf("%s %s without a credential called Ory", r.method, r.path)
		}
	}
	if !e.fake.SessionActive(e.fake.SessionID(victim)) {
		t.Error("a failed revoke still revoked the session")
	}

	// Ory is back: everything answers normally at once.
	if refused {
		sw.up()
	} else {
		e.fake.SetFault(nil)
	}
	if o.cacheTTL > 0 && want == http.StatusUnauthorized {
		// The refusal is remembered for the deny TTL, by design: a new session of the
		// same identity shows that nothing else was.
		adminTok = e.session(adminID)
	}
	for _, r := range []route{{"GET", "/api/resource"}, {"GET", "/api/me"}, {"GET", "/api/me/sessions"}, {"GET", "/api/admin/identities"}} {
		resp, body := e.do(t, r.method, r.path, adminTok)
		e.expect(t, resp, body, 200)
	}
	resp, body := e.do(t, "DELETE", "/api/me/sessions/"+e.fake.SessionID(victim), adminTok)
	e.expect(t, resp, body, 204)
	resp, body = e.do(t, "GET", "/api/resource", forged)
	e.expect(t, resp, body, 401)
}

func st(f orytest.Fault) func(*orytest.Server) orytest.Fault {
	return func(*orytest.Server) orytest.Fault { return f }
}

func onSide(whoami bool, f orytest.Fault) orytest.Fault {
	if whoami {
		return orytest.OnWhoami(f)
	}
	return orytest.OnAdmin(f)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.com"
	e := newEnv(t, envOptions{corsOrigins: []string{allowed, "http://localhost:3000"}})
	_, tok := e.user("cors@example.com")
	off := newEnv(t, envOptions{})

	preflight := func(e *env, origin, method, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodOptions, e.srv.URL+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "authorization, x-session-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	noCORS := func(t *testing.T, h http.Header) {
		t.Helper()
		for k := range h {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("CORS header %s: %q on a response to an origin that is not allowed", k, h.Get(k))
			}
		}
	}

	t.Run("preflight from an allowed origin needs no session", func(t *testing.T) {
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/resource"}, {"GET", "/api/admin/identities"}, {"DELETE", "/api/me/sessions/" + orytest.NewID()}, {"DELETE", "/api/me/sessions"},
		} {
			calls := e.fake.WhoamiCalls()
			resp := preflight(e, allowed, r.method, r.path)
			h := resp.Header
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("preflight %s %s: status = %d, want 204", r.method, r.path, resp.StatusCode)
			}
			if h.Get("Access-Control-Allow-Origin") != allowed || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("preflight: Allow-Origin %q, Allow-Credentials %q", h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
			}
			if m := h.Get("Access-Control-Allow-Methods"); !strings.Contains(m, r.method) {
				t.Errorf("preflight: Allow-Methods %q lacks %s", m, r.method)
			}
			if hs := strings.ToLower(h.Get("Access-Control-Allow-Headers")); !strings.Contains(hs, "authorization") || !strings.Contains(hs, "x-session-token") {
				t.Errorf("preflight: Allow-Headers %q", hs)
			}
			if !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
				t.Errorf("preflight: Vary %q lacks Origin", h.Values("Vary"))
			}
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("preflight without security headers")
			}
			if e.fake.WhoamiCalls() != calls {
				t.Error("a preflight called Ory")
			}
		}
	})
	t.Run("preflight from other origins gets no CORS headers", func(t *testing.T) {
		for _, origin := range []string{"https://evil.example.com", "https://app.example.com.evil.test", "http://app.example.com",
			"https://APP.example.com", "https://app.example.com:443", "null", allowed + "/", allowed + ", https://evil.example.com"} {
			resp := preflight(e, origin, "GET", "/api/resource")
			noCORS(t, resp.Header)
			if resp.StatusCode == http.StatusNoContent || resp.StatusCode == 200 {
				t.Errorf("preflight from %q: status %d", origin, resp.StatusCode)
			}
		}
	})
	t.Run("CORS off", func(t *testing.T) {
		noCORS(t, preflight(off, allowed, "GET", "/api/resource").Header)
		resp, body := off.do(t, "GET", "/healthz", "", "Origin", allowed)
		off.expect(t, resp, body, 200)
		noCORS(t, resp.Header)
	})
	t.Run("requests from an allowed origin can read the answer", func(t *testing.T) {
		for _, c := range []struct {
			token string
			want  int
		}{{tok, 200}, {"", 401}} {
			resp, body := e.do(t, "GET", "/api/resource", c.token, "Origin", allowed)
			e.expect(t, resp, body, c.want)
			h := resp.Header
			if h.Get("Access-Control-Allow-Origin") != allowed || h.Get("Access-Control-Allow-Credentials") != "true" {
				t.Errorf("%d: Allow-Origin %q, Allow-Credentials %q", c.want, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Credentials"))
			}
			if !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Errorf("Expose-Headers = %q", h.Get("Access-Control-Expose-Headers"))
			}
		}
	})
	t.Run("requests from other origins get no CORS headers", func(t *testing.T) {
		resp, body := e.do(t, "GET", "/api/resource", tok, "Origin", "https://evil.example.com")
		e.expect(t, resp, body, 200) // the browser, not the server, withholds the answer
		noCORS(t, resp.Header)
	})
}

// TestSecurityHeadersOnEveryResponse covers every status the router writes.
func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{corsOrigins: []string{"https://app.example.com"}})
	id, tok := e.user("h@example.com")
	_, userTok := e.user("u@example.com")
	e.fake.SetRole(id, "admin")
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Cache-Control":                "no-store",
	}
	check := func(name string, resp *http.Response, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s: status = %d, want %d", name, resp.StatusCode, status)
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s (%d): %s = %q, want %q", name, resp.StatusCode, k, got, v)
			}
		}
	}
	for _, c := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"healthz", "GET", "/healthz", "", 200},
		{"readyz", "GET", "/readyz", "", 200},
		{"openapi", "GET", "/openapi.yaml", "", 200},
		{"metrics", "GET", "/metrics", "", 200},
		{"resource", "GET", "/api/resource", tok, 200},
		{"bad request", "GET", "/api/me/sessions?page_size=0", tok, 400},
		{"unauthorized", "GET", "/api/resource", "", 401},
		{"forbidden", "GET", "/api/admin/identities", userTok, 403},
		{"not found", "GET", "/nope", "", 404},
		{"method not allowed", "POST", "/api/resource", tok, 405},
		{"revoked", "DELETE", "/api/me/sessions/" + e.fake.SessionID(e.session(id)), tok, 204},
	} {
		resp, _ := e.do(t, c.method, c.path, c.token)
		check(c.name, resp, c.status)
	}
	e.fake.SetFault(orytest.OnWhoami(orytest.RateLimited("2")))
	resp, _ := e.do(t, "GET", "/api/resource", tok)
	check("rate limited", resp, 429)
	e.fake.SetFault(orytest.OnWhoami(orytest.Status(500)))
	resp, _ = e.do(t, "GET", "/api/resource", tok)
	check("unavailable", resp, 503)
	e.fake.SetFault(nil)
	// /readyz reuses its last answer for a while: ask a service that never was ready.
	down := newEnv(t, envOptions{})
	down.fake.SetFault(orytest.Status(500))
	resp, _ = down.do(t, "GET", "/readyz", "")
	check("not ready", resp, 503)

	req, _ := http.NewRequestWithContext(t.Context(), "DELETE", e.srv.URL+"/api/me/sessions", strings.NewReader(strings.Repeat("x", 2<<20)))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		check("too large", resp, 413)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "OPTIONS", e.srv.URL+"/api/resource", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		check("preflight", resp, 204)
	}
}

// TestBodyLimitChunked: a body without Content-Length is refused like one with it,
// whatever its size: no route takes a body.
func TestBodyLimitChunked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, tok := e.user("x@example.com")
	for _, c := range []struct {
		size, want int
	}{{2 << 20, 413}, {1<<20 + 1, 413}, {1 << 20, 413}, {10, 413}} {
		// An io.Reader of unknown length makes net/http send the body chunked.
		req, _ := http.NewRequestWithContext(t.Context(), "DELETE", e.srv.URL+"/api/me/sessions", io.MultiReader(strings.NewReader(strings.Repeat("x", c.size))))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := e.v.CheckResponse(t, resp)
		resp.Body.Close()
		if resp.StatusCode != c.want || len(req.TransferEncoding) == 0 && req.ContentLength > 0 {
			t.Errorf("chunked body of %d bytes: status = %d, want %d; %s", c.size, resp.StatusCode, c.want, body)
		}
	}
}

// TestClientGoneIsNotAnOutage: a client that hangs up while Ory is slow is logged
// as such, at info, not as an error that would page someone.
func TestClientGoneIsNotAnOutage(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tok := e.user("gone@example.com")
	// The client hangs up once Ory holds the session check, not after a set time:
	// on a loaded machine a short timeout can end the request before the service
	// has it, and then there is no request to log.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	hang := e.fake.Hang()
	var once sync.Once
	e.fake.SetFault(orytest.OnWhoami(func(w http.ResponseWriter, r *http.Request) bool {
		once.Do(cancel)
		return hang(w, r)
	}))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("status = %d, want the client to give up first", resp.StatusCode)
	}
	// A bound for a service that never logs it; the wait ends at the log line.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.logs.String(), `"client_gone":true`) {
		if time.Now().After(deadline) {
			t.Fatalf("no client_gone log line:\n%s", e.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, `"client_gone":true`) && !strings.Contains(line, `"level":"INFO"`) {
			t.Errorf("client_gone logged above info: %s", line)
		}
	}
	e.fake.SetFault(nil)
}
