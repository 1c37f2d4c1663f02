// Command loadtest drives sustained mixed traffic through the service against a
// real Kratos, all on loopback, and fails on any wrong answer or a leak.
//
//	go run ./internal/tools/loadtest [-duration 30s] [-rate 300]   (make loadtest)
//
// It starts Kratos (bin/kratos, or KRATOS_BIN) through kratostest.Launch, builds the
// service binary and runs it as its own process, creates users through Ory's API
// flows, then sends requests at a fixed rate (open loop: each request leaves at its
// scheduled time whatever the answers before it did). Every answer is checked against
// the status its kind must get. Goroutines and heap in use are read from the
// service's /metrics after a warm-up and again after the run, each time after the
// client's connections are closed and the service has been idle a few seconds. The
// service is then stopped with SIGTERM and must exit 0.
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
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
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
)

const password = "loadtest-Pa55word!-correct-horse"

type options struct {
	duration, warmup, settle time.Duration
	rate, maxInFlight        int
	goroutineSlack           int
	heapSlackMiB             float64
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long to send traffic")
	flag.IntVar(&o.rate, "rate", 300, "requests per second")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "traffic at the same rate before the baseline is read")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "idle time before reading /metrics")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 512, "requests outstanding at once; a request that finds none free counts as an error")
	flag.IntVar(&o.goroutineSlack, "goroutine-slack", 20, "goroutines allowed above the baseline after the run (pooled Ory connections)")
	flag.Float64Var(&o.heapSlackMiB, "heap-slack-mib", 32, "heap in use allowed above the baseline after the run, in MiB")
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

