package orytest

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limit is one rate-limit bucket: at most Burst requests per burst window and
// Sustained per sustained window (a second and a minute unless Windows says
// otherwise). Zero means no limit of that kind.
type Limit struct {
	Burst, Sustained int
}

// DeveloperLimits returns the fake's default buckets for Ory Network's Developer
// plan, by bucket name (see the routes in bucketRoutes). docs/ory-network.md says
// where the figures come from; they change, so tests set their own through Limits
// and never depend on these.
func DeveloperLimits() map[string]Limit {
	return map[string]Limit{
		"whoami":                 {Burst: 10, Sustained: 200},
		"frontend-sessions":      {Burst: 5, Sustained: 100},
		"get-identity":           {Burst: 5, Sustained: 40},
		"list-identities":        {Burst: 1, Sustained: 10},
		"list-identity-sessions": {Burst: 5, Sustained: 25},
		"disable-session":        {Burst: 5, Sustained: 80},
		"get-session":            {Burst: 5, Sustained: 100},
		"*":                      {Burst: 5, Sustained: 150},
	}
}

// bucketRoutes names the bucket of each route the fake serves; other paths count
// against "*". Ory Network shares one counter among every endpoint of a bucket,
// across the whole project.
var bucketRoutes = map[string]string{
	"GET /sessions/whoami":                "whoami",
	"GET /sessions":                       "frontend-sessions",
	"DELETE /sessions":                    "frontend-sessions",
	"DELETE /sessions/{id}":               "frontend-sessions",
	"GET /admin/identities/{id}":          "get-identity",
	"GET /admin/identities":               "list-identities",
	"GET /admin/identities/{id}/sessions": "list-identity-sessions",
	"GET /admin/sessions/{id}":            "get-session",
	"DELETE /admin/sessions/{id}":         "disable-session",
}

// NetworkOption configures Network mode.
type NetworkOption func(*network)

// Limits replaces the limits of the named buckets (the others keep theirs).
func Limits(l map[string]Limit) NetworkOption {
	return func(n *network) {
		for k, v := range l {
			n.limits[k] = v
		}
	}
}

// NoLimits turns the buckets off: Ory Network's headers and bodies without its
// limits, for tests about something else.
func NoLimits() NetworkOption {
	return func(n *network) { clear(n.limits) }
}

// Windows shrinks (or stretches) the burst and sustained windows, so tests can
// see a window reset without waiting a minute.
func Windows(burst, sustained time.Duration) NetworkOption {
	return func(n *network) { n.burstWindow, n.sustainedWindow = burst, sustained }
}

// WithClock makes the buckets read the time from c instead of the wall clock, so
// a test decides when a window resets: on a loaded machine the wall clock may
// reset a window between two calls meant to share it, or not yet have reset it
// after a sleep meant to outlast it.
func WithClock(c *Clock) NetworkOption {
	return func(n *network) { n.now = c.Now }
}

// Clock is a time source that moves only when told to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock standing at the current time.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Network makes the fake answer like Ory Network rather than self-hosted Kratos:
// per-endpoint rate-limit buckets (DeveloperLimits unless changed), x-ratelimit-*
// headers on the answers of limited routes, and 429s that carry
// x-ratelimit-reset and Ory Network's error body but no Retry-After.
func Network(opts ...NetworkOption) Option {
	return func(s *Server) {
		n := &network{
			limits:          DeveloperLimits(),
			burstWindow:     time.Second,
			sustainedWindow: time.Minute,
			now:             time.Now,
			buckets:         map[string]*bucket{},
			mux:             http.NewServeMux(),
		}
		for pattern := range bucketRoutes {
			n.mux.HandleFunc(pattern, func(http.ResponseWriter, *http.Request) {})
		}
		for _, o := range opts {
			o(n)
		}
		s.network = n
	}
}

// IsNetwork reports whether the fake runs in Network mode.
func (s *Server) IsNetwork() bool { return s.network != nil }

