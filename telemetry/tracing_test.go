package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/proc"
	"github.com/example/ory-gin-starter/dev/tracecheck"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/telemetry"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

const apiKey = "ory_apikey_telemetrytest0123456789"

// stack is the service's router and Ory clients, traced into memory, in front of
// the fake Ory behind a recording proxy.
type stack struct {
	t     *testing.T
	fake  *orytest.Server
	proxy *tracecheck.Proxy
	exp   *tracetest.InMemoryExporter
	srv   *httptest.Server
	ended serverEnded
	logs  *proc.Buffer
}

func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, fake: orytest.New(t, orytest.WithAPIKey(apiKey)), exp: tracetest.NewInMemoryExporter(), logs: &proc.Buffer{}}
	s.proxy = tracecheck.NewProxy(t, s.fake.URL)
	s.ended = make(serverEnded, 16)
	// The syncer exports each span as it ends, before the processor after it runs.
	tr := telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(s.exp), sdktrace.WithSpanProcessor(s.ended)))
	t.Cleanup(func() { _ = tr.Shutdown(t.Context()) })
	clients := ory.New(ory.Config{PublicURL: s.proxy.URL, AdminURL: s.proxy.URL, APIKey: apiKey, Timeout: 5 * time.Second, Instrument: tr.Client})
	s.srv = httptest.NewServer(handlers.NewRouter(handlers.Deps{
		Logger:  slog.New(slog.NewJSONHandler(s.logs, nil)),
		Checker: auth.NewChecker(clients.Frontend, auth.Options{Timeout: 5 * time.Second, CacheTTL: time.Hour, DenyTTL: time.Hour, Traced: true}),
		Ory:     clients,
		Metrics: metrics.New(),
		Tracing: tr.Server(),
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// get sends a request and returns the spans it made; the exporter is reset.
func (s *stack) get(path string, want int, header ...string) []tracecheck.Span {
	s.t.Helper()
	s.exp.Reset()
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		s.t.Fatalf("GET %s: status = %d, want %d", path, resp.StatusCode, want)
	}
	// The server span ends after the response is written.
	select {
	case <-s.ended:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("GET %s: no server span ended", path)
	}
	return tracecheck.FromStubs(s.exp.GetSpans())
}

// serverEnded is a span processor that reports each server span's end.
type serverEnded chan struct{}

func (c serverEnded) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c serverEnded) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanKind() == trace.SpanKindServer {
		c <- struct{}{}
	}
}
func (c serverEnded) Shutdown(context.Context) error   { return nil }
func (c serverEnded) ForceFlush(context.Context) error { return nil }

const secretQuery = "ory_st_queryqueryqueryqueryquery"

// serverSpan returns the one server span of spans, named for the route.
func serverSpan(t *testing.T, spans []tracecheck.Span, name string) tracecheck.Span {
	t.Helper()
	got := tracecheck.Named(spans, name)
	if len(got) != 1 || got[0].Kind != "server" {
		t.Fatalf("server spans named %q = %+v, want one; all: %+v", name, got, spans)
	}
	return got[0]
}

// lastTraceparent is the traceparent of the last request the proxy forwarded to path.
func (s *stack) lastTraceparent(path string) string {
	reqs := s.proxy.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == path {
			return reqs[i].Header.Get("Traceparent")
		}
	}
	return ""
}

