// Command loadtest drives sustained mixed traffic through the service against a
// real Kratos, all on loopback, and fails on any wrong answer or a leak.
//
//	make loadtest LOADTEST_FLAGS="-duration 1m -rate 500"
//
// It starts Kratos (bin/kratos, or KRATOS_BIN) through kratostest.Run, the start-up
// path the tests use, builds the service binary and runs it as its own process, creates
// users through Ory's API flows, then sends requests at a fixed rate (open loop: each
// request leaves at its scheduled time whatever the answers before it did). Every
// answer is checked against the status its kind must get, and every answer that names
// an identity must name the one whose credential was sent. Goroutines and heap in use
// are read from the service's /metrics after a warm-up and again after the run, each
// time after the client's connections are closed and the service has been idle a few
// seconds; the heap may grow by a fixed amount plus a little per request. The service
// is then stopped with SIGTERM and must exit 0. Logs go to .run/loadtest/.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
)

const password = "loadtest-Pa55word!-correct-horse"

type options struct {
	duration, warmup, settle time.Duration
	rate, maxInFlight        int
	goroutineSlack           int
	heapSlackMiB             float64
	heapPerRequestKiB        float64
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send traffic")
	flag.IntVar(&o.rate, "rate", 300, "requests per second")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "traffic at the same rate before the baseline is read")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "idle time before reading /metrics")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 512, "requests outstanding at once; a request that finds none free counts as an error")
	flag.IntVar(&o.goroutineSlack, "goroutine-slack", 20, "goroutines allowed above the baseline after the run (pooled Ory connections)")
	flag.Float64Var(&o.heapSlackMiB, "heap-slack-mib", 16, "heap in use allowed above the baseline after the run, in MiB, before -heap-per-request-kib")
	flag.Float64Var(&o.heapPerRequestKiB, "heap-per-request-kib", 2, "heap in use allowed above the baseline per request sent, in KiB (a leak grows with requests)")
	flag.Parse()
	if o.rate <= 0 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "loadtest: -rate and -duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: FAIL:", err)
		os.Exit(1)
	}
	fmt.Println("loadtest: PASS")
}

// kind is one sort of request, the only status it may get and, for routes that name
// the caller, the identity the answer must name.
type kind struct {
	name     string
	path     string
	header   func() (string, string)
	want     int
	identity string
}

