package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/telemetry"
)

// BenchmarkTracingCached is the cached gate path with tracing off, as run wires it
// when no OTEL_* variable asks for tracing (no middleware, nothing installed), and
// on, every request sampled, its span ended and handed to an exporter that drops
// it: the cost of the spans themselves, without the network. Compare off with
// BenchmarkRequireSessionCached on a commit before tracing to see that off costs
// nothing (docs/tracing.md).
func BenchmarkTracingCached(b *testing.B) {
	for _, bc := range []struct {
		name    string
		tracing *telemetry.Tracing
	}{
		{"off", nil},
		{"on", telemetry.New(sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter())))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fake := orytest.New(b)
			tok := fake.AddSession(fake.AddIdentity("a@example.com"))
			k := newChecker(b, fake, Options{CacheTTL: time.Hour, Traced: bc.tracing != nil})
			r := gin.New()
			if mw := bc.tracing.Server(); mw != nil {
				r.Use(mw)
			}
			r.GET("/api/resource", RequireSession(k), func(c *gin.Context) { c.Status(http.StatusNoContent) })
			req := httptest.NewRequest(http.MethodGet, "/api/resource", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			r.ServeHTTP(httptest.NewRecorder(), req) // warm the cache

			serveLoop(b, r, req)
			if n := fake.WhoamiCalls(); n != 1 {
				b.Fatalf("whoami calls = %d, want 1", n)
			}
			_ = bc.tracing.Shutdown(b.Context())
		})
	}
}
