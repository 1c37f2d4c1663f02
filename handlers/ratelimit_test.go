package handlers_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
)

// TestOryRateLimits: a 429 from Ory reaches the caller as 429 rate_limited with a
// Retry-After taken from Ory's answer, against self-hosted Kratos (Retry-After) and
// Ory Network (x-ratelimit-reset, no Retry-After), whether a fault or a full
// bucket sent it; and the next window is served again.
func TestOryRateLimits(t *testing.T) {
	t.Parallel()
	window := time.Second
	tests := []struct {
		name     string
		path     string
		limits   map[string]orytest.Limit // Ory Network's buckets for the test
		fault    func(*orytest.Server) orytest.Fault
		calls    int
		lastWant map[bool]int // by Ory Network: the status of the last call
		retryLo  int          // the Retry-After of a 429, at least
	}{
		{"whoami limited", "/api/resource", nil, func(s *orytest.Server) orytest.Fault { return orytest.OnWhoami(s.RateLimited(4)) }, 1,
			map[bool]int{false: 429, true: 429}, 4},
		{"admin limited", "/api/admin/identities", nil, func(s *orytest.Server) orytest.Fault { return orytest.OnAdmin(s.RateLimited(9)) }, 1,
			map[bool]int{false: 429, true: 429}, 9},
		{"admin limited without a header", "/api/admin/identities", nil, func(*orytest.Server) orytest.Fault { return orytest.OnAdmin(orytest.RateLimited("")) }, 1,
			map[bool]int{false: 429, true: 429}, 1},
		{"whoami bucket fills", "/api/resource", map[string]orytest.Limit{"whoami": {Sustained: 2}}, nil, 3,
			map[bool]int{false: 200, true: 429}, 1},
		{"identity list bucket fills", "/api/admin/identities", map[string]orytest.Limit{"list-identities": {Burst: 2}}, nil, 3,
			map[bool]int{false: 200, true: 429}, 1},
	}
	for _, mode := range oryModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					// The buckets' windows move only when the test says: calls meant to share a
					// window share it however slow the machine is, and the next window is open
					// right after the clock has passed the first.
					clk := orytest.NewClock()
					var opts []orytest.Option
					if mode.opts != nil {
						opts = []orytest.Option{orytest.Network(orytest.NoLimits(), orytest.Limits(tt.limits), orytest.Windows(window, window), orytest.WithClock(clk))}
					}
					e := newEnv(t, envOptions{fake: opts})
					id, tok := e.user("limited@example.com")
					e.fake.SetRole(id, "admin")
					if tt.fault != nil {
						e.fake.SetFault(tt.fault(e.fake))
					}
					var resp *http.Response
					var body []byte
					for range tt.calls {
						resp, body = e.do(t, "GET", tt.path, tok)
					}
					want := tt.lastWant[e.fake.IsNetwork()]
					e.expect(t, resp, body, want)
					if want != http.StatusTooManyRequests {
						return
					}
					if p := apitest.Decode[problemBody](t, body); p.Code != "rate_limited" {
						t.Errorf("code = %q, want rate_limited", p.Code)
					}
					ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
					if err != nil || ra < tt.retryLo || ra > max(tt.retryLo*3/2+1, 2) {
						t.Errorf("Retry-After = %q, want %d..%d", resp.Header.Get("Retry-After"), tt.retryLo, max(tt.retryLo*3/2+1, 2))
					}
					if tt.fault != nil {
						e.fake.SetFault(nil)
					} else {
						clk.Advance(window)
					}
					resp, body = e.do(t, "GET", tt.path, tok)
					e.expect(t, resp, body, http.StatusOK)
				})
			}
		})
	}
}
