package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/tracecheck"
	"github.com/example/ory-gin-starter/telemetry"
)

// TraceIDRatioBased samples by the trace id, and a caller whose traceparent is
// continued chooses it: one ending in zeros is under every ratio. So a sampler
// that ignores parents (OTEL_TRACES_SAMPLER=traceidratio, always_on, always_off)
// must also not continue the caller's trace, or an anonymous caller still has
// every request it sends traced and exported. A parent-based sampler follows the
// caller, as documented.
func TestCallerCannotForceSampling(t *testing.T) {
	const traceID = "4bf92f3577b34da60000000000000000" // its low half is 0: under any ratio
	for _, tt := range []struct {
		sampler string
		want    int // spans exported of 20 requests
	}{
		{sampler: "parentbased_traceidratio", want: 20},
		{sampler: "traceidratio", want: 0},
	} {
		t.Run(tt.sampler, func(t *testing.T) {
			// The SDK reads its sampler from the process environment, FromEnv
			// through getenv; main gives both the same.
			env := map[string]string{"OTEL_TRACES_SAMPLER": tt.sampler, "OTEL_TRACES_SAMPLER_ARG": "0.000000000001"}
			for k, v := range env {
				t.Setenv(k, v)
			}
			col := tracecheck.NewCollector(t)
			env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.URL
			cfg, err := telemetry.FromEnv(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			tr, err := telemetry.Start(t.Context(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := gin.New()
			r.Use(tr.Server())
			r.GET("/api/resource", func(c *gin.Context) { c.Status(http.StatusUnauthorized) })
			srv := httptest.NewServer(r)
			t.Cleanup(srv.Close)
			for range 20 {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/resource", nil)
				req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			if err := tr.Shutdown(t.Context()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			spans := col.Spans()
			if len(spans) != tt.want {
				t.Fatalf("spans exported = %d, want %d", len(spans), tt.want)
			}
			for _, s := range spans {
				if s.TraceID != traceID {
					t.Errorf("span trace = %s, want the caller's %s", s.TraceID, traceID)
				}
			}
		})
	}
}
