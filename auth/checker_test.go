package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// newChecker returns a Checker that asks the fake Ory.
func newChecker(t testing.TB, fake *orytest.Server, opts Options) *Checker {
	t.Helper()
	return NewChecker(ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL}).Frontend, opts)
}

// clock is a settable time source for the Checker's now field.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// asProblem returns err as a problem, failing t when it is not one.
func asProblem(t testing.TB, err error) *problem.Problem {
	t.Helper()
	var p *problem.Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v (%T) is not a *problem.Problem", err, err)
	}
	return p
}

// status is the HTTP status a Check result answers with.
func status(t testing.TB, s *client.Session, err error) int {
	t.Helper()
	if err != nil {
		return asProblem(t, err).Status
	}
	if s == nil {
		t.Fatal("Check returned neither a session nor an error")
	}
	return http.StatusOK
}

// checkStatus checks cred and returns the HTTP status of the result.
func checkStatus(t testing.TB, k *Checker, cred Credential) int {
	t.Helper()
	s, err := k.Check(t.Context(), cred)
	return status(t, s, err)
}

func TestCheckMapsOryAnswers(t *testing.T) {
	t.Parallel()
	const redirect = "http://127.0.0.1:4433/self-service/login/browser?aal=aal2"
	tests := []struct {
		name       string
		fault      func(*orytest.Server) orytest.Fault
		closed     bool
		wantStatus int
		wantCode   string
		wantRetry  int
	}{
		{name: "valid", wantStatus: http.StatusOK},
		{name: "401", fault: func(*orytest.Server) orytest.Fault { return orytest.Unauthorized() }, wantStatus: 401, wantCode: problem.CodeUnauthorized},
		{name: "403 aal2", fault: func(*orytest.Server) orytest.Fault { return orytest.AAL2Required(redirect) }, wantStatus: 403, wantCode: problem.CodeAAL2Required},
		{name: "403 without error id", fault: func(*orytest.Server) orytest.Fault { return orytest.Status(403) }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "429 with Retry-After", fault: func(*orytest.Server) orytest.Fault { return orytest.RateLimited("7") }, wantStatus: 429, wantCode: problem.CodeRateLimited, wantRetry: 7},
		{name: "429 without Retry-After", fault: func(*orytest.Server) orytest.Fault { return orytest.RateLimited("") }, wantStatus: 429, wantCode: problem.CodeRateLimited, wantRetry: 1},
		{name: "429 with huge Retry-After", fault: func(*orytest.Server) orytest.Fault { return orytest.RateLimited("86400") }, wantStatus: 429, wantCode: problem.CodeRateLimited, wantRetry: 60},
		{name: "500", fault: func(*orytest.Server) orytest.Fault { return orytest.Status(500) }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "502 html", fault: func(*orytest.Server) orytest.Fault { return orytest.BadGateway() }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "400", fault: func(*orytest.Server) orytest.Fault { return orytest.Status(400) }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "malformed JSON", fault: func(*orytest.Server) orytest.Fault { return orytest.Malformed() }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "200 empty object", fault: func(*orytest.Server) orytest.Fault { return orytest.Body(200, `{}`) }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "200 inactive", fault: func(*orytest.Server) orytest.Fault { return orytest.InactiveSession() }, wantStatus: 401, wantCode: problem.CodeUnauthorized},
		{name: "200 expired", fault: func(*orytest.Server) orytest.Fault {
			return orytest.Body(200, `{"id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","active":true,"expires_at":"2001-01-01T00:00:00Z",`+
				`"identity":{"id":"0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10","schema_id":"default","schema_url":"x","traits":{}}}`)
		}, wantStatus: 401, wantCode: problem.CodeUnauthorized},
		{name: "200 without identity", fault: func(*orytest.Server) orytest.Fault { return orytest.SessionWithoutIdentity() }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "hang", fault: func(s *orytest.Server) orytest.Fault { return s.Hang() }, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
		{name: "connection refused", closed: true, wantStatus: 503, wantCode: problem.CodeOryUnavailable, wantRetry: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			tok := fake.AddSession(fake.AddIdentity("a@example.com"))
			if tt.fault != nil {
				fake.SetFault(orytest.OnWhoami(tt.fault(fake)))
			}
			k := newChecker(t, fake, Options{Timeout: 100 * time.Millisecond, CacheTTL: time.Minute, DenyTTL: time.Minute})
			if tt.closed {
				fake.Close()
			}

			start := time.Now()
			s, err := k.Check(t.Context(), Credential{Token: tok})
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("Check took %v, want < 1s (Timeout is 100ms)", elapsed)
			}
			if got := status(t, s, err); got != tt.wantStatus {
				t.Fatalf("status = %d, want %d (err %v)", got, tt.wantStatus, err)
			}
			if err == nil {
				if s.Id != fake.SessionID(tok) || s.Identity == nil || s.Identity.Id == "" {
					t.Errorf("session = %+v, want %s with its identity", s, fake.SessionID(tok))
				}
				return
			}
			p := asProblem(t, err)
			if p.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
			}
			if p.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %d, want %d", p.RetryAfter, tt.wantRetry)
			}
			if tt.wantCode == problem.CodeAAL2Required && p.RedirectBrowserTo != redirect {
				t.Errorf("redirect_browser_to = %q, want %q", p.RedirectBrowserTo, redirect)
			}
		})
	}
}