// judge returns what is wrong with an answer to a request of kind k, or "" when it is
// right. Only identity ids are quoted: never a credential.
func judge(k kind, status int, body []byte) string {
	if status != k.want {
		return fmt.Sprintf("status %d, want %d", status, k.want)
	}
	if k.identity == "" {
		return ""
	}
	var r struct {
		IdentityID string `json:"identity_id"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Sprintf("body is not the resource JSON: %v", err)
	}
	if r.IdentityID != k.identity {
		return fmt.Sprintf("identity_id %q, want %q (another caller's session)", r.IdentityID, k.identity)
	}
	return ""
}

// heapAllowance is how far heap in use may grow over a run of requests: caches that
// fill up once, plus a little per request so a long run is not failed for its
// length, while a leak of more than perRequestKiB per request fails any run long
// enough to outgrow the fixed part.
func heapAllowance(requests int, slackMiB, perRequestKiB float64) float64 {
	return slackMiB*(1<<20) + float64(requests)*perRequestKiB*(1<<10)
}

// outcome is what a run measured.
type outcome struct {
	wrong, errs      int
	sent             int
	g0, g1           float64 // goroutines before and after
	h0, h1           float64 // heap in use before and after, bytes
	shutdown         error
	goroutineSlack   int
	heapSlackMiB     float64
	heapPerRequestKB float64
}

// failures lists why a run failed; none means PASS.
func failures(r outcome) []string {
	var fails []string
	if r.wrong > 0 {
		fails = append(fails, fmt.Sprintf("%d wrong answers", r.wrong))
	}
	if r.errs > 0 {
		fails = append(fails, fmt.Sprintf("%d errors", r.errs))
	}
	if r.g1 > r.g0+float64(r.goroutineSlack) {
		fails = append(fails, fmt.Sprintf("goroutines grew from %.0f to %.0f", r.g0, r.g1))
	}
	if allow := heapAllowance(r.sent, r.heapSlackMiB, r.heapPerRequestKB); r.h1 > r.h0+allow {
		fails = append(fails, fmt.Sprintf("heap in use grew from %.1f to %.1f MiB (allowed %.1f MiB for %d requests)",
			r.h0/(1<<20), r.h1/(1<<20), allow/(1<<20), r.sent))
	}
	if r.shutdown != nil {
		fails = append(fails, "service shutdown: "+r.shutdown.Error())
	}
	return fails
}

type stats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration
	requests  map[string]int
	wrong     map[string]int
	errors    map[string]int
	firstBad  []string
}

func newStats() *stats {
	return &stats{latencies: map[string][]time.Duration{}, requests: map[string]int{}, wrong: map[string]int{}, errors: map[string]int{}}
}

func (s *stats) add(k string, d time.Duration, wrong bool, err error, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[k]++
	s.latencies[k] = append(s.latencies[k], d)
	switch {
	case err != nil:
		s.errors[k]++
	case wrong:
		s.wrong[k]++
	}
	if (err != nil || wrong) && len(s.firstBad) < 5 {
		s.firstBad = append(s.firstBad, detail)
	}
}

func run(ctx context.Context, o options) error {
	root, err := kratostest.RepoRoot()
	if err != nil {
		return err
	}
	// The service runs here: its log, and no .env from the repository.
	dir := filepath.Join(root, ".run", "loadtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	fmt.Println("loadtest: starting Kratos and building the service (logs in .run/loadtest/)")
	k, err := kratostest.Run(ctx, kratostest.WithLogFile(filepath.Join(dir, "kratos.log")))
	if err != nil {
		return fmt.Errorf("start Kratos: %w", err)
	}
	defer k.Close()
	bin := filepath.Join(dir, "ory-gin-starter")
	if err := proc.Build(ctx, root, ".", bin); err != nil {
		return err
	}

	users, err := makeUsers(ctx, k)
	if err != nil {
		return err
	}

	svc, err := proc.Start(ctx, proc.Config{
		Bin: bin,
		Dir: dir,
		Env: []string{
			"PATH=" + os.Getenv("PATH"),
			"ORY_SDK_URL=" + k.PublicURL(),
			"ORY_ADMIN_URL=" + k.AdminURL(),
			"LOG_LEVEL=info",
			"SHUTDOWN_TIMEOUT=10s",
		},
		LogFile: filepath.Join(dir, "service.log"),
		Ready:   "/readyz",
	})
	if err != nil {
		return fmt.Errorf("start the service: %w (log .run/loadtest/service.log)", err)
	}
	defer svc.Kill()

	var forgedSeq atomic.Int64
	// Two token users and a cookie user on the same route: an answer carrying another
	// caller's identity (a cache keyed wrongly, a shared buffer) is caught.
	kinds := map[string]kind{
		"valid token":   {"valid token", "/api/resource", func() (string, string) { return "Authorization", "Bearer " + users.token.SessionToken }, 200, users.token.IdentityID},
		"valid token 2": {"valid token 2", "/api/resource", func() (string, string) { return "X-Session-Token", users.token2.SessionToken }, 200, users.token2.IdentityID},
		"cookie":        {"cookie", "/api/resource", func() (string, string) { return "Cookie", "theme=dark; " + users.cookie.CookieHeader }, 200, users.cookie.IdentityID},
		"invalid token": {"invalid token", "/api/resource", func() (string, string) { return "Authorization", "Bearer " + forged(forgedSeq.Add(1)) }, 401, ""},
		"admin":         {"admin", "/api/admin/identities?page_size=10", func() (string, string) { return "Authorization", "Bearer " + users.admin }, 200, ""},
		"non-admin":     {"non-admin", "/api/admin/identities?page_size=10", func() (string, string) { return "X-Session-Token", users.token.SessionToken }, 403, ""},
		"healthz":       {"healthz", "/healthz", nil, 200, ""},
	}
	// The mix, in order, repeated: mostly sessions, as a real API sees.
	mix := []string{"valid token", "healthz", "valid token 2", "cookie", "invalid token", "valid token", "admin",
		"cookie", "non-admin", "valid token 2", "invalid token", "healthz"}

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second,
	}}
	drive := func(d time.Duration, st *stats) (sent int, dropped int) {
		interval := time.Second / time.Duration(o.rate)
		sem := make(chan struct{}, o.maxInFlight)
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if at.Sub(start) >= d || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Until(at))
			select {
			case sem <- struct{}{}:
			default:
				dropped++
				continue
			}
			sent++
			kd := kinds[mix[i%len(mix)]]
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				status, body, err := call(ctx, hc, svc.URL+kd.path, kd.header)
				// Latency from the scheduled time: a stalled service cannot hide
				// behind requests that were never sent.
				lat := time.Since(at)
				var bad string
				if err == nil {
					bad = judge(kd, status, body)
				}
				st.add(kd.name, lat, bad != "", err, fmt.Sprintf("%s: %s, error %v", kd.name, bad, err))
			}()
		}
		wg.Wait()
		return sent, dropped
	}
	settle := func() (goroutines, heap float64, err error) {
		hc.CloseIdleConnections()
		time.Sleep(o.settle)
		return metrics(ctx, svc.URL)
	}

	fmt.Printf("loadtest: warm-up %s at %d req/s\n", o.warmup, o.rate)
	warm := newStats()
	if _, dropped := drive(o.warmup, warm); dropped > 0 || len(warm.firstBad) > 0 {
		return fmt.Errorf("warm-up failed: %d dropped, %v", dropped, warm.firstBad)
	}
	g0, h0, err := settle()
	if err != nil {
		return err
	}

	fmt.Printf("loadtest: %s at %d req/s, mix %v\n", o.duration, o.rate, mix)
	st := newStats()
	began := time.Now()
	sent, dropped := drive(o.duration, st)
	elapsed := time.Since(began)
	g1, h1, err := settle()
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	exitErr := svc.Stop()

	// Report.
	var all []time.Duration
	var wrong, errs int
	fmt.Printf("\n%-14s %9s %7s %7s %9s %9s\n", "kind", "requests", "wrong", "errors", "p50", "p99")
	names := make([]string, 0, len(st.requests))
	for n := range st.requests {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		l := st.latencies[n]
		all = append(all, l...)
		wrong += st.wrong[n]
		errs += st.errors[n]
		fmt.Printf("%-14s %9d %7d %7d %9s %9s\n", n, st.requests[n], st.wrong[n], st.errors[n], pct(l, 50), pct(l, 99))
	}
	errs += dropped
	fmt.Printf("%-14s %9d %7d %7d %9s %9s\n", "all", sent, wrong, errs, pct(all, 50), pct(all, 99))
	fmt.Printf("\nrate: %d req/s target, %.1f req/s sent over %s; %d not sent (over -max-in-flight)\n",
		o.rate, float64(sent)/elapsed.Seconds(), elapsed.Round(time.Millisecond), dropped)
	fmt.Printf("goroutines: %.0f before, %.0f after (slack %d)\n", g0, g1, o.goroutineSlack)
	fmt.Printf("heap in use: %.1f MiB before, %.1f MiB after (allowed growth %.1f MiB: %.0f MiB + %.1f KiB x %d requests)\n",
		h0/(1<<20), h1/(1<<20), heapAllowance(sent, o.heapSlackMiB, o.heapPerRequestKiB)/(1<<20), o.heapSlackMiB, o.heapPerRequestKiB, sent)
	for _, b := range st.firstBad {
		fmt.Println("  first wrong/error:", b)
	}
	if exitErr == nil {
		fmt.Println("service: stopped with SIGTERM, exit status 0")
	}
	fails := failures(outcome{
		wrong: wrong, errs: errs, sent: sent, g0: g0, g1: g1, h0: h0, h1: h1, shutdown: exitErr,
		goroutineSlack: o.goroutineSlack, heapSlackMiB: o.heapSlackMiB, heapPerRequestKB: o.heapPerRequestKiB,
	})
	if len(fails) > 0 {
		return errors.New(strings.Join(fails, "; "))
	}
	return nil
}

func forged(n int64) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	// Half the invalid tokens repeat (the service's refusal cache answers them), half
	// are new (each one reaches Kratos).
	if n%2 == 0 {
		return "ory_st_loadtestforgedtokenloadtestfor"
	}
	return "ory_st_loadtest" + hex.EncodeToString(b[:]) + strconv.FormatInt(n, 10)
}

func call(ctx context.Context, hc *http.Client, url string, header func() (string, string)) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if header != nil {
		k, v := header()
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, body, err
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)].Round(10 * time.Microsecond)
}

type users struct {
	token  oryflow.Result // a user's ory_st_ token and identity
	token2 oryflow.Result // another user's
	cookie oryflow.Result // a third user's browser session cookie
	admin  string         // an admin's token (metadata_public.role = admin)
}

func makeUsers(ctx context.Context, k *kratostest.Kratos) (users, error) {
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	var u users
	var err error
	if u.token, err = oryflow.Register(c, hc, k.PublicURL(), k.NewEmail(), password, nil); err != nil {
		return u, fmt.Errorf("register: %w", err)
	}
	if u.token2, err = oryflow.Register(c, hc, k.PublicURL(), k.NewEmail(), password, nil); err != nil {
		return u, fmt.Errorf("register: %w", err)
	}

	email := k.NewEmail()
	if _, err := oryflow.Register(c, hc, k.PublicURL(), email, password, nil); err != nil {
		return u, fmt.Errorf("register: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	if u.cookie, err = oryflow.BrowserLogin(c, &http.Client{Jar: jar, Timeout: 30 * time.Second}, k.PublicURL(), email, password); err != nil {
		return u, fmt.Errorf("browser login: %w", err)
	}

	adminEmail := k.NewEmail()
	a, err := oryflow.Register(c, hc, k.PublicURL(), adminEmail, password, nil)
	if err != nil {
		return u, fmt.Errorf("register: %w", err)
	}
	patch, _ := json.Marshal([]map[string]any{{"op": "add", "path": "/metadata_public", "value": map[string]any{"role": "admin"}}})
	req, _ := http.NewRequestWithContext(c, http.MethodPatch, k.AdminURL()+"/admin/identities/"+a.IdentityID, bytes.NewReader(patch))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return u, fmt.Errorf("set admin role: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return u, fmt.Errorf("set admin role: HTTP %d", resp.StatusCode)
	}
	admin, err := oryflow.Login(c, hc, k.PublicURL(), adminEmail, password)
	if err != nil {
		return u, fmt.Errorf("admin login: %w", err)
	}
	u.admin = admin.SessionToken
	return u, nil
}

// metrics reads go_goroutines and go_memstats_heap_inuse_bytes from /metrics.
func metrics(ctx context.Context, serviceURL string) (goroutines, heap float64, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, serviceURL+"/metrics", nil)
	req.Close = true // this connection must not count as an idle one
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("read /metrics: %w", err)
	}
	defer resp.Body.Close()
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "go_goroutines":
			goroutines, err = strconv.ParseFloat(val, 64)
			found++
		case "go_memstats_heap_inuse_bytes":
			heap, err = strconv.ParseFloat(val, 64)
			found++
		}
		if err != nil {
			return 0, 0, fmt.Errorf("/metrics: %s: %w", name, err)
		}
	}
	if found != 2 {
		return 0, 0, errors.New("/metrics lacks go_goroutines or go_memstats_heap_inuse_bytes")
	}
	return goroutines, heap, sc.Err()
}
