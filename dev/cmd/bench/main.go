// Command bench is make bench: it starts a local Ory Kratos (in memory, through the
// harness the tests use) and three instances of the service on loopback, measures them
// with wrk, and prints one table:
//
//	healthz        GET /healthz, no auth: the floor of the stack (gin, middleware, HTTP)
//	cached         GET /api/resource, session cache on (default TTL)
//	cached-redis   the same with the shared cache on Redis (REDIS_URL): local hits
//	               never touch Redis
//	jwt            GET /api/resource, bearer = session JWT verified locally (ORY_JWKS_URL)
//	uncached       GET /api/resource, SESSION_CACHE_TTL=0, one token on every connection:
//	               concurrent checks of one token share one whoami (singleflight)
//	uncached-n     the same with 4 x WRK_CONNS sessions used in turn: about one whoami
//	               per request, the pass-through cost the ratio is about
//	whoami-direct  Kratos GET /sessions/whoami itself, X-Session-Token: what uncached wraps
//
// then the ratios with their targets, a burst of concurrent requests that carry one new
// session token (counting the whoami calls in Kratos's request log and the service's
// own metric), the whoami calls per active user per minute with 1 replica, 3
// replicas, and 3 replicas sharing their cache on Redis (replicas.go), and the Go
// benchmarks of the session check. It exits non-zero on a MISS,
// on any non-2xx answer or socket error in a wrk run, or on a burst that is not all 200.
//
// Environment (all optional):
//
//	WRK_THREADS     wrk threads                                  (default 2)
//	WRK_CONNS       wrk connections                              (default 32)
//	WRK_DURATION    measured run per target and round            (default 5s)
//	WRK_WARMUP      warm-up run per target, not measured         (default 3s)
//	BENCH_ROUNDS    rounds over all targets; rows report the median (default 3)
//	BURST_N         concurrent requests in the burst             (default 1000)
//	BENCH_SKIP_GO=1 skip the Go benchmarks
//	BENCH_PIN=0     let wrk, Kratos and the service share every CPU (default: Kratos
//	                on CPU 1, the rest on CPU 0, as if Ory ran on its own machine)
//	KRATOS_BIN      Kratos binary                                (default bin/kratos)
//
// wrk is the load generator (a system package); bench says how to install it when it
// is missing and installs nothing itself. redis-server (a system package too) is
// installed by make bench. Every process listens on 127.0.0.1 and is
// stopped on exit. Raw outputs (wrk, logs, go test) are kept in .run/bench/.
//
// The load generator, Kratos and the service share one machine: numbers are for
// comparing rows with each other, not absolute capacity.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
	"github.com/example/ory-gin-starter/dev/redistest"
)

const password = "bench-Passw0rd-local-only"

