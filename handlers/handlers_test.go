package handlers_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/proc"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

const apiKey = "ory_apikey_handlerstest0123456789"

// env is the service, served over real HTTP, in front of a fake Ory.
type env struct {
	t    *testing.T
	fake *orytest.Server
	srv  *httptest.Server
	v    *apitest.Validator
	logs *proc.Buffer

	mu      sync.Mutex
	bodies  [][]byte
	secrets []string // never in a response body or a log line
}

type envOptions struct {
	publicURL   string // default: the fake
	adminURL    string // default: the fake
	cacheTTL    time.Duration
	corsOrigins []string
	oryTimeout  time.Duration // default defaultOryTimeout; tests that make Ory hang use hangTimeout
	bulkTimeout time.Duration // the routes that make many Ory calls; 0: the product's default
	fake        []orytest.Option
	jwt         bool          // "jwt." + a session token is a session JWT (see jwtCallers)
	identityTTL time.Duration // the /api/me cache; 0: the default
	webhooks    handlers.Webhooks
	// stepUp's PublicURL defaults to the fake's.
	stepUp auth.StepUpConfig
}

// The Ory timeouts of the tests. Every Ory call is bounded by it, so a test whose
// subject is not the timeout gets one a loaded CI machine under the race detector
// does not reach (a plain whoami has been seen to take over a second there); a
// test that makes Ory hang waits for the timeout on purpose and sets the short one,
// which keeps it quick.
const (
	defaultOryTimeout = 10 * time.Second
	hangTimeout       = 500 * time.Millisecond
)

// faultBound is how long a request may take while Ory fails, given the Ory timeout
// the test set (0: newEnv's). A hang ends at the timeout, so it is answered soon
// after it; any other fault is answered without waiting for the timeout, so before
// it. A fixed bound tighter than the timeout fails a loaded machine, not the service.
func faultBound(timeout time.Duration) time.Duration {
	if timeout == 0 {
		return defaultOryTimeout
	}
	return timeout + 1500*time.Millisecond
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith is newEnv with Ory's URLs chosen by urls from the fake's URL (to put
// a proxy in front of one side).
func newEnvWith(t *testing.T, o envOptions, urls func(fakeURL string) (public, admin string)) *env {
	t.Helper()
	fake := orytest.New(t, append([]orytest.Option{orytest.WithAPIKey(apiKey)}, o.fake...)...)
	doc, err := os.ReadFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if urls != nil {
		o.publicURL, o.adminURL = urls(fake.URL)
	}
	if o.publicURL == "" {
		o.publicURL = fake.URL
	}
	if o.adminURL == "" {
		o.adminURL = fake.URL
	}
	if o.oryTimeout == 0 {
		o.oryTimeout = defaultOryTimeout
	}
	clients := ory.New(ory.Config{PublicURL: o.publicURL, AdminURL: o.adminURL, APIKey: apiKey, Timeout: o.oryTimeout})
	e := &env{t: t, fake: fake, v: apitest.New(t), logs: &proc.Buffer{}, secrets: []string{apiKey}}
	checks := auth.Options{Timeout: o.oryTimeout, CacheTTL: o.cacheTTL, DenyTTL: o.cacheTTL}
	if o.jwt {
		checks.JWT = jwtCallers(fake)
	}
	router := handlers.NewRouter(handlers.Deps{
		Logger:      slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Checker:     auth.NewChecker(clients.Frontend, checks),
		IdentityTTL: o.identityTTL,
		Ory:         clients,
		Metrics:     metrics.New(),
		OpenAPI:     doc,
		CORSOrigins: o.corsOrigins,
		Webhooks:    o.webhooks,
		StepUp:      stepUpOf(o),
		BulkTimeout: o.bulkTimeout,
	})
	e.srv = httptest.NewServer(router)
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.assertNoSecrets)
	// A failure's cause (an Ory call's error, a deadline) is in the service's log,
	// never in the problem it answered.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", e.logs.String())
		}
	})
	return e
}

// user adds an identity with a session and returns the identity id and token.
func (e *env) user(email string) (id, token string) {
	id = e.fake.AddIdentity(email)
	return id, e.session(id)
}

