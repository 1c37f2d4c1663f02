package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/proc"
)

// Replicas: how many whoami calls Ory sees per active user per minute with one
// replica, with three behind a round-robin balancer, and with three sharing their
// cache on Redis (REDIS_URL, docs/scaling.md). A short TTL makes a few seconds
// stand for many minutes at the default TTL.
const (
	replicaTTL   = 2 * time.Second
	replicaRun   = 12 * time.Second
	replicaUsers = 20
	replicaPace  = 50 * time.Millisecond // between one user's requests
	// sharedMax is how far above one replica's rate three replicas on Redis may be.
	sharedMax = 1.5
	benchKey  = "bench-shared-cache-key-0123456789abcdef"
	// replicaRedisTimeout is above the default: wrk, Kratos and three replicas
	// share the machine, and a Redis call outlasting a tight bound there would
	// measure fallbacks (each an extra whoami, as designed), not sharing.
	replicaRedisTimeout = 50 * time.Millisecond
)

// replicaRow is one setup's result.
type replicaRow struct {
	label    string
	replicas int
	redis    bool
	perMin   float64 // whoami calls per user per minute
	wrong    int64   // answers other than 200
}

// measureReplicas runs the three setups with the users' tokens.
func (b *bench) measureReplicas(ctx context.Context, svcBin string, k *kratostest.Kratos, redisURL string, tokens []string) ([]replicaRow, error) {
	rows := []replicaRow{
		{label: "1 replica", replicas: 1},
		{label: "3 replicas, no Redis", replicas: 3},
		{label: "3 replicas, Redis", replicas: 3, redis: true},
	}
	for i := range rows {
		r := &rows[i]
		var reps []*proc.Process
		for j := range r.replicas {
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
				"ORY_SDK_URL=" + k.PublicURL(), "ORY_ADMIN_URL=" + k.AdminURL(), "LOG_LEVEL=warn",
				"SESSION_CACHE_TTL=" + replicaTTL.String()}
			if r.redis {
				env = append(env, "REDIS_URL="+redisURL, "REDIS_CACHE_KEY="+benchKey, "REDIS_TIMEOUT="+replicaRedisTimeout.String())
			}
			name := fmt.Sprintf("replica-%d-%d", i, j)
			p, err := proc.Start(ctx, proc.Config{Bin: svcBin, Dir: b.out, Env: env, CPUs: b.appCPUs,
				LogFile: filepath.Join(b.out, "service-"+name+".log")})
			if err != nil {
				stopAll(reps)
				return nil, fmt.Errorf("start the service (%s): %w", name, err)
			}
			reps = append(reps, p)
		}
		before := settledWhoami(k)
		r.wrong = drive(ctx, reps, tokens[:replicaUsers])
		calls := settledWhoami(k) - before
		stopAll(reps)
		r.perMin = float64(calls) / replicaUsers / replicaRun.Minutes()
	}
	return rows, nil
}

// drive has each user send a request every replicaPace for replicaRun, to the
// replicas in turn, and returns how many answers were not 200.
func drive(ctx context.Context, reps []*proc.Process, tokens []string) int64 {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	var wrong atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(replicaRun)
	for u, tok := range tokens {
		wg.Go(func() {
			for i := u; time.Now().Before(end) && ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reps[i%len(reps)].URL+"/api/resource", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					wrong.Add(1)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(replicaPace)
			}
		})
	}
	wg.Wait()
	return wrong.Load()
}

func stopAll(ps []*proc.Process) {
	for _, p := range ps {
		_ = p.Stop()
	}
}

// reportReplicas prints the replicas table.
func reportReplicas(w io.Writer, rows []replicaRow) {
	fmt.Fprintf(w, "\nwhoami calls per active user per minute: %d users, a request each every %s for %s, to the replicas in turn\n",
		replicaUsers, replicaPace, replicaRun)
	fmt.Fprintf(w, "(SESSION_CACHE_TTL=%s, at the default 30s divide by %.0f; REDIS_TIMEOUT=%s on the Redis row)\n",
		replicaTTL, (30*time.Second).Seconds()/replicaTTL.Seconds(), replicaRedisTimeout)
	for _, r := range rows {
		fmt.Fprintf(w, "  %-44s %7.1f   errors %d\n", r.label, r.perMin, r.wrong)
	}
	if len(rows) == 3 {
		fmt.Fprintf(w, "  %-44s %7.2f   target <= %.2f: %s\n", "3 replicas on Redis / 1 replica", ratio(rows[2].perMin, rows[0].perMin),
			sharedMax, passMiss(rows[0].perMin > 0 && ratio(rows[2].perMin, rows[0].perMin) <= sharedMax))
	}
}

// replicaFailures lists why the replicas table fails make bench.
func replicaFailures(rows []replicaRow) []string {
	var fails []string
	for _, r := range rows {
		if r.wrong > 0 {
			fails = append(fails, fmt.Sprintf("replicas (%s): %d answers not 200", r.label, r.wrong))
		}
	}
	if len(rows) == 3 && (rows[0].perMin <= 0 || ratio(rows[2].perMin, rows[0].perMin) > sharedMax) {
		fails = append(fails, fmt.Sprintf("MISS: 3 replicas on Redis make %.1f whoami per user per minute, 1 replica %.1f: target ratio <= %.2f",
			rows[2].perMin, rows[0].perMin, sharedMax))
	}
	return fails
}
