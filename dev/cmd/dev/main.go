// Command dev is the local development loop behind make dev: a local Ory Kratos (in
// memory, through the same harness the tests use), the service built and run as its own
// process, and a demo user with a session token, then ready-to-paste curl lines. It
// follows the service's log until Ctrl-C or SIGTERM, then stops everything it started.
//
// Environment (all optional):
//
//	PORT                service port                      (default 8080)
//	KRATOS_PUBLIC_PORT  Kratos public API port            (default 4433)
//	KRATOS_ADMIN_PORT   Kratos admin API port             (default 4434)
//	DEMO_EMAIL          demo account                      (default demo@example.com)
//	DEMO_PASSWORD       demo password (local dev only)    (default below)
//	DEV_SKIP_SERVICE=1  run only Kratos and the demo user (no webhooks)
//	ORY_WEBHOOK_SECRET  secret of the Ory webhooks (kratos/hooks.yml) (default: a local-dev one)
//	KRATOS_BIN          Kratos binary                     (default bin/kratos)
//
// Logs go to .run/kratos.log and .run/service.log. Kratos keeps its data in memory:
// every start begins with no accounts and registers the demo user again.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
)

const defaultPassword = "demo-Passw0rd-local-only"

// devWebhookSecret is kratos/hooks.yml's local-dev secret.
const devWebhookSecret = "local-dev-only-webhook-secret-change-me"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

type config struct {
	port, publicPort, adminPort int
	email, password             string
	skipService                 bool
	webhookSecret               string
}

// hooks is the service URL Kratos's web hooks call; ok is false when the service
// does not run, since Kratos would then refuse every registration.
func (c config) hooks() (serviceURL string, ok bool) {
	return "http://127.0.0.1:" + strconv.Itoa(c.port), !c.skipService
}

func readConfig(getenv func(string) string) (config, error) {
	c := config{email: getenv("DEMO_EMAIL"), password: getenv("DEMO_PASSWORD"), skipService: getenv("DEV_SKIP_SERVICE") == "1"}
	if c.email == "" {
		c.email = "demo@example.com"
	}
	if c.password == "" {
		c.password = defaultPassword
	}
	if c.webhookSecret = getenv("ORY_WEBHOOK_SECRET"); c.webhookSecret == "" {
		c.webhookSecret = devWebhookSecret
	}
	var errs []error
	for _, p := range []struct {
		name string
		def  int
		dst  *int
	}{{"PORT", 8080, &c.port}, {"KRATOS_PUBLIC_PORT", 4433, &c.publicPort}, {"KRATOS_ADMIN_PORT", 4434, &c.adminPort}} {
		*p.dst = p.def
		if v := getenv(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("%s=%q is not a port", p.name, v))
				continue
			}
			*p.dst = n
		}
	}
	return c, errors.Join(errs...)
}

func run(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, ">> "+format+"\n", a...) }
	c, err := readConfig(getenv)
	if err != nil {
		return err
	}
	root, err := kratostest.RepoRoot()
	if err != nil {
		return err
	}
	runDir := filepath.Join(root, ".run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return err
	}
	for _, p := range []struct {
		port int
		env  string
	}{{c.port, "PORT"}, {c.publicPort, "KRATOS_PUBLIC_PORT"}, {c.adminPort, "KRATOS_ADMIN_PORT"}} {
		if p.env == "PORT" && c.skipService {
			continue
		}
		if proc.Busy(p.port) {
			return fmt.Errorf("port %d on 127.0.0.1 is in use (another make dev, or docker compose up?): stop it or set %s", p.port, p.env)
		}
	}

	logf("starting Kratos on 127.0.0.1:%d (admin :%d), DSN=memory, log .run/kratos.log", c.publicPort, c.adminPort)
	opts := []kratostest.Option{kratostest.WithPorts(c.publicPort, c.adminPort), kratostest.WithLogFile(filepath.Join(runDir, "kratos.log"))}
	if u, ok := c.hooks(); ok {
		logf("Kratos's web hooks call %s/hooks/ory/... (kratos/hooks.yml)", u)
		opts = append(opts, kratostest.WithHooks(u, c.webhookSecret))
	}
	k, err := kratostest.Run(ctx, opts...)
	if err != nil {
		return fmt.Errorf("start Kratos: %w", err)
	}
	stopped := []int{c.publicPort, c.adminPort}
	defer func() {
		k.Close()
		for _, p := range stopped {
			if proc.Busy(p) {
				logf("port %d is still open", p)
			}
		}
		logf("stopped; ports %s are free", joinInts(stopped))
	}()
	logf("Kratos is ready")

	var svc *proc.Process
	follow := &gate{w: stdout}
	if !c.skipService {
		bin := filepath.Join(runDir, "bin", "ory-gin-starter")
		logf("building the service (.run/bin/ory-gin-starter)")
		if err := proc.Build(ctx, root, ".", bin); err != nil {
			return err
		}
		logf("starting the service on http://localhost:%d, log .run/service.log", c.port)
		svc, err = proc.Start(ctx, proc.Config{
			Bin:     bin,
			Dir:     root, // the developer's .env applies, as with go run .
			Env:     append(os.Environ(), "ORY_SDK_URL="+k.PublicURL(), "ORY_ADMIN_URL="+k.AdminURL(), "ORY_WEBHOOK_SECRET="+c.webhookSecret),
			Port:    c.port,
			Out:     follow,
			LogFile: filepath.Join(runDir, "service.log"),
		})
		if err != nil {
			return fmt.Errorf("start the service: %w (log .run/service.log)", err)
		}
		stopped = append([]int{c.port}, stopped...)
		defer func() {
			if err := svc.Stop(); err != nil {
				logf("the service: %v", err)
			}
		}()
		logf("the service is ready")
	}

	logf("signing in %s (registering it first)", c.email)
	user, err := demoUser(ctx, k.PublicURL(), c.email, c.password)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, banner(bannerInfo{
		service:     "http://localhost:" + strconv.Itoa(c.port),
		skipService: c.skipService,
		public:      k.PublicURL(),
		admin:       k.AdminURL(),
		email:       c.email,
		password:    c.password,
		user:        user,
	}))

	var svcDone <-chan struct{}
	if svc != nil {
		logf("following .run/service.log; Ctrl-C stops the service and Kratos")
		follow.on.Store(true)
		svcDone = svc.Done()
	} else {
		logf("Ctrl-C stops Kratos")
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr)
		logf("stopping")
		return nil
	case <-k.Done():
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprint(stderr, lastLines(filepath.Join(runDir, "kratos.log"), 20))
		return errors.New("Kratos exited (log .run/kratos.log)")
	case <-svcDone:
		if ctx.Err() != nil {
			return nil
		}
		follow.on.Store(false)
		fmt.Fprint(stderr, lastLines(filepath.Join(runDir, "service.log"), 20))
		return fmt.Errorf("the service exited: %v (log .run/service.log)", svc.Err())
	}
}

