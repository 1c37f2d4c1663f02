package metrics_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// service is the real router, with the session cache on, in front of a fake Ory.
type service struct {
	fake   *orytest.Server
	srv    *httptest.Server
	v      *apitest.Validator
	routes map[string]bool // the router's route templates
}

func newService(t *testing.T) *service {
	t.Helper()
	fake := orytest.New(t)
	clients := ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL, Timeout: 5 * time.Second})
	m := metrics.New()
	router := handlers.NewRouter(handlers.Deps{
		Logger:  slog.New(slog.DiscardHandler),
		Checker: auth.NewChecker(clients.Frontend, auth.Options{Timeout: 5 * time.Second, CacheTTL: time.Minute, Metrics: m}),
		Ory:     clients,
		Metrics: m,
		OpenAPI: []byte("openapi: 3.1.0\n"),
	})
	s := &service{fake: fake, srv: httptest.NewServer(router), v: apitest.New(t), routes: map[string]bool{}}
	t.Cleanup(s.srv.Close)
	for _, r := range router.Routes() {
		s.routes[r.Path] = true
	}
	return s
}

// get sends GET path with token as a Bearer token (when not "") and returns the status.
func (s *service) get(t testing.TB, path, token string) int {
	t.Helper()
	return s.do(t, http.MethodGet, path, token)
}

// do sends a request with token as a Bearer token (when not "") and returns the status.
func (s *service) do(t testing.TB, method, path, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	s.v.CheckResponse(t, resp)
	return resp.StatusCode
}

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads GET /metrics.
func (s *service) scrape(t testing.TB) scraped {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.srv.URL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := s.v.CheckResponse(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status = %d, want %d", resp.StatusCode, http.StatusOK)
	}
	return parse(t, string(body))
}

type scraped []sample

// value sums the samples called name whose labels include want.
func (sc scraped) value(name string, want map[string]string) float64 {
	var sum float64
	for _, s := range sc {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			sum += s.value
		}
	}
	return sum
}

// parse reads the Prometheus text format: name{k="v",...} value. Label values here
// never hold quotes, commas or braces.
func parse(t testing.TB, text string) scraped {
	t.Helper()
	var out scraped
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series, v, ok := strings.Cut(line, " ")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			t.Fatalf("metrics line %q is not name value", line)
		}
		s := sample{name: series, labels: map[string]string{}, value: f}
		if name, rest, ok := strings.Cut(series, "{"); ok {
			s.name = name
			for pair := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), ",") {
				k, v, _ := strings.Cut(pair, "=")
				s.labels[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, s)
	}
	return out
}

const (
	checks   = "ory_session_checks_seconds_count"
	lookups  = "session_cache_lookups_total"
	requests = "http_requests_seconds_count"
)