// session adds a session of identity and remembers its token as a secret.
func (e *env) session(identity string) string {
	tok := e.fake.AddSession(identity)
	e.mu.Lock()
	e.secrets = append(e.secrets, tok)
	e.mu.Unlock()
	return tok
}

// do sends a request with token as a Bearer token (when not ""), checks the
// response against openapi.yaml and returns it with its body. It fails t, the
// calling (sub)test, never the test that made the env: a parent stopped from inside
// a subtest would skip the subtests after it.
func (e *env) do(t testing.TB, method, path, token string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body := e.v.CheckResponse(t, resp)
	e.record(body)
	return resp, body
}

// expect fails t unless resp has status want.
func (e *env) expect(t testing.TB, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status = %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

// secret adds values that must never appear in a response body or a log line.
func (e *env) secret(vs ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, vs...)
}

// record keeps a response body for the secrets scan at the end of the test.
func (e *env) record(body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bodies = append(e.bodies, body)
}

func (e *env) assertNoSecrets() {
	e.mu.Lock()
	defer e.mu.Unlock()
	logs := e.logs.String()
	for _, s := range e.secrets {
		for _, b := range e.bodies {
			if bytes.Contains(b, []byte(s)) {
				e.t.Errorf("a response body contains the secret %.12s...: %s", s, b)
			}
		}
		if strings.Contains(logs, s) {
			e.t.Errorf("the log contains the secret %.12s...", s)
		}
	}
}

