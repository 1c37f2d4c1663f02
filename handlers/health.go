package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"
	"golang.org/x/sync/singleflight"

	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// Health answers liveness probes. It calls nothing: a live process is enough.
func Health() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	}
}

// nilUUID names no identity: asking for it proves the Admin API answers and accepts
// the key (404), and it is cheaper and less rate limited than listing identities.
const nilUUID = "00000000-0000-0000-0000-000000000000"

// readyTimeout bounds each readiness probe. readyEvery is how often /readyz may ask
// Ory at most: /readyz is anonymous, and Ory's rate limits are per project, so a
// flood of it must not turn into 429s for real users. A probe's result is reused
// until readyEvery has passed since it started, and concurrent callers share one
// probe: two Ory calls (one per API) per readyEvery, whatever the traffic.
const (
	readyTimeout = 2 * time.Second
	readyEvery   = 2 * time.Second
)

// Ready answers readiness probes: 200 when Ory's FrontendAPI and Admin API answer
// as expected, else 503 naming each failed check. The answer may be up to
// readyEvery old.
func Ready(frontend client.FrontendAPI, ids client.IdentityAPI) gin.HandlerFunc {
	r := &readiness{frontend: frontend, ids: ids}
	return func(c *gin.Context) {
		res, err := r.result(c.Request.Context())
		if err != nil {
			p := problem.Unavailable(err)
			p.Detail = "Ory is not answering as expected; see checks."
			p.Checks = res.checks
			problem.Abort(c, p)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": res.checks})
	}
}

// readiness runs the probes and keeps the last result.
type readiness struct {
	frontend client.FrontendAPI
	ids      client.IdentityAPI
	group    singleflight.Group

	mu      sync.Mutex
	last    *probeResult
	started time.Time // when last's probe started
}

type probeResult struct {
	checks map[string]string // read-only once made: shared by every caller
	err    error
}

// fresh returns the last result if its probe started less than readyEvery ago.
func (r *readiness) fresh() (*probeResult, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.last != nil && time.Since(r.started) < readyEvery
}

func (r *readiness) result(ctx context.Context) (probeResult, error) {
	if res, ok := r.fresh(); ok {
		return *res, res.err
	}
	ch := r.group.DoChan("probe", func() (any, error) {
		// A caller may have seen the cache expire just as another probe ended.
		if res, ok := r.fresh(); ok {
			return res, nil
		}
		start := time.Now()
		// Detached from the first caller, whose leaving must not fail the others;
		// readyTimeout still bounds it.
		res := r.probe(context.WithoutCancel(ctx))
		r.mu.Lock()
		r.last, r.started = res, start
		r.mu.Unlock()
		return res, nil
	})
	select {
	case v := <-ch:
		res := v.Val.(*probeResult)
		return *res, res.err
	case <-ctx.Done():
		return probeResult{}, ctx.Err()
	}
}

// probe asks both Ory APIs at once, with no credential but the admin client's key.
func (r *readiness) probe(ctx context.Context) *probeResult {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	type answer struct {
		check string
		err   error
	}
	public, admin := make(chan answer, 1), make(chan answer, 1)
	go func() {
		// No credential: a healthy Ory answers 401.
		_, resp, err := r.frontend.ToSession(ctx).Execute()
		c, err := check(resp, err, http.StatusUnauthorized)
		public <- answer{c, err}
	}()
	go func() {
		_, resp, err := r.ids.GetIdentity(ctx, nilUUID).Execute()
		c, err := check(resp, err, http.StatusNotFound)
		admin <- answer{c, err}
	}()

	p, a := <-public, <-admin
	res := &probeResult{checks: map[string]string{"ory_public": p.check, "ory_admin": a.check}}
	var failed []error
	if p.err != nil {
		failed = append(failed, fmt.Errorf("ory public: %w", p.err))
	}
	if a.err != nil {
		failed = append(failed, fmt.Errorf("ory admin: %w", a.err))
	}
	res.err = errors.Join(failed...)
	return res
}

// check turns one probe's answer into its check. A 429 is "rate_limited" and no
// failure: Ory answered, so it is up, and its limits are per project, so failing
// on them would take every replica out of service at once while Ory still serves
// the requests that fit. Callers see the 429 on their own requests.
func check(resp *http.Response, err error, want int) (string, error) {
	switch {
	case resp == nil:
		return "unavailable", err
	case resp.StatusCode == want:
		return "ok", nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return "rate_limited", nil
	}
	return "unavailable", ory.AdminProblem(resp, err)
}