// kind is one sort of request and the only status it may get.
type kind struct {
	name   string
	path   string
	header func() (string, string)
	want   int
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
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run from the repository root (make loadtest)")
	}
	tmp, err := os.MkdirTemp("", "loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Println("loadtest: starting Kratos and building the service")
	k, err := kratostest.Launch(kratostest.WithEnv("HASHERS_BCRYPT_COST=4"))
	if err != nil {
		return fmt.Errorf("start Kratos: %w", err)
	}
	defer k.Close()
	bin := filepath.Join(tmp, "ory-gin-starter")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build the service: %w", err)
	}

	users, err := makeUsers(ctx, k)
	if err != nil {
		return err
	}

	svc, err := startService(ctx, bin, tmp, k)
	if err != nil {
		return err
	}
	defer svc.kill()

	var forgedSeq atomic.Int64
	kinds := map[string]kind{
		"valid token":   {"valid token", "/api/resource", func() (string, string) { return "Authorization", "Bearer " + users.token }, 200},
		"cookie":        {"cookie", "/api/resource", func() (string, string) { return "Cookie", "theme=dark; " + users.cookie }, 200},
		"invalid token": {"invalid token", "/api/resource", func() (string, string) { return "Authorization", "Bearer " + forged(forgedSeq.Add(1)) }, 401},
		"admin":         {"admin", "/api/admin/identities?page_size=10", func() (string, string) { return "Authorization", "Bearer " + users.admin }, 200},
		"non-admin":     {"non-admin", "/api/admin/identities?page_size=10", func() (string, string) { return "X-Session-Token", users.token }, 403},
		"healthz":       {"healthz", "/healthz", nil, 200},
	}
	// The mix, in order, repeated: mostly sessions, as a real API sees.
	mix := []string{"valid token", "healthz", "valid token", "cookie", "invalid token", "valid token", "admin",
		"cookie", "non-admin", "valid token", "invalid token", "healthz"}

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
				status, err := call(ctx, hc, svc.url+kd.path, kd.header)
				// Latency from the scheduled time: a stalled service cannot hide
				// behind requests that were never sent.
				lat := time.Since(at)
				st.add(kd.name, lat, status != kd.want, err,
					fmt.Sprintf("%s: status %d (want %d), error %v", kd.name, status, kd.want, err))
			}()
		}
		wg.Wait()
		return sent, dropped
	}
	settle := func() (goroutines, heap float64, err error) {
		hc.CloseIdleConnections()
		time.Sleep(o.settle)
		return svc.metrics(ctx)
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
	exitErr := svc.stop()

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
	fmt.Printf("heap in use: %.1f MiB before, %.1f MiB after (slack %.0f MiB)\n", h0/(1<<20), h1/(1<<20), o.heapSlackMiB)
	for _, b := range st.firstBad {
		fmt.Println("  first wrong/error:", b)
	}

	var fails []string
	if wrong > 0 {
		fails = append(fails, fmt.Sprintf("%d wrong answers", wrong))
	}
	if errs > 0 {
		fails = append(fails, fmt.Sprintf("%d errors", errs))
	}
	if g1 > g0+float64(o.goroutineSlack) {
		fails = append(fails, fmt.Sprintf("goroutines grew from %.0f to %.0f", g0, g1))
	}
	if h1 > h0+o.heapSlackMiB*(1<<20) {
		fails = append(fails, fmt.Sprintf("heap in use grew from %.1f to %.1f MiB", h0/(1<<20), h1/(1<<20)))
	}
	if exitErr != nil {
		fails = append(fails, "service shutdown: "+exitErr.Error())
	} else {
		fmt.Println("service: stopped with SIGTERM, exit status 0")
	}
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

func call(ctx context.Context, hc *http.Client, url string, header func() (string, string)) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if header != nil {
		k, v := header()
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
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
	token  string // a user's ory_st_ token
	cookie string // another user's browser session cookie
	admin  string // an admin's token (metadata_public.role = admin)
}

func makeUsers(ctx context.Context, k *kratostest.Kratos) (users, error) {
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	var u users
	user, err := oryflow.Register(c, hc, k.PublicURL(), k.NewEmail(), password, nil)
	if err != nil {
		return u, fmt.Errorf("register: %w", err)
	}
	u.token = user.SessionToken

	email := k.NewEmail()
	if _, err := oryflow.Register(c, hc, k.PublicURL(), email, password, nil); err != nil {
		return u, fmt.Errorf("register: %w", err)
	}
	jar, _ := cookiejar.New(nil)
	b, err := oryflow.BrowserLogin(c, &http.Client{Jar: jar, Timeout: 30 * time.Second}, k.PublicURL(), email, password)
	if err != nil {
		return u, fmt.Errorf("browser login: %w", err)
	}
	u.cookie = b.CookieHeader

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

type service struct {
	url  string
	cmd  *exec.Cmd
	done chan error
	log  string
}

func startService(ctx context.Context, bin, dir string, k *kratostest.Kratos) (*service, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logPath := filepath.Join(dir, "service.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Dir = dir // no .env from the repository
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"ORY_SDK_URL=" + k.PublicURL(),
		"ORY_ADMIN_URL=" + k.AdminURL(),
		"PORT=" + strconv.Itoa(port),
		"LOG_LEVEL=info",
		"SHUTDOWN_TIMEOUT=10s",
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &service{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() {
		s.done <- cmd.Wait()
		logFile.Close()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("service exited: %v (log %s)", err, tail(logPath))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return nil, fmt.Errorf("service not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics reads go_goroutines and go_memstats_heap_inuse_bytes from /metrics.
func (s *service) metrics(ctx context.Context) (goroutines, heap float64, err error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
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

// stop sends SIGTERM and waits for a clean exit.
func (s *service) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			return fmt.Errorf("%v (log: %s)", err, tail(s.log))
		}
		return nil
	case <-time.After(20 * time.Second):
		s.kill()
		return errors.New("did not exit within 20s of SIGTERM")
	}
}

func (s *service) kill() {
	select {
	case err := <-s.done:
		s.done <- err
	default:
		_ = s.cmd.Process.Kill()
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