// RateLimited answers 429 as this fake's Ory would when a window has reset
// seconds left: Retry-After from self-hosted Kratos (behind a proxy that sends
// it), x-ratelimit-* and no Retry-After from Ory Network.
func (s *Server) RateLimited(reset int) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if s.network == nil {
			return RateLimited(strconv.Itoa(reset))(w, r)
		}
		w.Header().Set("X-Ratelimit-Limit", "10, 10;w=1, 300;w=60")
		w.Header().Set("X-Ratelimit-Remaining", "0")
		w.Header().Set("X-Ratelimit-Reset", strconv.Itoa(reset))
		writeNetworkError(w, http.StatusTooManyRequests)
		return true
	}
}

// RateLimitedCalls is the number of requests the Network mode buckets refused.
func (s *Server) RateLimitedCalls() int64 {
	if s.network == nil {
		return 0
	}
	s.network.mu.Lock()
	defer s.network.mu.Unlock()
	return s.network.refused
}

// network is the state of Network mode.
type network struct {
	limits                       map[string]Limit
	burstWindow, sustainedWindow time.Duration
	mux                          *http.ServeMux // matches requests to bucketRoutes
	now                          func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	refused int64
}

// bucket counts requests in fixed windows, as a simple stand-in for Ory's limiter.
type bucket struct {
	burstStart, sustainedStart time.Time
	burst, sustained           int
}

// admit counts r against its bucket and sets the x-ratelimit-* headers. When the
// bucket is full it answers 429 itself and returns false.
func (n *network) admit(w http.ResponseWriter, r *http.Request) bool {
	_, pattern := n.mux.Handler(r)
	name, ok := bucketRoutes[pattern]
	if !ok {
		name = "*"
	}
	lim, ok := n.limits[name]
	if !ok || lim.Burst == 0 && lim.Sustained == 0 {
		return true
	}
	now := n.now()
	n.mu.Lock()
	b := n.buckets[name]
	if b == nil {
		b = &bucket{burstStart: now, sustainedStart: now}
		n.buckets[name] = b
	}
	if now.Sub(b.burstStart) >= n.burstWindow {
		b.burstStart, b.burst = now, 0
	}
	if now.Sub(b.sustainedStart) >= n.sustainedWindow {
		b.sustainedStart, b.sustained = now, 0
	}
	var refused bool
	var reset time.Duration
	switch {
	case lim.Sustained > 0 && b.sustained >= lim.Sustained:
		refused, reset = true, n.sustainedWindow-now.Sub(b.sustainedStart)
	case lim.Burst > 0 && b.burst >= lim.Burst:
		refused, reset = true, n.burstWindow-now.Sub(b.burstStart)
	default:
		b.burst++
		b.sustained++
		reset = n.burstWindow - now.Sub(b.burstStart)
		if lim.Burst == 0 {
			reset = n.sustainedWindow - now.Sub(b.sustainedStart)
		}
	}
	remaining := math.MaxInt
	if lim.Burst > 0 {
		remaining = lim.Burst - b.burst
	}
	if lim.Sustained > 0 {
		remaining = min(remaining, lim.Sustained-b.sustained)
	}
	if refused {
		n.refused++
	}
	n.mu.Unlock()

	h := w.Header()
	h.Set("X-Ratelimit-Limit", limitHeader(lim, n.burstWindow, n.sustainedWindow))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(max(remaining, 0)))
	h.Set("X-Ratelimit-Reset", strconv.Itoa(ceilSeconds(reset)))
	if refused {
		writeNetworkError(w, http.StatusTooManyRequests)
		return false
	}
	return true
}

func limitHeader(l Limit, burst, sustained time.Duration) string {
	first := l.Burst
	if first == 0 {
		first = l.Sustained
	}
	v := strconv.Itoa(first)
	if l.Burst > 0 {
		v += fmt.Sprintf(", %d;w=%d", l.Burst, ceilSeconds(burst))
	}
	if l.Sustained > 0 {
		v += fmt.Sprintf(", %d;w=%d", l.Sustained, ceilSeconds(sustained))
	}
	return v
}

// ceilSeconds rounds d up to whole seconds, at least 1: the headers carry seconds.
func ceilSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// writeNetworkError writes the error document Ory Network's edge answers with.
func writeNetworkError(w http.ResponseWriter, status int) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    status,
		"status":  http.StatusText(status),
		"message": "Too many requests, please slow down.",
	}})
}
