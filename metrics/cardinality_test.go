package metrics_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/metrics"
)

// series counts the http_requests_seconds series /metrics shows.
func series(t *testing.T, r http.Handler) int {
	t.Helper()
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status = %d, want %d", w.Code, http.StatusOK)
	}
	n := 0
	sc := bufio.NewScanner(w.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "http_requests_seconds_count{") {
			n++
		}
	}
	return n
}

// TestRequestLabelsAreBounded sends requests with made-up methods and statuses a
// caller chooses: none of them may add a series.
func TestRequestLabelsAreBounded(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	m := metrics.New()
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(m.Requests())
	r.GET("/healthz", func(c *gin.Context) { c.Status(http.StatusOK) })
	r.GET("/metrics", m.Handler())

	for _, method := range []string{"GET", "PUT"} {
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/healthz", nil))
	}
	series(t, r) // the scrape itself is counted from the second one on
	base := series(t, r)
	for i := range 2000 {
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Method = fmt.Sprintf("X%03d", i)
		r.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Every made-up method lands on one route (405) with one method label.
	if got := series(t, r); got > base+1 {
		t.Errorf("series after 2000 made-up methods = %d, want at most %d", got, base+1)
	}
}
