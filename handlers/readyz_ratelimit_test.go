package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
)

// TestReadyzRateLimitedIsReady: a 429 proves Ory is up and answering. Ory's limits
// are per project, so a 429 on the probe would otherwise take every replica out of
// the load balancer at once, for a limit that users may not even be hitting.
func TestReadyzRateLimitedIsReady(t *testing.T) {
	t.Parallel()
	for _, mode := range oryModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name       string
				fault      func(*orytest.Server) orytest.Fault
				want       int
				wantChecks map[string]string
			}{
				{"both limited", func(s *orytest.Server) orytest.Fault { return s.RateLimited(30) }, 200,
					map[string]string{"ory_public": "rate_limited", "ory_admin": "rate_limited"}},
				{"public limited", func(s *orytest.Server) orytest.Fault { return orytest.OnWhoami(s.RateLimited(30)) }, 200,
					map[string]string{"ory_public": "rate_limited", "ory_admin": "ok"}},
				{"admin limited", func(s *orytest.Server) orytest.Fault { return orytest.OnAdmin(orytest.RateLimited("")) }, 200,
					map[string]string{"ory_public": "ok", "ory_admin": "rate_limited"}},
				{"public limited, admin down", func(s *orytest.Server) orytest.Fault {
					return func(w http.ResponseWriter, r *http.Request) bool {
						if r.URL.Path == "/sessions/whoami" {
							return s.RateLimited(30)(w, r)
						}
						return orytest.Status(500)(w, r)
					}
				}, 503, map[string]string{"ory_public": "rate_limited", "ory_admin": "unavailable"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					e := newEnv(t, envOptions{fake: mode.opts})
					e.fake.SetFault(tt.fault(e.fake))
					resp, body := e.do(t, "GET", "/readyz", "")
					e.expect(t, resp, body, tt.want)
					p := apitest.Decode[readyBody](t, body)
					for k, v := range tt.wantChecks {
						if p.Checks[k] != v {
							t.Errorf("checks = %v, want %v", p.Checks, tt.wantChecks)
							break
						}
					}
				})
			}
		})
	}
}

// TestReadyzWhileUsersDrainTheBucket: on Ory Network, users' traffic that fills
// the project's whoami bucket leaves /readyz ready.
func TestReadyzWhileUsersDrainTheBucket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{fake: []orytest.Option{orytest.Network(
		orytest.Limits(map[string]orytest.Limit{"whoami": {Burst: 0, Sustained: 3}}),
		orytest.Windows(time.Second, time.Minute))}})
	_, tok := e.user("busy@example.com")
	for range 5 {
		e.do(t, "GET", "/api/resource", tok) // the cache is off: each one asks Ory
	}
	if e.fake.RateLimitedCalls() == 0 {
		t.Fatal("the whoami bucket never filled")
	}
	resp, body := e.do(t, "GET", "/readyz", "")
	e.expect(t, resp, body, http.StatusOK)
	if p := apitest.Decode[readyBody](t, body); p.Checks["ory_public"] != "rate_limited" {
		t.Errorf("checks = %v, want ory_public rate_limited", p.Checks)
	}
}

// readyBody holds what /readyz answers either way: its checks.
type readyBody struct {
	Checks map[string]string `json:"checks"`
}