func TestSpanTreeOfUncachedAndCachedRequest(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	id := s.fake.AddIdentity("a@example.com")
	tok := s.fake.AddSession(id)
	var all []tracecheck.Span

	// Uncached: the request's span, and under it the whoami call, whose span
	// context Ory received as traceparent.
	spans := s.get("/api/resource", http.StatusOK, "Authorization", "Bearer "+tok)
	all = append(all, spans...)
	root := serverSpan(t, spans, "GET /api/resource")
	if root.ParentID != "" {
		t.Errorf("request span parent = %q, want a root span", root.ParentID)
	}
	for k, want := range map[string]string{"http.route": "/api/resource", "http.response.status_code": "200", auth.CacheAttribute: "miss"} {
		if got := root.Attrs[k]; got != want {
			t.Errorf("request span %s = %q, want %q", k, got, want)
		}
	}
	kids := tracecheck.Children(spans, root)
	if len(kids) != 1 || kids[0].Name != "GET /sessions/whoami" || kids[0].Kind != "client" || kids[0].Attrs["ory.api"] != "frontend" {
		t.Fatalf("children of the request span = %+v, want the whoami client span (ory.api frontend)", kids)
	}
	if len(spans) != 2 {
		t.Errorf("spans = %d, want 2: %+v", len(spans), spans)
	}
	if got, want := s.lastTraceparent("/sessions/whoami"), kids[0].Traceparent(); got != want {
		t.Errorf("traceparent at Ory = %q, want the whoami span's %q", got, want)
	}
	// The request's log line names its trace, so one leads to the other.
	if want := `"trace_id":"` + root.TraceID + `"`; !strings.Contains(s.logs.String(), want) {
		t.Errorf("request log has no %s:\n%s", want, s.logs)
	}

	// Cached: the request's span alone, saying so.
	spans = s.get("/api/resource", http.StatusOK, "Authorization", "Bearer "+tok)
	all = append(all, spans...)
	root = serverSpan(t, spans, "GET /api/resource")
	if got := root.Attrs[auth.CacheAttribute]; got != "hit" {
		t.Errorf("cached request span %s = %q, want hit", auth.CacheAttribute, got)
	}
	if len(spans) != 1 {
		t.Errorf("cached request spans = %+v, want the request's alone", spans)
	}
	if n := s.fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1", n)
	}

	// An admin call: a client span with the identity id templated out; Ory gets
	// the traceparent and the key, the span neither the key nor the header.
	spans = s.get("/api/me", http.StatusOK, "Authorization", "Bearer "+tok)
	all = append(all, spans...)
	root = serverSpan(t, spans, "GET /api/me")
	kids = tracecheck.Children(spans, root)
	if len(kids) != 1 || kids[0].Name != "GET /admin/identities/{id}" || kids[0].Attrs["ory.api"] != "admin" {
		t.Fatalf("children of GET /api/me = %+v, want GET /admin/identities/{id} (ory.api admin)", kids)
	}
	if got, want := s.lastTraceparent("/admin/identities/"+id), kids[0].Traceparent(); got != want {
		t.Errorf("traceparent at the Admin API = %q, want %q", got, want)
	}
	if n := s.fake.AdminCallsWithKey(); n != 1 {
		t.Errorf("admin calls with the key = %d, want 1", n)
	}

	// A refused cookie, remembered: the second refusal is the cache's.
	const cookie = "ory_kratos_session=cookiecookiecookiecookie"
	s.get("/api/resource", http.StatusUnauthorized, "Cookie", cookie)
	spans = s.get("/api/resource", http.StatusUnauthorized, "Cookie", cookie)
	all = append(all, spans...)
	if got := serverSpan(t, spans, "GET /api/resource").Attrs[auth.CacheAttribute]; got != "refused" {
		t.Errorf("refused again: %s = %q, want refused", auth.CacheAttribute, got)
	}
	// A credential in the query string (which the service ignores) stays out too.
	all = append(all, s.get("/api/resource?token="+secretQuery, http.StatusOK, "X-Session-Token", tok)...)

	if leaks := tracecheck.Leaks(all, tok, apiKey, "cookiecookiecookiecookie", secretQuery); len(leaks) > 0 {
		t.Errorf("secrets in spans:\n%v", leaks)
	}
}

// A caller's traceparent is continued: the request's span is its child, and Ory
// sees the same trace.
func TestCallerTraceIsContinued(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	tok := s.fake.AddSession(s.fake.AddIdentity("a@example.com"))
	const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	spans := s.get("/api/resource", http.StatusOK, "Authorization", "Bearer "+tok, "Traceparent", "00-"+traceID+"-"+parent+"-01")
	root := serverSpan(t, spans, "GET /api/resource")
	if root.TraceID != traceID || root.ParentID != parent {
		t.Errorf("request span trace %s parent %s, want %s %s", root.TraceID, root.ParentID, traceID, parent)
	}
	if got := s.lastTraceparent("/sessions/whoami"); len(got) < 36 || got[3:35] != traceID {
		t.Errorf("traceparent at Ory = %q, want trace %s", got, traceID)
	}
}

// Probes are not traced, and neither are the Ory calls they make.
func TestProbesAreNotTraced(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		s.exp.Reset()
		resp, err := http.Get(s.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status = %d, want 200", path, resp.StatusCode)
		}
		if spans := s.exp.GetSpans(); len(spans) != 0 {
			t.Errorf("GET %s made spans %v, want none", path, spans.Snapshots())
		}
	}
	if got := s.lastTraceparent("/sessions/whoami"); got != "" {
		t.Errorf("readiness probe sent traceparent %q to Ory, want none", got)
	}
}

// Off (a nil *Tracing), nothing is added: no middleware, the transport as it was.
func TestOffAddsNothing(t *testing.T) {
	t.Parallel()
	var off *telemetry.Tracing
	if off.Server() != nil {
		t.Error("Server() is a middleware with tracing off, want nil")
	}
	rt := http.DefaultTransport
	if got := off.Client("admin", rt); got != rt {
		t.Errorf("Client() = %T, want the transport unchanged", got)
	}
	if err := off.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}