type problemBody struct {
	Status            int               `json:"status"`
	Code              string            `json:"code"`
	RedirectBrowserTo string            `json:"redirect_browser_to"`
	Checks            map[string]string `json:"checks"`
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	userID, tok := e.user("user@example.com")
	doc, _ := os.ReadFile("../openapi.yaml")

	tests := []struct {
		method, path string
		token        string
		want         int
		contains     string
	}{
		{"GET", "/healthz", "", 200, `"status":"ok"`},
		{"GET", "/readyz", "", 200, `"ory_admin":"ok"`},
		{"GET", "/openapi.yaml", "", 200, "openapi: 3.1.0"},
		{"GET", "/metrics", "", 200, "http_requests_seconds"},
		{"GET", "/api/resource", tok, 200, userID},
		{"GET", "/api/resource", "", 401, `"code":"unauthorized"`},
		{"GET", "/api/me", tok, 200, userID},
		{"GET", "/api/me/sessions", tok, 200, e.fake.SessionID(tok)},
		{"GET", "/api/admin/identities", tok, 403, `"code":"forbidden"`},
		{"GET", "/api/admin/identities", "", 401, `"code":"unauthorized"`},
		{"DELETE", "/api/me/sessions/not-a-uuid", tok, 400, `"code":"bad_request"`},
		{"GET", "/nope", "", 404, `"code":"not_found"`},
		{"GET", "/api/resource/", tok, 404, `"code":"not_found"`},
		{"POST", "/api/resource", tok, 405, `"code":"method_not_allowed"`},
		{"PUT", "/healthz", "", 405, `"code":"method_not_allowed"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.token)
			e.expect(t, resp, body, tt.want)
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body = %.300s, want it to contain %q", body, tt.contains)
			}
			if tt.path == "/openapi.yaml" && !bytes.Equal(body, doc) {
				t.Error("GET /openapi.yaml does not serve openapi.yaml as is")
			}
		})
	}
}

func TestHealthzCallsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for range 3 {
		resp, body := e.do(t, "GET", "/healthz", "")
		e.expect(t, resp, body, 200)
	}
	if w, a := e.fake.WhoamiCalls(), e.fake.AdminCalls(); w != 0 || a != 0 {
		t.Errorf("Ory calls = %d whoami, %d admin; want none", w, a)
	}
}

func TestCookieCredential(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, tok := e.user("c@example.com")
	resp, body := e.do(t, "GET", "/api/resource", "", "Cookie", "theme=dark; ory_kratos_session="+tok+"; other=1")
	e.expect(t, resp, body, 200)
	if got := apitest.Decode[handlers.Resource](t, body).IdentityID; got != id {
		t.Errorf("identity_id = %q, want %q", got, id)
	}
	if got := e.fake.LastWhoami().Get("Cookie"); got != "ory_kratos_session="+tok {
		t.Errorf("Cookie forwarded to Ory = %q, want only the Ory cookie", got)
	}
}

func TestMeHidesAdminData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, tok := e.user("me@example.com")
	e.fake.SetRole(id, "admin")
	resp, body := e.do(t, "GET", "/api/me", tok)
	e.expect(t, resp, body, 200)
	for _, leak := range []string{"credentials", "metadata_admin", "admin-only", "password", "schema_url"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("GET /api/me body shows %q: %s", leak, body)
		}
	}
	me := apitest.Decode[handlers.Identity](t, body)
	if me.ID != id || me.MetadataPublic["role"] != "admin" || me.SchemaID != "default" {
		t.Errorf("GET /api/me = %+v, want identity %s with its public metadata", me, id)
	}
}

func TestRevokeMySession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	me, tok := e.user("me@example.com")
	second := e.session(me)
	_, strangerTok := e.user("stranger@example.com")
	strangerSID := e.fake.SessionID(strangerTok)

	// Both of my sessions are cached.
	for _, tk := range []string{tok, second} {
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, 200)
	}

	t.Run("another identity's session is 404 and stays active", func(t *testing.T) {
		resp, body := e.do(t, "DELETE", "/api/me/sessions/"+strangerSID, tok)
		e.expect(t, resp, body, 404)
		if !e.fake.SessionActive(strangerSID) {
			t.Error("the stranger's session was disabled")
		}
		for _, r := range e.fake.AdminRequests() {
			if strings.Contains(r, strangerSID) {
				t.Errorf("admin request %q names another identity's session", r)
			}
		}
	})
	t.Run("unknown session is 404", func(t *testing.T) {
		resp, body := e.do(t, "DELETE", "/api/me/sessions/"+orytest.NewID(), tok)
		e.expect(t, resp, body, 404)
	})
	t.Run("invalid id is 400", func(t *testing.T) {
		for _, id := range []string{"123", "9f425a8d7efc47688f237647a74fdf13", "9f425a8d-7efc-4768-8f23-7647a74fdf1g"} {
			resp, body := e.do(t, "DELETE", "/api/me/sessions/"+id, tok)
			e.expect(t, resp, body, 400)
		}
	})
	t.Run("own session is revoked and refused at once", func(t *testing.T) {
		sid := e.fake.SessionID(second)
		resp, body := e.do(t, "DELETE", "/api/me/sessions/"+sid, tok)
		e.expect(t, resp, body, 204)
		if e.fake.SessionActive(sid) {
			t.Error("the fake still shows the session active")
		}
		before := e.fake.WhoamiCalls()
		resp, body = e.do(t, "GET", "/api/resource", second)
		e.expect(t, resp, body, 401)
		if e.fake.WhoamiCalls() != before+1 {
			t.Error("the revoked session was answered from the cache")
		}
		// The current session still works.
		resp, body = e.do(t, "GET", "/api/resource", tok)
		e.expect(t, resp, body, 200)
	})
	t.Run("current session revokes itself", func(t *testing.T) {
		resp, body := e.do(t, "DELETE", "/api/me/sessions/"+e.fake.SessionID(tok), tok)
		e.expect(t, resp, body, 204)
		resp, body = e.do(t, "GET", "/api/resource", tok)
		e.expect(t, resp, body, 401)
	})
}

func TestRevokeMyOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	me, current := e.user("me@example.com")
	others := []string{e.session(me), e.session(me)}
	_, strangerTok := e.user("stranger@example.com")
	for _, tk := range append([]string{current, strangerTok}, others...) {
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, 200)
	}

	resp, body := e.do(t, "DELETE", "/api/me/sessions", current)
	e.expect(t, resp, body, 200)
	got := apitest.Decode[handlers.Revoked](t, body).Revoked
	want := []string{e.fake.SessionID(others[0]), e.fake.SessionID(others[1])}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("revoked = %v, want %v", got, want)
	}
	for _, tk := range others {
		if e.fake.SessionActive(e.fake.SessionID(tk)) {
			t.Errorf("session %s still active", e.fake.SessionID(tk))
		}
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, 401)
	}
	for _, tk := range []string{current, strangerTok} {
		if !e.fake.SessionActive(e.fake.SessionID(tk)) {
			t.Errorf("session %s was revoked", e.fake.SessionID(tk))
		}
		resp, body := e.do(t, "GET", "/api/resource", tk)
		e.expect(t, resp, body, 200)
	}

	// Nothing left to revoke.
	resp, body = e.do(t, "DELETE", "/api/me/sessions", current)
	e.expect(t, resp, body, 200)
	if got := apitest.Decode[handlers.Revoked](t, body).Revoked; len(got) != 0 {
		t.Errorf("second sign-out revoked %v, want none", got)
	}
}

// TestRevokeMyOtherSessionsManyPages revokes more sessions than fit one page of
// the list call: disabling while paging must not skip any.
func TestRevokeMyOtherSessionsManyPages(t *testing.T) {
	t.Parallel()
	// Token callers go through the FrontendAPI, session JWT callers through the
	// Admin API, whose list is paged by this service: both must reach every page.
	for _, caller := range []struct {
		name, prefix string
		jwt          bool
	}{{"token", "", false}, {"session JWT", "jwt.", true}} {
		t.Run(caller.name, func(t *testing.T) {
			t.Parallel()
			// Pages of 500 sessions take a while to encode and decode under the race
			// detector on a busy machine, and the JWT caller's revocations are 620
			// Admin API calls: on a loaded CI machine the whole route has been seen to
			// take half a minute, past both the per-call and the route's default
			// deadline. This test is about paging; paging_test.go and the fault tests
			// check the deadlines.
			e := newEnv(t, envOptions{oryTimeout: 2 * time.Minute, bulkTimeout: 2 * time.Minute, jwt: caller.jwt})
			me, current := e.user("busy@example.com")
			const n = 620
			ids := make([]string, 0, n)
			for range n {
				ids = append(ids, e.fake.SessionID(e.fake.AddSession(me)))
			}
			resp, body := e.do(t, "DELETE", "/api/me/sessions", caller.prefix+current)
			e.expect(t, resp, body, 200)
			if got := len(apitest.Decode[handlers.Revoked](t, body).Revoked); got != n {
				t.Errorf("revoked %d sessions, want %d", got, n)
			}
			active := 0
			for _, id := range ids {
				if e.fake.SessionActive(id) {
					active++
				}
			}
			if active != 0 {
				t.Errorf("%d of %d other sessions still active", active, n)
			}
			if !e.fake.SessionActive(e.fake.SessionID(current)) {
				t.Error("the current session was revoked")
			}
		})
	}
}

func TestListMySessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	me, tok := e.user("me@example.com")
	e.session(me)
	e.session(me)
	resp, body := e.do(t, "GET", "/api/me/sessions?page_size=2", tok)
	e.expect(t, resp, body, 200)
	page := apitest.Decode[handlers.SessionList](t, body)
	if len(page.Sessions) != 2 || page.NextPageToken == "" {
		t.Fatalf("first page = %d sessions, next %q; want 2 and a next page", len(page.Sessions), page.NextPageToken)
	}
	resp, body = e.do(t, "GET", "/api/me/sessions?page_size=2&page_token="+page.NextPageToken, tok)
	e.expect(t, resp, body, 200)
	last := apitest.Decode[handlers.SessionList](t, body)
	if len(last.Sessions) != 1 || last.NextPageToken != "" {
		t.Errorf("last page = %d sessions, next %q; want 1 and no next page", len(last.Sessions), last.NextPageToken)
	}
	current := 0
	for _, s := range append(page.Sessions, last.Sessions...) {
		if s.Current {
			current++
			if s.ID != e.fake.SessionID(tok) {
				t.Errorf("current session = %s, want %s", s.ID, e.fake.SessionID(tok))
			}
		}
	}
	if current != 1 {
		t.Errorf("%d sessions marked current, want 1", current)
	}
	for _, q := range []string{"page_size=0", "page_size=501", "page_size=abc", "page_token=bad%20token", "page_token=forged"} {
		resp, body := e.do(t, "GET", "/api/me/sessions?"+q, tok)
		e.expect(t, resp, body, 400)
	}
}

func TestAdminIdentities(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	adminID, adminTok := e.user("admin@example.com")
	e.fake.SetRole(adminID, "admin")
	_, userTok := e.user("user@example.com")
	for i := range 5 {
		e.fake.AddIdentity("u" + string(rune('0'+i)) + "@example.com")
	}

	resp, body := e.do(t, "GET", "/api/admin/identities", userTok)
	e.expect(t, resp, body, 403)
	if p := apitest.Decode[problemBody](t, body); p.Code != "forbidden" {
		t.Errorf("code = %q, want forbidden", p.Code)
	}

	seen := map[string]bool{}
	token, pages := "", 0
	for {
		path := "/api/admin/identities?page_size=3"
		if token != "" {
			path += "&page_token=" + token
		}
		resp, body := e.do(t, "GET", path, adminTok)
		e.expect(t, resp, body, 200)
		list := apitest.Decode[handlers.IdentityList](t, body)
		if len(list.Identities) > 3 {
			t.Fatalf("page of %d identities, want at most 3", len(list.Identities))
		}
		for _, i := range list.Identities {
			seen[i.ID] = true
		}
		if strings.Contains(string(body), "metadata_admin") || strings.Contains(string(body), "credentials") {
			t.Errorf("identity list shows admin data: %.300s", body)
		}
		if pages++; pages > 5 {
			t.Fatal("pagination does not end")
		}
		if token = list.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != 7 || pages != 3 {
		t.Errorf("saw %d identities in %d pages, want 7 in 3", len(seen), pages)
	}

	for _, q := range []string{"page_size=0", "page_size=501", "page_size=abc", "page_size=-1", "page_token=" + strings.Repeat("a", 1025), "page_token=not-a-token"} {
		t.Run(q, func(t *testing.T) {
			resp, body := e.do(t, "GET", "/api/admin/identities?"+q, adminTok)
			e.expect(t, resp, body, 400)
		})
	}
	resp, body = e.do(t, "GET", "/api/admin/identities?page_size=500", adminTok)
	e.expect(t, resp, body, 200)
}

func TestAPIKeyOnAdminCallsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	id, tok := e.user("admin@example.com")
	e.fake.SetRole(id, "admin")
	other := e.session(id)
	for _, r := range []struct{ method, path string }{
		{"GET", "/readyz"}, {"GET", "/api/resource"}, {"GET", "/api/me"}, {"GET", "/api/me/sessions"},
		{"GET", "/api/admin/identities"}, {"DELETE", "/api/me/sessions/" + e.fake.SessionID(other)}, {"DELETE", "/api/me/sessions"},
	} {
		resp, body := e.do(t, r.method, r.path, tok)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: status = %d; body %s", r.method, r.path, resp.StatusCode, body)
		}
	}
	if a, k := e.fake.AdminCalls(), e.fake.AdminCallsWithKey(); a == 0 || a != k {
		t.Errorf("admin calls = %d, with the API key %d; want all with the key", a, k)
	}
	if w, k := e.fake.WhoamiCalls(), e.fake.WhoamiCallsWithKey(); w == 0 || k != 0 {
		t.Errorf("whoami calls = %d, with the API key %d; want none with the key", w, k)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	tests := []struct {
		name       string
		publicURL  string
		fault      orytest.Fault
		want       int
		wantChecks map[string]string
	}{
		{"healthy", "", nil, 200, nil},
		{"admin answers 500", "", orytest.OnAdmin(orytest.Status(500)), 503, map[string]string{"ory_public": "ok", "ory_admin": "unavailable"}},
		{"admin rejects the key", "", orytest.OnAdmin(orytest.Status(401)), 503, map[string]string{"ory_public": "ok", "ory_admin": "unavailable"}},
		{"public answers 502", "", orytest.OnWhoami(orytest.BadGateway()), 503, map[string]string{"ory_public": "unavailable", "ory_admin": "ok"}},
		{"public down", down.URL, nil, 503, map[string]string{"ory_public": "unavailable", "ory_admin": "ok"}},
		{"everything down", "", orytest.Status(500), 503, map[string]string{"ory_public": "unavailable", "ory_admin": "unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{publicURL: tt.publicURL})
			e.fake.SetFault(tt.fault)
			resp, body := e.do(t, "GET", "/readyz", "")
			e.expect(t, resp, body, tt.want)
			if tt.want == 200 {
				return
			}
			p := apitest.Decode[problemBody](t, body)
			if p.Code != "ory_unavailable" || resp.Header.Get("Retry-After") == "" {
				t.Errorf("code = %q, Retry-After %q; want ory_unavailable with Retry-After", p.Code, resp.Header.Get("Retry-After"))
			}
			for k, v := range tt.wantChecks {
				if p.Checks[k] != v {
					t.Errorf("checks = %v, want %v", p.Checks, tt.wantChecks)
					break
				}
			}
		})
	}
}

func TestOryFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		path      string
		fault     func(*orytest.Server) orytest.Fault
		closed    bool
		want      int
		wantCode  string
		wantRetry string
		timeout   time.Duration // the Ory timeout; 0: newEnv's
	}{
		{"whoami 500", "/api/resource", func(*orytest.Server) orytest.Fault { return orytest.OnWhoami(orytest.Status(500)) }, false, 503, "ory_unavailable", "1", 0},
		{"whoami hangs", "/api/resource", func(s *orytest.Server) orytest.Fault { return orytest.OnWhoami(s.Hang()) }, false, 503, "ory_unavailable", "1", hangTimeout},
		{"ory down", "/api/resource", nil, true, 503, "ory_unavailable", "1", 0},
		{"whoami 429", "/api/resource", func(*orytest.Server) orytest.Fault { return orytest.OnWhoami(orytest.RateLimited("4")) }, false, 429, "rate_limited", "4", 0},
		{"aal2", "/api/resource", func(*orytest.Server) orytest.Fault {
			return orytest.OnWhoami(orytest.AAL2Required("http://127.0.0.1:4433/self-service/login/browser?aal=aal2"))
		}, false, 403, "session_aal2_required", "", 0},
		{"admin 429 on /api/me", "/api/me", func(*orytest.Server) orytest.Fault { return orytest.OnAdmin(orytest.RateLimited("9")) }, false, 429, "rate_limited", "9", 0},
		{"admin 429 on the identity list", "/api/admin/identities", func(*orytest.Server) orytest.Fault { return orytest.OnAdmin(orytest.RateLimited("")) }, false, 429, "rate_limited", "1", 0},
		{"self-service 500 on /api/me/sessions", "/api/me/sessions", func(*orytest.Server) orytest.Fault { return orytest.OnSelfService(orytest.Status(500)) }, false, 503, "ory_unavailable", "1", 0},
		{"admin hangs on /api/me", "/api/me", func(s *orytest.Server) orytest.Fault { return orytest.OnAdmin(s.Hang()) }, false, 503, "ory_unavailable", "1", hangTimeout},
		{"self-service hangs on /api/me/sessions", "/api/me/sessions", func(s *orytest.Server) orytest.Fault { return orytest.OnSelfService(s.Hang()) }, false, 503, "ory_unavailable", "1", hangTimeout},
		{"admin malformed on /api/me", "/api/me", func(*orytest.Server) orytest.Fault { return orytest.OnAdmin(orytest.Malformed()) }, false, 503, "ory_unavailable", "1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{oryTimeout: tt.timeout})
			id, tok := e.user("x@example.com")
			e.fake.SetRole(id, "admin")
			if tt.fault != nil {
				e.fake.SetFault(tt.fault(e.fake))
			}
			if tt.closed {
				e.fake.Close()
			}
			start := time.Now()
			resp, body := e.do(t, "GET", tt.path, tok)
			e.expect(t, resp, body, tt.want)
			if elapsed := time.Since(start); elapsed > faultBound(tt.timeout) {
				t.Errorf("answered after %v, want within the Ory timeout", elapsed)
			}
			p := apitest.Decode[problemBody](t, body)
			if p.Code != tt.wantCode {
				t.Errorf("code = %q, want %q", p.Code, tt.wantCode)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			if tt.wantCode == "session_aal2_required" && p.RedirectBrowserTo == "" {
				t.Error("redirect_browser_to missing")
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, tok := e.user("x@example.com")
	req, _ := http.NewRequestWithContext(t.Context(), "DELETE", e.srv.URL+"/api/me/sessions", io.NopCloser(strings.NewReader(strings.Repeat("x", 2<<20))))
	req.ContentLength = 2 << 20
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusRequestEntityTooLarge)
	}
	if e.fake.WhoamiCalls() != 0 {
		t.Error("an oversized request reached Ory")
	}
}
