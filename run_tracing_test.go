package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/tracecheck"
)

// With an OTLP endpoint set, run traces each request and its Ory calls, sends Ory
// the traceparent, and flushes every span to the collector before it returns.
func TestRunTracing(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t, orytest.WithAPIKey(unitKey))
	proxy := tracecheck.NewProxy(t, fake.URL)
	col := tracecheck.NewCollector(t)
	id := fake.AddIdentity("a@example.com")
	tok := fake.AddSession(id)
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL":                 proxy.URL,
		"ORY_ADMIN_URL":               proxy.URL,
		"ORY_API_KEY":                 unitKey,
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_SERVICE_NAME":           "starter-under-test",
	})
	svc.expect(t, 200, "GET", "/api/resource", bearer(tok)...)
	svc.expect(t, 200, "GET", "/api/resource", bearer(tok)...)
	svc.expect(t, 200, "GET", "/api/me", bearer(tok)...)
	if !strings.Contains(svc.Logs.String(), `"tracing":"on endpoint=`+col.URL+`/v1/traces service=starter-under-test"`) {
		t.Errorf("start-up log does not say tracing is on:\n%s", svc.Logs)
	}
	if err := svc.Stop(30 * time.Second); err != nil {
		t.Fatalf("run() = %v", err)
	}

	spans := col.Spans()
	byCache := map[string]tracecheck.Span{}
	for _, s := range tracecheck.Named(spans, "GET /api/resource") {
		byCache[s.Attrs[auth.CacheAttribute]] = s
		if got := s.Resource["service.name"]; got != "starter-under-test" {
			t.Errorf("service.name = %q, want starter-under-test", got)
		}
	}
	miss, ok := byCache["miss"]
	if !ok || len(byCache) != 2 {
		t.Fatalf("GET /api/resource spans by %s = %v, want a miss and a hit; all spans: %+v", auth.CacheAttribute, byCache, spans)
	}
	kids := tracecheck.Children(spans, miss)
	if len(kids) != 1 || kids[0].Name != "GET /sessions/whoami" {
		t.Fatalf("children of the uncached request = %+v, want the whoami call", kids)
	}
	if n := len(tracecheck.Children(spans, byCache["hit"])); n != 0 {
		t.Errorf("children of the cached request = %d, want none", n)
	}
	me := tracecheck.Named(spans, "GET /api/me")
	if len(me) != 1 || len(tracecheck.Children(spans, me[0])) != 1 || tracecheck.Children(spans, me[0])[0].Name != "GET /admin/identities/{id}" {
		t.Errorf("GET /api/me spans = %+v, want one with the admin call as child", me)
	}
	seen := map[string]bool{}
	for _, r := range proxy.Requests() {
		seen[r.Header.Get("Traceparent")] = true
	}
	if !seen[kids[0].Traceparent()] {
		t.Errorf("Ory never received the whoami span's traceparent %s", kids[0].Traceparent())
	}
	if leaks := tracecheck.Leaks(spans, tok, unitKey); len(leaks) > 0 {
		t.Errorf("secrets in exported spans:\n%v", leaks)
	}
}

// OTEL_SDK_DISABLED=true turns tracing off even with an endpoint: nothing is
// exported, and Ory receives no trace context.
func TestRunTracingDisabled(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	proxy := tracecheck.NewProxy(t, fake.URL)
	col := tracecheck.NewCollector(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	svc := startRun(t, map[string]string{
		"ORY_SDK_URL":                 proxy.URL,
		"ORY_ADMIN_URL":               proxy.URL,
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"OTEL_SDK_DISABLED":           "true",
	})
	svc.expect(t, 200, "GET", "/api/resource", bearer(tok)...)
	if err := svc.Stop(30 * time.Second); err != nil {
		t.Fatalf("run() = %v", err)
	}
	if n := col.Posts(); n != 0 {
		t.Errorf("exports = %d, want none", n)
	}
	for _, r := range proxy.Requests() {
		if tp := r.Header.Get("Traceparent"); tp != "" {
			t.Errorf("%s %s carried traceparent %q with tracing off", r.Method, r.Path, tp)
		}
	}
}

func TestRunRejectsBadTracingConfig(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
		"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
		"PORT":                        "1",
	}), &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL: ") {
		t.Errorf("run() = %v, want a configuration error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}