func TestCheckSendsCredentialOnly(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t, orytest.WithAPIKey("ory_apikey_secret"))
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := NewChecker(ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL, APIKey: "ory_apikey_secret"}).Frontend, Options{})

	if _, err := k.Check(t.Context(), Credential{Cookie: "ory_kratos_session=" + tok}); err != nil {
		t.Fatalf("cookie check: %v", err)
	}
	h := fake.LastWhoami()
	if got := h.Get("Cookie"); got != "ory_kratos_session="+tok {
		t.Errorf("Cookie sent = %q, want the Ory cookie", got)
	}
	if h.Get("X-Session-Token") != "" || h.Get("Authorization") != "" {
		t.Errorf("cookie check sent token headers: %v", h)
	}

	if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
		t.Fatalf("token check: %v", err)
	}
	h = fake.LastWhoami()
	if h.Get("X-Session-Token") != tok || h.Get("Cookie") != "" {
		t.Errorf("token check sent X-Session-Token %q and Cookie %q, want the token only", h.Get("X-Session-Token"), h.Get("Cookie"))
	}
	if n := fake.WhoamiCallsWithKey(); n != 0 {
		t.Errorf("whoami calls carrying the API key = %d, want 0", n)
	}
}

func TestCheckCache(t *testing.T) {
	t.Parallel()

	t.Run("hits do not call Ory", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		tok := fake.AddSession(fake.AddIdentity("a@example.com"))
		k := newChecker(t, fake, Options{CacheTTL: time.Minute})
		for i := range 5 {
			if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
				t.Fatalf("check %d: %v", i, err)
			}
		}
		if n := fake.WhoamiCalls(); n != 1 {
			t.Errorf("whoami calls = %d, want 1", n)
		}
	})

	t.Run("ttl 0 calls Ory every time", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		tok := fake.AddSession(fake.AddIdentity("a@example.com"))
		k := newChecker(t, fake, Options{CacheTTL: 0, DenyTTL: time.Minute})
		for range 3 {
			if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
				t.Fatal(err)
			}
			_, _ = k.Check(t.Context(), Credential{Token: "ory_st_unknown"})
		}
		if n := fake.WhoamiCalls(); n != 6 {
			t.Errorf("whoami calls = %d, want 6", n)
		}
	})

	t.Run("entry expires with the cache ttl", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		tok := fake.AddSession(fake.AddIdentity("a@example.com"))
		k := newChecker(t, fake, Options{CacheTTL: time.Minute})
		clk := &clock{t: time.Now()}
		k.now = clk.Now
		check := func(wantCalls int64) {
			t.Helper()
			if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
				t.Fatal(err)
			}
			if n := fake.WhoamiCalls(); n != wantCalls {
				t.Errorf("whoami calls = %d, want %d", n, wantCalls)
			}
		}
		start := clk.Now()
		check(1)
		clk.Set(start.Add(59 * time.Second))
		check(1)
		clk.Set(start.Add(61 * time.Second))
		check(2)
	})

	t.Run("entry never outlives expires_at", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		clk := &clock{t: time.Now()}
		tok := fake.AddSession(fake.AddIdentity("a@example.com"), orytest.ExpiresAt(clk.Now().Add(time.Hour)))
		k := newChecker(t, fake, Options{CacheTTL: 2 * time.Hour})
		k.now = clk.Now
		s, err := k.Check(t.Context(), Credential{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil || fake.WhoamiCalls() != 1 {
			t.Fatalf("second check: err %v, whoami calls %d, want a cache hit", err, fake.WhoamiCalls())
		}
		// Past expires_at but well inside CacheTTL. The fake Ory still answers the
		// session (its clock has not moved): the checker must ask it again and then
		// refuse the expired session itself.
		clk.Set(s.ExpiresAt.Add(time.Second))
		s, err = k.Check(t.Context(), Credential{Token: tok})
		if got := status(t, s, err); got != http.StatusUnauthorized {
			t.Errorf("status after expires_at = %d, want %d", got, http.StatusUnauthorized)
		}
		if n := fake.WhoamiCalls(); n != 2 {
			t.Errorf("whoami calls = %d, want 2 (the entry must not outlive expires_at)", n)
		}
	})

	t.Run("refusal cached for DenyTTL", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		k := newChecker(t, fake, Options{CacheTTL: time.Minute, DenyTTL: 5 * time.Second})
		clk := &clock{t: time.Now()}
		k.now = clk.Now
		start := clk.Now()
		bad := Credential{Token: "ory_st_nosuchsession"}
		for range 3 {
			if got := checkStatus(t, k, bad); got != http.StatusUnauthorized {
				t.Fatalf("status = %d, want %d", got, http.StatusUnauthorized)
			}
		}
		if n := fake.WhoamiCalls(); n != 1 {
			t.Errorf("whoami calls = %d, want 1", n)
		}
		clk.Set(start.Add(6 * time.Second))
		_, _ = k.Check(t.Context(), bad)
		if n := fake.WhoamiCalls(); n != 2 {
			t.Errorf("whoami calls after DenyTTL = %d, want 2", n)
		}
	})

	for _, tt := range []struct {
		name  string
		fault orytest.Fault
		want  int
	}{
		{"503 never cached", orytest.Status(500), http.StatusServiceUnavailable},
		{"429 never cached", orytest.RateLimited("3"), http.StatusTooManyRequests},
		{"403 aal2 never cached", orytest.AAL2Required("http://x/aal2"), http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			tok := fake.AddSession(fake.AddIdentity("a@example.com"))
			k := newChecker(t, fake, Options{CacheTTL: time.Minute, DenyTTL: time.Minute})
			fake.SetFault(tt.fault)
			if got := checkStatus(t, k, Credential{Token: tok}); got != tt.want {
				t.Fatalf("status = %d, want %d", got, tt.want)
			}
			fake.SetFault(nil)
			if got := checkStatus(t, k, Credential{Token: tok}); got != http.StatusOK {
				t.Errorf("status after recovery = %d, want %d", got, http.StatusOK)
			}
			if n := fake.WhoamiCalls(); n != 2 {
				t.Errorf("whoami calls = %d, want 2", n)
			}
		})
	}

	t.Run("bounded by CacheSize", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		id := fake.AddIdentity("a@example.com")
		a, b, c := fake.AddSession(id), fake.AddSession(id), fake.AddSession(id)
		k := newChecker(t, fake, Options{CacheTTL: time.Minute, CacheSize: 2})
		for _, tok := range []string{a, b, c, c, b} {
			if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
				t.Fatal(err)
			}
		}
		if n := fake.WhoamiCalls(); n != 3 {
			t.Fatalf("whoami calls = %d, want 3 (b and c cached)", n)
		}
		if _, err := k.Check(t.Context(), Credential{Token: a}); err != nil {
			t.Fatal(err)
		}
		if n := fake.WhoamiCalls(); n != 4 {
			t.Errorf("whoami calls = %d, want 4 (a evicted as least recently used)", n)
		}
		if got := k.cache.sessions.Len(); got != 2 {
			t.Errorf("cache holds %d entries, want 2", got)
		}
	})

	t.Run("ForgetSession evicts at once", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		id := fake.AddIdentity("a@example.com")
		tok, other := fake.AddSession(id), fake.AddSession(id)
		k := newChecker(t, fake, Options{CacheTTL: time.Hour})
		for _, tk := range []string{tok, other} {
			if _, err := k.Check(t.Context(), Credential{Token: tk}); err != nil {
				t.Fatal(err)
			}
		}
		k.ForgetSession(fake.SessionID(tok))
		_, _ = k.Check(t.Context(), Credential{Token: other})
		if n := fake.WhoamiCalls(); n != 2 {
			t.Errorf("whoami calls = %d, want 2 (other session still cached)", n)
		}
		_, _ = k.Check(t.Context(), Credential{Token: tok})
		if n := fake.WhoamiCalls(); n != 3 {
			t.Errorf("whoami calls = %d, want 3 (forgotten session asked again)", n)
		}
	})

	t.Run("ForgetIdentitySessions keeps the current session", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		id := fake.AddIdentity("a@example.com")
		keep, drop := fake.AddSession(id), fake.AddSession(id)
		stranger := fake.AddSession(fake.AddIdentity("b@example.com"))
		k := newChecker(t, fake, Options{CacheTTL: time.Hour})
		for _, tk := range []string{keep, drop, stranger} {
			if _, err := k.Check(t.Context(), Credential{Token: tk}); err != nil {
				t.Fatal(err)
			}
		}
		k.ForgetIdentitySessions(id, fake.SessionID(keep))
		for _, tk := range []string{keep, stranger} {
			_, _ = k.Check(t.Context(), Credential{Token: tk})
		}
		if n := fake.WhoamiCalls(); n != 3 {
			t.Errorf("whoami calls = %d, want 3 (kept and other identity's sessions cached)", n)
		}
		_, _ = k.Check(t.Context(), Credential{Token: drop})
		if n := fake.WhoamiCalls(); n != 4 {
			t.Errorf("whoami calls = %d, want 4", n)
		}
	})

	t.Run("answer in flight during a revocation is not cached", func(t *testing.T) {
		t.Parallel()
		fake := orytest.New(t)
		tok := fake.AddSession(fake.AddIdentity("a@example.com"))
		k := newChecker(t, fake, Options{CacheTTL: time.Hour, Timeout: 5 * time.Second})
		arrived, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		fake.SetFault(orytest.OnWhoami(func(w http.ResponseWriter, r *http.Request) bool {
			once.Do(func() { close(arrived) })
			<-release
			return false
		}))
		done := make(chan error, 1)
		go func() {
			_, err := k.Check(context.Background(), Credential{Token: tok})
			done <- err
		}()
		<-arrived
		k.ForgetSession(fake.SessionID(tok))
		close(release)
		if err := <-done; err != nil {
			t.Fatalf("in-flight check: %v", err)
		}
		_, _ = k.Check(t.Context(), Credential{Token: tok})
		if n := fake.WhoamiCalls(); n != 2 {
			t.Errorf("whoami calls = %d, want 2 (the in-flight answer must not be cached)", n)
		}
	})
}

