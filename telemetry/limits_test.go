package telemetry_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/tracecheck"
	"github.com/example/ory-gin-starter/telemetry"
)

// An anonymous caller chooses the path, Host and User-Agent of a request that
// matches no route, up to the server's 64 KiB of headers. Spans keep a bounded
// part of each: unbounded, a few such requests fill the span queue with megabytes
// and make export batches a collector refuses, losing everyone's spans with them.
func TestSpanAttributesAreBounded(t *testing.T) {
	t.Parallel()
	col := tracecheck.NewCollector(t)
	tr, err := telemetry.Start(t.Context(), telemetry.Config{Endpoint: col.URL + "/v1/traces", ServiceName: "limits"})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(tr.Server())
	r.NoRoute(func(c *gin.Context) { c.Status(http.StatusNotFound) })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	long := strings.Repeat("a", 16<<10)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/"+long, nil)
	req.Header.Set("User-Agent", long)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status = %d, want %d", resp.StatusCode, http.StatusNotFound)
	}
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	spans := col.Spans()
	if len(spans) != 1 {
		t.Fatalf("spans = %d, want 1", len(spans))
	}
	if got := spans[0].Name; len(got) > 16 {
		t.Errorf("span name = %q, want the method alone for no route", got)
	}
	for k, v := range spans[0].Attrs {
		if len(v) > telemetry.MaxAttributeLength {
			t.Errorf("attribute %s is %d bytes, want at most %d", k, len(v), telemetry.MaxAttributeLength)
		}
	}
}