// wrk walks the token list with a stride of the thread count, so the requests in
// flight carry different tokens (wrk cannot pin a token to a connection).
const tokensLua = `local tokens, threads, n = {}, 0, 0
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
function setup(thread) threads = threads + 1; thread:set("id", threads - 1) end
function init(args) stride = tonumber(os.getenv("WRK_THREADS")) end
function request()
	local t = tokens[((n * stride + id) % #tokens) + 1]
	n = n + 1
	return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. t })
end
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	threads, conns, rounds, burstN int
	duration, warmup               time.Duration
	skipGo, pin                    bool
}

func readConfig(getenv func(string) string) (config, error) {
	c := config{threads: 2, conns: 32, rounds: 3, burstN: 1000, duration: 5 * time.Second, warmup: 3 * time.Second,
		skipGo: getenv("BENCH_SKIP_GO") == "1", pin: getenv("BENCH_PIN") != "0"}
	var errs []error
	for _, v := range []struct {
		name string
		dst  *int
	}{{"WRK_THREADS", &c.threads}, {"WRK_CONNS", &c.conns}, {"BENCH_ROUNDS", &c.rounds}, {"BURST_N", &c.burstN}} {
		if s := getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				errs = append(errs, fmt.Errorf("%s=%q: want a whole number of at least 1", v.name, s))
				continue
			}
			*v.dst = n
		}
	}
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"WRK_DURATION", &c.duration}, {"WRK_WARMUP", &c.warmup}} {
		if s := getenv(v.name); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Second {
				errs = append(errs, fmt.Errorf("%s=%q: want a duration of at least 1s, e.g. 5s", v.name, s))
				continue
			}
			*v.dst = d
		}
	}
	return c, errors.Join(errs...)
}

// target is one row of the table.
type target struct {
	name, label, url, header string
	tokens                   bool // rotate the session tokens (uncached-n)
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) int {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, ">> "+format+"\n", a...) }
	fail := func(err error) int {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	c, err := readConfig(getenv)
	if err != nil {
		return fail(err)
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		return fail(errors.New("wrk is not installed; it is the load generator. Install it, then run make bench again:\n" +
			"  Debian/Ubuntu: sudo apt-get install wrk\n  macOS:         brew install wrk"))
	}
	root, err := kratostest.RepoRoot()
	if err != nil {
		return fail(err)
	}
	out := filepath.Join(root, ".run", "bench")
	if err := os.RemoveAll(out); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fail(err)
	}
	b := &bench{c: c, out: out, logf: logf}
	o, names, err := b.measure(ctx, root)
	b.stopServices()
	if b.kratos != nil {
		b.kratos.Close()
	}
	if b.redis != nil {
		b.redis.Close()
	}
	if err != nil {
		return fail(err)
	}

	summary, err := os.Create(filepath.Join(out, "summary.txt"))
	if err != nil {
		return fail(err)
	}
	defer summary.Close()
	w := io.MultiWriter(stdout, summary)
	b.report(w, o, names)
	reportReplicas(w, b.replicas)
	if !c.skipGo {
		fmt.Fprintln(w, "\ngo test -run '^$' -bench . -benchmem ./auth/")
		lines, err := goBench(ctx, root, filepath.Join(out, "gobench.txt"))
		o.goBenchErr = err
		fmt.Fprint(w, lines)
	}
	fmt.Fprintln(w, "\nraw outputs: .run/bench/")
	if fails := append(failures(o, names), replicaFailures(b.replicas)...); len(fails) > 0 {
		fmt.Fprintln(w, "\nmake bench: FAIL")
		for _, f := range fails {
			fmt.Fprintln(w, "  "+f)
		}
		return 1
	}
	fmt.Fprintln(w, "\nmake bench: PASS")
	return 0
}

type bench struct {
	c        config
	out      string
	logf     func(string, ...any)
	kratos   *kratostest.Kratos
	redis    *redistest.Server
	replicas []replicaRow
	services map[string]*proc.Process
	appCPUs  string
	topology string

	targets   []target
	runs      map[string][]wrkResult
	whoamiReq map[string]float64 // whoami calls per request during the measured runs
	jwtLocal  float64            // JWT checks answered locally during the jwt runs
	jwtWhoami float64            // whoami calls the jwt instance made meanwhile
	burstOut  string
	burstK    int64
	burstS    float64
	burstHit  float64
	burstMiss float64
	logLines  int
	cancelled int
}

func (b *bench) measure(ctx context.Context, root string) (outcome, []string, error) {
	c := b.c
	o := outcome{non2xx: map[string]int{}, socketErrs: map[string]int{}, rps: map[string]float64{}, burstN: c.burstN}
	binDir := filepath.Join(root, ".run", "bin")
	b.logf("building the service and the burst tool into .run/bin/")
	svcBin, burstBin := filepath.Join(binDir, "ory-gin-starter"), filepath.Join(binDir, "burst")
	if err := proc.Build(ctx, root, ".", svcBin); err != nil {
		return o, nil, err
	}
	if err := proc.Build(ctx, root, "./dev/cmd/burst", burstBin); err != nil {
		return o, nil, err
	}

	// In production Ory runs on other machines, so by default Kratos gets CPU 1 to
	// itself and the service and wrk share CPU 0: the service's CPU is then not taken
	// out of Ory's, as it would be if all three shared both CPUs.
	var kratosOpts []kratostest.Option
	_, tasksetErr := exec.LookPath("taskset")
	if c.pin && runtime.NumCPU() >= 2 && tasksetErr == nil {
		kratosOpts = append(kratosOpts, kratostest.WithCPUs("1"))
		b.appCPUs = "0"
		b.topology = "Kratos pinned to CPU 1; the service and wrk on CPU 0"
	} else {
		b.topology = fmt.Sprintf("wrk, Kratos and the service share all %d CPUs", runtime.NumCPU())
	}
	b.logf("starting Kratos (DSN=memory); %s", b.topology)
	k, err := kratostest.Run(ctx, append(kratosOpts, kratostest.WithLogFile(filepath.Join(b.out, "kratos.log")))...)
	if err != nil {
		return o, nil, fmt.Errorf("start Kratos: %w", err)
	}
	b.kratos = k
	rd, err := redistest.Run(ctx)
	if err != nil {
		return o, nil, err
	}
	b.redis = rd

	// A clean environment and a working directory without a .env, so nothing from the
	// caller's shell or a developer's .env changes what is measured. All instances log
	// at warn: the per-request info line would otherwise dominate, and equal settings
	// keep the ratios fair.
	b.services = map[string]*proc.Process{}
	for _, s := range []struct {
		name  string
		extra []string
	}{
		{"cached", nil},
		{"redis", []string{"REDIS_URL=" + rd.URL, "REDIS_CACHE_KEY=" + benchKey}},
		{"uncached", []string{"SESSION_CACHE_TTL=0"}},
		{"jwt", []string{"ORY_JWKS_URL=file://" + k.PublicJWKSPath(), "ORY_JWT_TEMPLATE=" + kratostest.TokenizerTemplate}},
	} {
		env := append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"ORY_SDK_URL=" + k.PublicURL(), "ORY_ADMIN_URL=" + k.AdminURL(), "LOG_LEVEL=warn"}, s.extra...)
		p, err := proc.Start(ctx, proc.Config{Bin: svcBin, Dir: b.out, Env: env, CPUs: b.appCPUs,
			LogFile: filepath.Join(b.out, "service-"+s.name+".log")})
		if err != nil {
			return o, nil, fmt.Errorf("start the service (%s): %w (log .run/bench/service-%s.log)", s.name, err, s.name)
		}
		b.services[s.name] = p
	}
	b.logf("the service: cached %s, uncached %s, jwt %s (LOG_LEVEL=warn)", b.services["cached"].URL, b.services["uncached"].URL, b.services["jwt"].URL)

	// Credentials.
	hc := &http.Client{Timeout: 30 * time.Second}
	runID := fmt.Sprintf("%d-%d", time.Now().Unix(), os.Getpid())
	email := "bench-" + runID + "@example.com"
	b.logf("registering %s", email)
	user, err := oryflow.Register(ctx, hc, k.PublicURL(), email, password, nil)
	if err != nil {
		return o, nil, fmt.Errorf("register: %w", err)
	}
	s, err := oryflow.Whoami(ctx, hc, k.PublicURL(), oryflow.Credentials{SessionToken: user.SessionToken}, kratostest.TokenizerTemplate)
	if err != nil {
		return o, nil, fmt.Errorf("session JWT: %w", err)
	}
	if !strings.HasPrefix(user.SessionToken, "ory_st_") || strings.Count(s.Tokenized, ".") != 2 {
		return o, nil, errors.New("unexpected session token or JWT shape")
	}
	nTokens := c.conns * 4
	b.logf("signing in %d more sessions for uncached-n", nTokens)
	tokens, err := signIn(ctx, hc, k.PublicURL(), email, nTokens)
	if err != nil {
		return o, nil, err
	}
	tokensPath := filepath.Join(b.out, "tokens.txt")
	luaPath := filepath.Join(b.out, "tokens.lua")
	if err := os.WriteFile(tokensPath, []byte(strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		return o, nil, err
	}
	if err := os.WriteFile(luaPath, []byte(tokensLua), 0o644); err != nil {
		return o, nil, err
	}

	// The whoami count comes from Kratos's request log: check it counts one call as one.
	before := k.Requests("/sessions/whoami")
	if _, err := oryflow.Whoami(ctx, hc, k.PublicURL(), oryflow.Credentials{SessionToken: user.SessionToken}, ""); err != nil {
		return o, nil, fmt.Errorf("whoami with the new token: %w", err)
	}
	if got := settledWhoami(k) - before; got != 1 {
		return o, nil, fmt.Errorf("one whoami call added %d to the count from Kratos's request log; the log format is not what kratostest counts", got)
	}

	cached, uncached, jwt := b.services["cached"].URL, b.services["uncached"].URL, b.services["jwt"].URL
	b.targets = []target{
		{name: "healthz", label: "service /healthz (no auth)", url: cached + "/healthz", header: "Accept: application/json"},
		{name: "cached", label: "service /api/resource, cached", url: cached + "/api/resource", header: "Authorization: Bearer " + user.SessionToken},
		{name: "cached-redis", label: "service /api/resource, cached, Redis", url: b.services["redis"].URL + "/api/resource", header: "Authorization: Bearer " + user.SessionToken},
		{name: "jwt", label: "service /api/resource, JWT", url: jwt + "/api/resource", header: "Authorization: Bearer " + s.Tokenized},
		{name: "uncached", label: "service /api/resource, TTL=0, 1 tok", url: uncached + "/api/resource", header: "Authorization: Bearer " + user.SessionToken},
		{name: "uncached-n", label: "service /api/resource, TTL=0, N tok", url: uncached + "/api/resource", header: "Accept: application/json", tokens: true},
		{name: "whoami-direct", label: "Kratos /sessions/whoami direct", url: k.PublicURL() + "/sessions/whoami", header: "X-Session-Token: " + user.SessionToken},
	}
	var names []string
	for _, t := range b.targets {
		names = append(names, t.name)
		h := t.header
		if t.tokens {
			h = "Authorization: Bearer " + tokens[0]
		}
		if err := check200(ctx, t.url, h); err != nil {
			return o, nil, fmt.Errorf("%s: %w", t.name, err)
		}
	}
	jwtLocal0, jwtWhoami0, err := serviceCounts(ctx, jwt)
	if err != nil {
		return o, nil, err
	}

	wrkEnv := append(os.Environ(), "BENCH_TOKENS="+tokensPath, "WRK_THREADS="+strconv.Itoa(c.threads))
	wrk := func(t target, d time.Duration, latency bool, file string) (wrkResult, error) {
		args := []string{"wrk", "-t" + strconv.Itoa(c.threads), "-c" + strconv.Itoa(c.conns), "-d" + d.String()}
		if latency {
			args = append(args, "--latency")
		}
		if t.tokens {
			args = append(args, "-s", luaPath)
		}
		args = append(args, "-H", t.header, t.url)
		if b.appCPUs != "" {
			args = append([]string{"taskset", "-c", b.appCPUs}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = wrkEnv
		raw, err := cmd.CombinedOutput()
		_ = os.WriteFile(filepath.Join(b.out, file), raw, 0o644)
		if err != nil {
			return wrkResult{}, fmt.Errorf("wrk %s: %w (.run/bench/%s)", t.name, err, file)
		}
		r, err := parseWrk(string(raw))
		if err != nil {
			return r, fmt.Errorf("%s: %w (.run/bench/%s)", t.name, err, file)
		}
		o.non2xx[t.name] += r.non2xx
		o.socketErrs[t.name] += r.socketErrors
		return r, nil
	}

	b.logf("warm-up: wrk -t%d -c%d -d%s per target", c.threads, c.conns, c.warmup)
	for _, t := range b.targets {
		if _, err := wrk(t, c.warmup, false, "wrk-"+t.name+".warmup.txt"); err != nil {
			return o, nil, err
		}
	}
	// Rounds visit every target in turn, so a slow patch of the machine (a noisy
	// neighbour, frequency changes) hits all rows alike; each row reports its median.
	b.logf("wrk -t%d -c%d -d%s --latency per target, %d rounds", c.threads, c.conns, c.duration, c.rounds)
	b.runs = map[string][]wrkResult{}
	kCalls, kReqs := map[string]int64{}, map[string]int{}
	for r := 1; r <= c.rounds; r++ {
		for _, t := range b.targets {
			time.Sleep(300 * time.Millisecond)
			k0 := settledWhoami(k)
			res, err := wrk(t, c.duration, true, fmt.Sprintf("wrk-%s.%d.txt", t.name, r))
			if err != nil {
				return o, nil, err
			}
			kCalls[t.name] += settledWhoami(k) - k0
			kReqs[t.name] += res.requests
			b.runs[t.name] = append(b.runs[t.name], res)
		}
	}
	b.whoamiReq = map[string]float64{}
	for _, n := range names {
		o.rps[n] = median(b.runs[n]).rps
		if kReqs[n] > 0 {
			b.whoamiReq[n] = float64(kCalls[n]) / float64(kReqs[n])
		}
	}
	jwtLocal1, jwtWhoami1, err := serviceCounts(ctx, jwt)
	if err != nil {
		return o, nil, err
	}
	b.jwtLocal, b.jwtWhoami = jwtLocal1-jwtLocal0, jwtWhoami1-jwtWhoami0

	// Burst: N concurrent requests that carry one session token never seen before.
	b.logf("burst: %d concurrent requests with a new token to the cached instance", c.burstN)
	burstUser, err := oryflow.Register(ctx, hc, k.PublicURL(), "bench-burst-"+runID+"@example.com", password, nil)
	if err != nil {
		return o, nil, fmt.Errorf("register the burst user: %w", err)
	}
	k0 := settledWhoami(k)
	m0, err := scrape(ctx, cached)
	if err != nil {
		return o, nil, err
	}
	cmd := exec.CommandContext(ctx, burstBin, "-url", cached+"/api/resource", "-n", strconv.Itoa(c.burstN), "-want", "200")
	// The token goes through the environment, not the command line (ps shows that).
	cmd.Env = append(os.Environ(), "BURST_HEADER=Authorization: Bearer "+burstUser.SessionToken)
	raw, burstErr := cmd.CombinedOutput()
	_ = os.WriteFile(filepath.Join(b.out, "burst.txt"), raw, 0o644)
	b.burstOut = string(raw)
	o.burstOK = burstErr == nil
	b.burstK = settledWhoami(k) - k0
	o.burstWhoami = b.burstK
	m1, err := scrape(ctx, cached)
	if err != nil {
		return o, nil, err
	}
	b.burstS = m1.whoami - m0.whoami
	b.burstHit = m1.lookups["hit"] - m0.lookups["hit"]
	b.burstMiss = m1.lookups["miss"] - m0.lookups["miss"]

	b.logf("replicas: whoami calls per active user, 1 and 3 replicas, with and without Redis (%s each)", replicaRun)
	if b.replicas, err = b.measureReplicas(ctx, svcBin, k, rd.URL, tokens); err != nil {
		return o, nil, err
	}

	// The per-request log line is info: at warn the logs must hold nothing per request.
	// Requests wrk leaves in flight when it stops are cancelled; those are logged with
	// client_gone and counted apart.
	b.stopServices()
	for _, n := range []string{"cached", "redis", "uncached", "jwt"} {
		lines, cancelled := requestLogLines(filepath.Join(b.out, "service-"+n+".log"))
		b.logLines += lines
		b.cancelled += cancelled
	}
	return o, names, nil
}

func (b *bench) stopServices() {
	for name, p := range b.services {
		if err := p.Stop(); err != nil {
			b.logf("the service (%s): %v", name, err)
		}
	}
	b.services = nil
}

func (b *bench) report(w io.Writer, o outcome, names []string) {
	c := b.c
	fmt.Fprintf(w, "\nmake bench: wrk -t%d -c%d -d%s --latency, median of %d rounds; %s; %s\n\n",
		c.threads, c.conns, c.duration, c.rounds, b.topology, time.Now().UTC().Format(time.RFC3339))
	row := "%-36s %8s %8s %8s %7s %10s\n"
	fmt.Fprintf(w, row, "target", "req/s", "p50 ms", "p99 ms", "errors", "whoami/req")
	fmt.Fprintf(w, row, strings.Repeat("-", 36), "--------", "--------", "--------", "-------", "----------")
	for _, t := range b.targets {
		m := median(b.runs[t.name])
		fmt.Fprintf(w, row, t.label, fmt.Sprintf("%.0f", m.rps), fmt.Sprintf("%.2f", m.p50), fmt.Sprintf("%.2f", m.p99),
			strconv.Itoa(o.non2xx[t.name]+o.socketErrs[t.name]), fmt.Sprintf("%.3f", b.whoamiReq[t.name]))
	}
	fmt.Fprintln(w, "(errors: non-2xx answers and socket errors over every wrk run of the target, warm-up included;")
	fmt.Fprintln(w, " whoami/req: whoami calls in Kratos's request log during the measured runs / requests wrk completed)")

	fmt.Fprintf(w, "\n%-32s %6s   %-8s %s\n", "ratio (req/s)", "value", "target", "result")
	for _, r := range ratioTargets {
		v := ratio(o.rps[r.num], o.rps[r.den])
		if r.min == 0 {
			fmt.Fprintf(w, "%-32s %6.2f   %-8s %s\n", r.label, v, "(info)", r.note)
			continue
		}
		fmt.Fprintf(w, "%-32s %6.2f   %-8s %s\n", r.label, v, fmt.Sprintf(">= %.2f", r.min), verdict(v, r.min))
	}
	fmt.Fprintf(w, "(jwt run: %.0f JWT checks answered locally, %.0f whoami calls by the service)\n", b.jwtLocal, b.jwtWhoami)

	fmt.Fprintf(w, "\nburst: %d concurrent GET /api/resource, one new session token, cached instance\n", c.burstN)
	sc := bufio.NewScanner(strings.NewReader(b.burstOut))
	for sc.Scan() {
		fmt.Fprintln(w, "  "+sc.Text())
	}
	fmt.Fprintf(w, "  %-44s %5s   %s\n", "every answer 200 (burst -want 200)", "", passMiss(o.burstOK))
	fmt.Fprintf(w, "  %-44s %5d   target 1: %s\n", "whoami calls seen by Kratos (request log)", b.burstK, passMiss(b.burstK == 1))
	fmt.Fprintf(w, "  %-44s %5.0f\n", "ory_session_checks_seconds_count delta", b.burstS)
	fmt.Fprintf(w, "  %-44s %5s\n", "session_cache_lookups_total hit / miss", fmt.Sprintf("%.0f / %.0f", b.burstHit, b.burstMiss))

	fmt.Fprintln(w)
	if b.logLines == 0 {
		fmt.Fprintln(w, "service info request log lines during the run: 0 (LOG_LEVEL=warn silences them on every instance);")
		fmt.Fprintf(w, "%d requests cancelled by wrk at the end of a run were logged (client_gone, at info)\n", b.cancelled)
	} else {
		fmt.Fprintf(w, "WARNING: %d per-request log lines were written at LOG_LEVEL=warn (see .run/bench/service-*.log)\n", b.logLines)
	}
}

func passMiss(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// signIn logs the account in n times and returns the n session tokens, all distinct.
// One at a time: Kratos's in-memory SQLite answers concurrent sign-ins with "database
// table is locked".
func signIn(ctx context.Context, hc *http.Client, publicURL, email string, n int) ([]string, error) {
	tokens := make([]string, 0, n)
	seen := map[string]bool{}
	for range n {
		res, err := oryflow.Login(ctx, hc, publicURL, email, password)
		if err != nil {
			return nil, fmt.Errorf("sign in for uncached-n: %w", err)
		}
		if seen[res.SessionToken] || !strings.HasPrefix(res.SessionToken, "ory_st_") {
			return nil, fmt.Errorf("the %d session tokens are not all distinct session tokens", n)
		}
		seen[res.SessionToken] = true
		tokens = append(tokens, res.SessionToken)
	}
	return tokens, nil
}

// settledWhoami reads Kratos's whoami count once it has stopped moving: Kratos logs a
// request just after answering it.
func settledWhoami(k *kratostest.Kratos) int64 {
	last := k.Requests("/sessions/whoami")
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		n := k.Requests("/sessions/whoami")
		if n == last {
			return n
		}
		last = n
	}
	return last
}

func check200(ctx context.Context, url, header string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	name, value, _ := strings.Cut(header, ":")
	req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d, want 200: %s", url, resp.StatusCode, body)
	}
	return nil
}

// counts are the service metrics the benchmark reads.
type counts struct {
	whoami  float64            // ory_session_checks_seconds_count, all outcomes: whoami calls made
	lookups map[string]float64 // session_cache_lookups_total by result
}

func scrape(ctx context.Context, serviceURL string) (counts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, serviceURL+"/metrics", nil)
	if err != nil {
		return counts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return counts{}, fmt.Errorf("read %s/metrics: %w", serviceURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return counts{}, err
	}
	return parseMetrics(raw), nil
}

// parseMetrics sums the two metrics the table shows from a Prometheus text page.
func parseMetrics(raw []byte) counts {
	c := counts{lookups: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "ory_session_checks_seconds_count{") || name == "ory_session_checks_seconds_count":
			c.whoami += v
		case strings.HasPrefix(name, "session_cache_lookups_total{"):
			if _, rest, ok := strings.Cut(name, `result="`); ok {
				result, _, _ := strings.Cut(rest, `"`)
				c.lookups[result] += v
			}
		}
	}
	return c
}

func serviceCounts(ctx context.Context, serviceURL string) (jwtLocal, whoami float64, err error) {
	c, err := scrape(ctx, serviceURL)
	return c.lookups["jwt"], c.whoami, err
}

// requestLogLines counts the service's per-request info lines in a log file, those of
// requests the client gave up on apart.
func requestLogLines(path string) (lines, cancelled int) {
	raw, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(raw), "\n") {
		if !strings.Contains(l, `"level":"INFO","msg":"request"`) {
			continue
		}
		if strings.Contains(l, `"client_gone":true`) {
			cancelled++
		} else {
			lines++
		}
	}
	return lines, cancelled
}

// goBench runs the session check's Go benchmarks, keeps their output in file and
// returns the lines worth showing.
func goBench(ctx context.Context, root, file string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem", "./auth/")
	cmd.Dir = root
	raw, err := cmd.CombinedOutput()
	_ = os.WriteFile(file, raw, 0o644)
	if err != nil {
		return string(raw), fmt.Errorf("%w (.run/bench/gobench.txt)", err)
	}
	var b strings.Builder
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") {
			b.WriteString(l + "\n")
		}
	}
	return b.String(), nil
}