func TestMetricsCountWhatHappens(t *testing.T) {
	t.Parallel()
	s := newService(t)
	id := s.fake.AddIdentity("m@example.com")
	tok := s.fake.AddSession(id)
	resource := map[string]string{"route": "/api/resource", "method": "GET", "status": "200"}

	type want struct {
		name   string
		labels map[string]string
		value  float64
	}
	expect := func(t *testing.T, wants ...want) {
		t.Helper()
		sc := s.scrape(t)
		for _, w := range wants {
			if got := sc.value(w.name, w.labels); got != w.value {
				t.Errorf("%s %v = %v, want %v", w.name, w.labels, got, w.value)
			}
		}
	}

	t.Run("miss", func(t *testing.T) {
		if got := s.get(t, "/api/resource", tok); got != http.StatusOK {
			t.Fatalf("status = %d, want %d", got, http.StatusOK)
		}
		expect(t,
			want{lookups, map[string]string{"result": "miss"}, 1},
			want{lookups, map[string]string{"result": "hit"}, 0},
			want{checks, map[string]string{"outcome": "valid"}, 1},
			want{requests, resource, 1},
		)
	})
	t.Run("hit", func(t *testing.T) {
		if got := s.get(t, "/api/resource", tok); got != http.StatusOK {
			t.Fatalf("status = %d, want %d", got, http.StatusOK)
		}
		expect(t,
			want{lookups, map[string]string{"result": "miss"}, 1},
			want{lookups, map[string]string{"result": "hit"}, 1},
			want{checks, map[string]string{"outcome": "valid"}, 1},
			want{requests, resource, 2},
		)
	})
	t.Run("coalesced", func(t *testing.T) {
		// One new token checked by n requests at once: n misses, one Ory call.
		const n = 5
		shared := s.fake.AddSession(id)
		release := make(chan struct{})
		s.fake.SetFault(orytest.OnWhoami(func(w http.ResponseWriter, r *http.Request) bool {
			<-release
			return false
		}))
		var wg sync.WaitGroup
		statuses := make(chan int, n)
		for range n {
			wg.Go(func() {
				// Not s.get: only the test's goroutine may stop it.
				req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/api/resource", nil)
				req.Header.Set("Authorization", "Bearer "+shared)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			})
		}
		// Hold Ory until every request has missed the cache and joined the call.
		deadline := time.Now().Add(5 * time.Second)
		misses := 0.0
		for misses < 1+n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			misses = s.scrape(t).value(lookups, map[string]string{"result": "miss"})
		}
		time.Sleep(50 * time.Millisecond)
		close(release)
		wg.Wait()
		s.fake.SetFault(nil)
		close(statuses)
		if misses < 1+n {
			t.Fatalf("%s{result=miss} = %v after %d concurrent requests, want %d", lookups, misses, n, 1+n)
		}
		for got := range statuses {
			if got != http.StatusOK {
				t.Errorf("status = %d, want %d", got, http.StatusOK)
			}
		}
		if got := s.fake.WhoamiCalls(); got != 2 {
			t.Errorf("whoami calls = %d, want 2 (the first miss, then one for the %d coalesced)", got, n)
		}
		expect(t,
			want{lookups, map[string]string{"result": "miss"}, 1 + n},
			want{checks, map[string]string{"outcome": "valid"}, 2},
			want{requests, resource, 2 + n},
		)
	})
	t.Run("refused", func(t *testing.T) {
		if got := s.get(t, "/api/resource", "ory_st_forgedforgedforgedforgedforged"); got != http.StatusUnauthorized {
			t.Fatalf("status = %d, want %d", got, http.StatusUnauthorized)
		}
		expect(t,
			want{checks, map[string]string{"outcome": "unauthorized"}, 1},
			want{requests, map[string]string{"route": "/api/resource", "method": "GET", "status": "401"}, 1},
		)
	})
	t.Run("unmatched and templated routes", func(t *testing.T) {
		sid := s.fake.SessionID(tok)
		for _, path := range []string{"/nope", "/nope/" + sid, "/api/resource/extra"} {
			if got := s.get(t, path, ""); got != http.StatusNotFound {
				t.Errorf("GET %s: status = %d, want %d", path, got, http.StatusNotFound)
			}
		}
		unknown := orytest.NewID()
		if got := s.do(t, http.MethodDelete, "/api/me/sessions/"+unknown, tok); got != http.StatusNotFound {
			t.Errorf("DELETE /api/me/sessions/{unknown}: status = %d, want %d", got, http.StatusNotFound)
		}
		expect(t,
			want{requests, map[string]string{"route": "unmatched", "method": "GET", "status": "404"}, 3},
			want{requests, map[string]string{"route": "/api/me/sessions/:id", "method": "DELETE", "status": "404"}, 1},
		)
		sc := s.scrape(t)
		seen := 0
		for _, smp := range sc {
			route, ok := smp.labels["route"]
			if smp.name != requests || !ok {
				continue
			}
			seen++
			if route != "unmatched" && !s.routes[route] {
				t.Errorf("route label %q is neither a route template nor \"unmatched\"", route)
			}
			if strings.Contains(route, sid) || strings.Contains(route, unknown) || strings.Contains(route, "nope") {
				t.Errorf("route label %q holds the raw path", route)
			}
		}
		if seen == 0 {
			t.Error("no http_requests_seconds samples")
		}
	})
}

// TestNilMetricsRecordNothing: packages take a nil *Metrics in tests; it must not panic.
func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.OryCall("valid", time.Millisecond)
	m.CacheLookup("hit")
	r := gin.New()
	r.Use(m.Requests())
	r.GET("/x", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
	if w.Code != http.StatusNoContent {
		t.Errorf("status = %d, want %d", w.Code, http.StatusNoContent)
	}
}