// demoUser registers the account, or signs it in when it exists already.
func demoUser(ctx context.Context, publicURL, email, password string) (oryflow.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	res, err := oryflow.Register(ctx, hc, publicURL, email, password, nil)
	if oryflow.IsDuplicateAccount(err) {
		res, err = oryflow.Login(ctx, hc, publicURL, email, password)
	}
	if err != nil {
		return res, fmt.Errorf("demo user %s: %w", email, err)
	}
	return res, nil
}

type bannerInfo struct {
	service, public, admin string
	skipService            bool
	email, password        string
	user                   oryflow.Result
}

// banner is what a developer pastes from: where everything runs and one curl line per
// route, with the demo user's token.
func banner(b bannerInfo) string {
	notStarted := ""
	if b.skipService {
		notStarted = " (NOT started)"
	}
	r := strings.NewReplacer(
		"{service}", b.service, "{notStarted}", notStarted, "{public}", b.public, "{admin}", b.admin,
		"{email}", b.email, "{password}", b.password, "{identity}", b.user.IdentityID,
		"{session}", b.user.SessionID, "{token}", b.user.SessionToken,
	)
	return r.Replace(`
==============================================================================
 Local stack is up.
   service      {service}{notStarted}
   Kratos       {public} (public)   {admin} (admin, no auth: local only)
   demo user    {email} / {password}   (identity {identity})
   logs         .run/kratos.log  .run/service.log

 Paste into another terminal:

TOKEN={token}

curl -s {service}/healthz
curl -s {service}/readyz
curl -s {service}/openapi.yaml | head
curl -s -H "Authorization: Bearer $TOKEN" {service}/api/resource
curl -s -H "Authorization: Bearer $TOKEN" {service}/api/me
curl -s -H "Authorization: Bearer $TOKEN" {service}/api/me/sessions
curl -s -X DELETE -H "Authorization: Bearer $TOKEN" {service}/api/me/sessions/SESSION_ID   # one of your other sessions (this one is {session})
curl -s -X DELETE -H "Authorization: Bearer $TOKEN" {service}/api/me/sessions              # all your other sessions
curl -s -H "Authorization: Bearer $TOKEN" {service}/api/admin/identities                   # 403 until you are an admin

 Make the demo user an admin (Kratos admin API; metadata_public.role=admin):

curl -s -X PATCH {admin}/admin/identities/{identity} -H 'Content-Type: application/json' -d '[{"op":"add","path":"/metadata_public","value":{"role":"admin"}}]'

 (The service may reuse a validated session for up to SESSION_CACHE_TTL, so the new role
 can take that long to show.)

 Another session (e.g. to revoke from this one):
ORY_PASSWORD='{password}' go run ./dev/cmd/ory-session-token -url {public} -email {email}
 A JWT of this session (tokenizer template jwt_example, verify with kratos/dev-only.jwks.public.json):
curl -s -H "X-Session-Token: $TOKEN" "{public}/sessions/whoami?tokenize_as=jwt_example"
==============================================================================

`)
}

// gate passes writes on to w only while on; the service's start-up lines stay in its
// log file, and the terminal shows what follows the banner.
type gate struct {
	on atomic.Bool
	w  io.Writer
}

func (g *gate) Write(p []byte) (int, error) {
	if g.on.Load() {
		_, _ = g.w.Write(p)
	}
	return len(p), nil
}

func lastLines(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > n+1 {
		lines = lines[len(lines)-n-1:]
	}
	return strings.Join(lines, "")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