func TestCheckCoalesces(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	fake.SetFault(orytest.OnWhoami(orytest.Delay(50 * time.Millisecond)))
	// No cache: only coalescing can keep this to one call.
	k := newChecker(t, fake, Options{})

	const n = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			s, err := k.Check(context.Background(), Credential{Token: tok})
			if err == nil && s.Id != fake.SessionID(tok) {
				err = errors.New("wrong session " + s.Id)
			}
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("check: %v", err)
		}
	}
	if got := fake.WhoamiCalls(); got != 1 {
		t.Errorf("whoami calls = %d, want 1", got)
	}
}

func TestCheckCallerCancelled(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	arrived := make(chan struct{})
	var once sync.Once
	fake.SetFault(orytest.OnWhoami(func(w http.ResponseWriter, r *http.Request) bool {
		once.Do(func() { close(arrived) })
		return orytest.Delay(300*time.Millisecond)(w, r)
	}))
	k := newChecker(t, fake, Options{CacheTTL: time.Minute})

	// The first caller starts the shared call, then leaves.
	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := k.Check(ctx, Credential{Token: tok})
		first <- err
	}()
	<-arrived
	second := make(chan error, 1)
	go func() {
		_, err := k.Check(context.Background(), Credential{Token: tok})
		second <- err
	}()
	cancelled := time.Now()
	cancel()
	select {
	case err := <-first:
		if elapsed := time.Since(cancelled); elapsed > 100*time.Millisecond {
			t.Errorf("cancelled caller returned after %v, want promptly", elapsed)
		}
		if p := asProblem(t, err); p.Status != http.StatusServiceUnavailable {
			t.Errorf("cancelled caller status = %d, want %d", p.Status, http.StatusServiceUnavailable)
		}
	case <-time.After(time.Second):
		t.Fatal("cancelled caller did not return")
	}
	if err := <-second; err != nil {
		t.Errorf("other caller: %v, want the session", err)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1", n)
	}
}

