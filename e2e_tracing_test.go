//go:build e2e

package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/tracecheck"
	"github.com/example/ory-gin-starter/telemetry"
)

// The service traces into a real Kratos: recording proxies in front of its public
// and admin ports show what Kratos receives, a fake collector what the service
// exports (flushed when run returns).
func TestE2ETracing(t *testing.T) {
	k := kratostest.Start(t, kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	public, admin := tracecheck.NewProxy(t, k.PublicURL()), tracecheck.NewProxy(t, k.AdminURL())
	col := tracecheck.NewCollector(t)
	// Self-hosted Kratos ignores the key; it is set to show that it reaches Ory
	// on every admin call and no span.
	const key = "ory_apikey_e2etracing0123456789abcdef"
	svc := startService(t, k, map[string]string{
		"ORY_SDK_URL":                 public.URL,
		"ORY_ADMIN_URL":               admin.URL,
		"ORY_API_KEY":                 key,
		"OTEL_EXPORTER_OTLP_ENDPOINT": col.URL,
		"SESSION_CACHE_DENY_TTL":      "1m",
	})
	email := k.NewEmail()
	alice := k.Register(t, email, password)
	cookie := k.BrowserLogin(t, email, password)
	cookieValue := cookie[strings.IndexByte(cookie, '=')+1:]
	const forged = "ory_st_forgedforgedforgedforgedforged"

	svc.expect(t, 200, "GET", "/api/resource", bearer(alice.SessionToken)...)
	svc.expect(t, 200, "GET", "/api/resource", bearer(alice.SessionToken)...)
	svc.expect(t, 200, "GET", "/api/me", bearer(alice.SessionToken)...)
	svc.expect(t, 200, "GET", "/api/me/sessions", "Cookie", cookie)
	svc.expect(t, 401, "GET", "/api/resource", bearer(forged)...)
	svc.expect(t, 401, "GET", "/api/resource", bearer(forged)...)
	if err := svc.Stop(30 * time.Second); err != nil {
		t.Fatalf("run() = %v", err)
	}
	spans := col.Spans()

	requests := tracecheck.Named(spans, "GET /api/resource")
	outcomes := map[string]int{}
	for _, s := range requests {
		outcomes[s.Attrs[auth.CacheAttribute]]++
		kids := tracecheck.Children(spans, s)
		switch s.Attrs[auth.CacheAttribute] {
		case "miss":
			if len(kids) != 1 || kids[0].Name != "GET /sessions/whoami" || kids[0].Attrs["ory.api"] != "frontend" {
				t.Errorf("uncached request's children = %+v, want the whoami call", kids)
			}
		default:
			if len(kids) != 0 {
				t.Errorf("request answered from the cache (%s) has children %+v", s.Attrs[auth.CacheAttribute], kids)
			}
		}
	}
	if want := map[string]int{"miss": 2, "hit": 1, "refused": 1}; !maps.Equal(outcomes, want) {
		t.Errorf("GET /api/resource by %s = %v, want %v", auth.CacheAttribute, outcomes, want)
	}

	// Every call Kratos received carried the span context of a client span of
	// this trace: the traceparent is what ties Kratos's side to the request.
	clients := map[string]tracecheck.Span{}
	for _, s := range spans {
		if s.Kind == "client" {
			clients[s.Traceparent()] = s
		}
	}
	for side, p := range map[string]*tracecheck.Proxy{"public": public, "admin": admin} {
		for _, r := range p.Requests() {
			tp := r.Header.Get("Traceparent")
			s, ok := clients[tp]
			switch {
			case !ok:
				t.Errorf("Kratos %s received %s %s with traceparent %q, no client span's", side, r.Method, r.Path, tp)
			case s.Name != r.Method+" "+telemetry.Template(r.Path):
				t.Errorf("Kratos %s received %s %s with the traceparent of span %q", side, r.Method, r.Path, s.Name)
			}
			if side == "admin" && r.Header.Get("Authorization") != "Bearer "+key {
				t.Errorf("admin call %s %s without the API key", r.Method, r.Path)
			}
		}
	}
	for _, want := range []string{"GET /admin/identities/{id}", "GET /sessions"} {
		if len(tracecheck.Named(spans, want)) == 0 {
			t.Errorf("no %q client span; spans: %v", want, names(spans))
		}
	}
	if n := len(admin.Requests()); n == 0 {
		t.Error("no admin call reached Kratos")
	}

	if leaks := tracecheck.Leaks(spans, alice.SessionToken, cookieValue, forged, key, password); len(leaks) > 0 {
		t.Errorf("secrets in exported spans:\n%v", leaks)
	}
}

func names(spans []tracecheck.Span) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Kind+" "+s.Name)
	}
	return out
}
