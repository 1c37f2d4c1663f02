// Package metrics holds the service's Prometheus instruments and serves them.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the instruments. A nil *Metrics records nothing, so packages can be
// used without metrics in tests.
type Metrics struct {
	reg          *prometheus.Registry
	oryCalls     *prometheus.HistogramVec
	cacheLookups *prometheus.CounterVec
	// cacheHit and cacheMiss are resolved once: they are on the hot path.
	cacheHit, cacheMiss prometheus.Counter
	requests            *prometheus.HistogramVec
	oryRateLimited      *prometheus.CounterVec
	shared              shared
}

// New registers the instruments, and the Go runtime and process collectors, on a
// registry of its own (never the global one).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		oryCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ory_session_checks_seconds",
			Help:    "Session checks sent to Ory (whoami), by outcome: valid, unauthorized, forbidden, rate_limited, unavailable.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"outcome"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "session_cache_lookups_total",
			Help: "Session cache lookups, by result: hit, miss, jwt (verified locally, no lookup).",
		}, []string{"result"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_requests_seconds",
			Help:    "HTTP requests served, by route template, method and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "status"}),
	}
	m.oryRateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ory_rate_limited_total",
		Help: "429 answers from Ory, by API: frontend (session checks, the caller's own sessions) or admin.",
	}, []string{"api"})
	reg.MustRegister(m.oryCalls, m.cacheLookups, m.requests, m.oryRateLimited)
	m.shared = newShared(reg)
	m.cacheHit = m.cacheLookups.WithLabelValues("hit")
	m.cacheMiss = m.cacheLookups.WithLabelValues("miss")
	return m
}

// OryCall records one whoami call.
func (m *Metrics) OryCall(outcome string, d time.Duration) {
	if m != nil {
		m.oryCalls.WithLabelValues(outcome).Observe(d.Seconds())
	}
}

// OryRateLimited counts one 429 from Ory. api is "frontend" or "admin"; any other
// value is counted as "other", so the label stays bounded.
func (m *Metrics) OryRateLimited(api string) {
	if m == nil {
		return
	}
	if api != "frontend" && api != "admin" {
		api = "other"
	}
	m.oryRateLimited.WithLabelValues(api).Inc()
}

// CacheLookup records one session cache lookup.
func (m *Metrics) CacheLookup(result string) {
	if m == nil {
		return
	}
	switch result {
	case "hit":
		m.cacheHit.Inc()
	case "miss":
		m.cacheMiss.Inc()
	default:
		m.cacheLookups.WithLabelValues(result).Inc()
	}
}

// Requests is middleware that counts every request by route template, method and
// status. Every label is bounded whatever callers send: unmatched paths share the
// route "unmatched", unknown methods the method "other".
func (m *Metrics) Requests() gin.HandlerFunc {
	return func(c *gin.Context) {
		if m == nil {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		// The status is bounded too: it is what this service's handlers wrote.
		m.requests.WithLabelValues(route, methodLabel(c.Request.Method), strconv.Itoa(c.Writer.Status())).Observe(time.Since(start).Seconds())
	}
}

// methodLabel names the standard methods and puts every other one under "other":
// the method is chosen by the caller, and each new label value is a new series kept
// for the life of the process.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "other"
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() gin.HandlerFunc {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return gin.WrapH(h)
}