// countingVerifier is a TokenVerifier that admits the token "eyJ.good.sig" until exp
// and counts its verifications.
type countingVerifier struct {
	calls atomic.Int64
	exp   time.Time
}

func (v *countingVerifier) Accepts(token string) bool { return strings.HasPrefix(token, "eyJ") }

func (v *countingVerifier) Verify(_ context.Context, token string) (*client.Session, error) {
	v.calls.Add(1)
	if token != "eyJ.good.sig" {
		return nil, problem.Unauthorized("bad JWT")
	}
	active, exp, iat := true, v.exp, v.exp.Add(-10*time.Minute)
	return &client.Session{Id: "sid", Active: &active, IssuedAt: &iat, ExpiresAt: &exp, Identity: &client.Identity{Id: "sub"}}, nil
}

func TestCheckCachesVerifiedJWTs(t *testing.T) {
	fake := orytest.New(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	v := &countingVerifier{exp: now.Add(time.Minute)}
	k := newChecker(t, fake, Options{CacheTTL: time.Hour, DenyTTL: time.Hour, JWT: v})
	k.now = clk.Now
	good, bad := Credential{Token: "eyJ.good.sig"}, Credential{Token: "eyJ.forged.sig"}

	for range 3 {
		if got := checkStatus(t, k, good); got != 200 {
			t.Fatalf("status = %d, want 200", got)
		}
	}
	if n := v.calls.Load(); n != 1 {
		t.Errorf("verifications for one JWT checked 3 times = %d, want 1", n)
	}
	for range 2 {
		if got := checkStatus(t, k, bad); got != 401 {
			t.Fatalf("forged: status = %d, want 401", got)
		}
	}
	if n := v.calls.Load(); n != 3 {
		t.Errorf("verifications after 2 forged checks = %d, want 3: refusals must not be cached", n)
	}
	// The entry ends with the token's exp (1m), well before CacheTTL (1h).
	clk.Set(now.Add(61 * time.Second))
	checkStatus(t, k, good)
	if n := v.calls.Load(); n != 4 {
		t.Errorf("verifications after the token's exp = %d, want 4", n)
	}
	k.ForgetSession("sid")
	clk.Set(now)
	checkStatus(t, k, good)
	if n := v.calls.Load(); n != 5 {
		t.Errorf("verifications after ForgetSession = %d, want 5", n)
	}
	if n := fake.WhoamiCalls(); n != 0 {
		t.Errorf("whoami calls in JWT mode = %d, want 0", n)
	}
}
