// Package kratostest runs a real Ory Kratos for tests: the binary built by
// `make kratos` (bin/kratos) with the repository's kratos/kratos.yml, on free ports on
// 127.0.0.1, in insecure dev mode (plain-http cookies) with a cheap bcrypt cost.
//
//	k := kratostest.Start(t)                       // DSN=memory
//	res := k.Register(t, k.NewEmail(), kratostest.Password)
//	// res.SessionToken is an ory_st_ token; k.PublicURL(), k.AdminURL() for the service
//
// Start(t, kratostest.WithSQLite()) keeps identities and sessions in a sqlite file
// under t.TempDir(), so they survive Restart; with the default memory DSN a restart
// loses everything. Kratos's log is shown when the test fails.
//
// Start(t, kratostest.WithHooks(serviceURL, secret)) adds kratos/hooks.yml: Kratos's
// web hooks then call the service, which must be listening before anyone registers.
//
// Programs (make dev, make bench, make loadtest) start Kratos the same way through Run,
// which Start wraps, and stop it with Close:
//
//	k, err := kratostest.Run(ctx, kratostest.WithPorts(4433, 4434), kratostest.WithLogFile(".run/kratos.log"))
//	defer k.Close()
//
// The binary is found through env KRATOS_BIN, else <repo root>/bin/kratos.
package kratostest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
)

const (
	// Password is a password that passes Kratos's password policy, for test accounts.
	Password = "kratostest-Pa55word!"
	// TokenizerTemplate is the session-to-JWT template configured in kratos/kratos.yml.
	TokenizerTemplate = "jwt_example"
	// SessionCookieName is the name of self-hosted Kratos's session cookie.
	SessionCookieName = "ory_kratos_session"

	readyTimeout = 60 * time.Second
	stopTimeout  = 10 * time.Second
	maxLogShown  = 64 << 10
)

// Option changes how Kratos is started.
type Option func(*options)

type options struct {
	sqlite     bool
	env        []string
	publicPort int
	adminPort  int
	cpus       string
	logFile    string
	configs    []string // WithConfig's
	hooks      bool
	dir        string // for the sqlite file; Run makes (and Close removes) one when empty
}

// WithSQLite stores Kratos's data in a sqlite file in a temporary directory instead
// of memory, so identities and sessions survive Restart. Migrations run once at start.
func WithSQLite() Option { return func(o *options) { o.sqlite = true } }

// WithEnv adds "KEY=value" environment variables for Kratos (config overrides such as
// "SESSION_LIFESPAN=1m"); they win over the harness's own.
func WithEnv(kv ...string) Option { return func(o *options) { o.env = append(o.env, kv...) } }

// WithConfig layers more config files over kratos/kratos.yml, in order (Kratos's
// repeated -c flag: later files win, lists are replaced whole), such as the SPA
// example's cookie domain and CORS settings. Paths are absolute or relative to the
// working directory; WithEnv still wins over them.
func WithConfig(paths ...string) Option {
	return func(o *options) { o.configs = append(o.configs, paths...) }
}

// WithPorts serves the public and admin APIs on these ports of 127.0.0.1 instead of
// free ones (make dev uses the ports a browser app expects). Start fails when one is
// taken; 0 keeps a free port.
func WithPorts(public, admin int) Option {
	return func(o *options) { o.publicPort, o.adminPort = public, admin }
}

// WithCPUs runs Kratos on these CPUs only (taskset -c list, e.g. "1"), so a benchmark
// can keep Ory off the CPUs the service and the load generator use.
func WithCPUs(list string) Option { return func(o *options) { o.cpus = list } }

// WithLogFile writes everything Kratos prints to the file at path as well (created,
// or emptied; Close closes it); Logs keeps only the tail.
func WithLogFile(path string) Option { return func(o *options) { o.logFile = path } }

// WithHooks starts Kratos with kratos/hooks.yml over kratos.yml: its web hooks
// (Ory Actions) call the service at serviceURL (http://127.0.0.1:8080, no trailing
// slash) with secret, the service's ORY_WEBHOOK_SECRET. Registration then fails
// while nothing answers there, so the service must listen before anyone registers.
func WithHooks(serviceURL, secret string) Option {
	return func(o *options) {
		o.hooks = true
		o.env = append(o.env, HooksEnv(serviceURL, secret)...)
	}
}

// HooksConfig is the overlay on kratos.yml that wires the web hooks to the service.
const HooksConfig = "hooks.yml"

// HooksEnv are the variables that point kratos/hooks.yml's web hooks at serviceURL
// with secret (Kratos reads a list item's field from KEY_<index>_FIELD).
func HooksEnv(serviceURL, secret string) []string {
	return []string{
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_URL=" + serviceURL + "/hooks/ory/registration",
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE=" + secret,
		"SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS_0_CONFIG_URL=" + serviceURL + "/hooks/ory/settings",
		"SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE=" + secret,
	}
}

// inDir keeps Kratos's files (the sqlite database) in dir, which the caller removes.
func inDir(dir string) Option { return func(o *options) { o.dir = dir } }

// Kratos is a running (or stopped) Kratos process.
type Kratos struct {
	tb        testing.TB // nil when made by Run
	bin       string
	configDir string
	configs   []string // -c files: kratos/kratos.yml, the hooks overlay, then WithConfig's
	dsn       string
	env       []string
	cpus      string
	publicURL string
	adminURL  string
	tmpDir    string // made by Run: removed by Close

	logs     *proc.Buffer
	out      io.Writer // logs, requests and logFile
	logFile  *os.File  // WithLogFile's, or nil
	requests *requestCounter

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

var emailSeq atomic.Int64

// Start starts Kratos and stops it when the test ends; it fails the test when Kratos
// cannot start. Kratos's log is printed if the test failed. It is Run with the test's
// temporary directory and cleanup.
func Start(tb testing.TB, opts ...Option) *Kratos {
	tb.Helper()
	k, err := Run(context.Background(), append(opts, inDir(tb.TempDir()))...)
	if err != nil {
		tb.Fatalf("kratostest: %v", err)
	}
	k.tb = tb
	tb.Cleanup(func() {
		k.Close()
		if tb.Failed() {
			tb.Logf("kratostest: Kratos log (%s):\n%s", k.publicURL, k.Logs())
		}
	})
	return k
}

// Run starts Kratos and waits until both its APIs are ready, or until ctx is done.
// The caller must call Close. Methods that take a testing.TB work with the TB of each
// test, so a TestMain can share one Kratos.
func Run(ctx context.Context, opts ...Option) (*Kratos, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	var tmpDir string
	if o.dir == "" {
		dir, err := os.MkdirTemp("", "kratostest-")
		if err != nil {
			return nil, err
		}
		o.dir, tmpDir = dir, dir
	}
	k, err := newKratos(o)
	if err != nil {
		if tmpDir != "" {
			os.RemoveAll(tmpDir)
		}
		return nil, err
	}
	k.tmpDir = tmpDir
	if err := k.start(ctx, true); err != nil {
		k.Close()
		return nil, fmt.Errorf("%w\nKratos log (last lines):\n%s", err, lastLines(k.Logs(), 40))
	}
	return k, nil
}

func newKratos(o options) (*Kratos, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	bin := os.Getenv("KRATOS_BIN")
	if bin == "" {
		bin = filepath.Join(root, "bin", "kratos")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("Kratos binary not found at %s: run `make kratos` (builds bin/kratos, a few minutes the first time) or set KRATOS_BIN", bin)
	}
	if o.cpus != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, fmt.Errorf("pin Kratos to CPUs %s: taskset not found (util-linux)", o.cpus)
		}
	}
	pub, err := proc.PortOrFree(o.publicPort)
	if err != nil {
		return nil, err
	}
	adm, err := proc.PortOrFree(o.adminPort)
	if err != nil {
		return nil, err
	}
	dsn := "memory"
	if o.sqlite {
		dsn = "sqlite://" + filepath.ToSlash(filepath.Join(o.dir, "kratos.sqlite")) + "?_fk=true&mode=rwc"
	}
	configs := []string{filepath.Join(root, "kratos", "kratos.yml")}
	if o.hooks {
		configs = append(configs, filepath.Join(root, "kratos", HooksConfig))
	}
	for _, c := range o.configs {
		abs, err := filepath.Abs(c)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("kratos config: %w", err)
		}
		configs = append(configs, abs)
	}
	k := &Kratos{
		bin:       bin,
		configDir: filepath.Join(root, "kratos"),
		configs:   configs,
		dsn:       dsn,
		cpus:      o.cpus,
		publicURL: fmt.Sprintf("http://127.0.0.1:%d", pub),
		adminURL:  fmt.Sprintf("http://127.0.0.1:%d", adm),
		logs:      &proc.Buffer{Keep: maxLogShown},
		requests:  &requestCounter{},
	}
	k.out = io.MultiWriter(k.logs, k.requests)
	if o.logFile != "" {
		if k.logFile, err = os.Create(o.logFile); err != nil {
			return nil, err
		}
		k.out = io.MultiWriter(k.logs, k.requests, k.logFile)
	}
	k.env = kratosEnv(k.dsn, pub, adm, k.publicURL, k.adminURL, o.env)
	return k, nil
}

// kratosEnv is a small, deterministic environment: the caller's Kratos-looking
// variables (DSN, SERVE_*, SESSION_*, ...) must not leak into the test Kratos.
func kratosEnv(dsn string, pub, adm int, publicURL, adminURL string, extra []string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"DSN="+dsn,
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT="+strconv.Itoa(pub),
		"SERVE_ADMIN_PORT="+strconv.Itoa(adm),
		"SERVE_PUBLIC_BASE_URL="+publicURL+"/",
		"SERVE_ADMIN_BASE_URL="+adminURL+"/",
		// Only honoured with --dev (otherwise raised to 12): fast password hashing.
		"HASHERS_BCRYPT_COST=4",
		"LOG_LEVEL=info",
		"SQA_OPT_OUT=true",
	)
	return append(env, extra...)
}

// PublicURL is Kratos's public (FrontendAPI) URL, e.g. http://127.0.0.1:40123 (no trailing slash).
func (k *Kratos) PublicURL() string { return k.publicURL }

// AdminURL is Kratos's admin (IdentityAPI) URL, e.g. http://127.0.0.1:40124 (no trailing slash).
func (k *Kratos) AdminURL() string { return k.adminURL }

// DSN is the database Kratos uses: "memory" or a sqlite file URL.
func (k *Kratos) DSN() string { return k.dsn }

// Logs returns what Kratos has logged so far (the last 64 KiB).
func (k *Kratos) Logs() string { return k.logs.String() }

// Requests is how many requests to path (exactly: a query string is not part of it)
// Kratos has answered since it was started, counted from its request log; with
// statuses, only the answers with one of them. Requests("/sessions/whoami") is what a
// service's session cache saves. Kratos logs a request just after answering it, so a
// count read right after a call can lag by that one line.
func (k *Kratos) Requests(path string, statuses ...int) int64 {
	return k.requests.count(path, statuses...)
}

// RequestsLike is Requests for every path that pattern (a regular expression)
// matches, such as the Admin API's session routes, whatever the status.
func (k *Kratos) RequestsLike(pattern string) int64 {
	re := regexp.MustCompile(pattern)
	k.requests.mu.Lock()
	defer k.requests.mu.Unlock()
	var n int64
	for a, m := range k.requests.counts {
		if re.MatchString(a.path) {
			n += m
		}
	}
	return n
}

// Done is closed when the Kratos process started last exits (Stop, or a crash).
func (k *Kratos) Done() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return k.done
}

// PublicJWKSPath is the file with the public half of the tokenizer's local-dev ES256
// key set (kratos/dev-only.jwks.public.json): what a service verifies
// tokenize_as=jwt_example JWTs with.
func (k *Kratos) PublicJWKSPath() string {
	return filepath.Join(k.configDir, "dev-only.jwks.public.json")
}

func (k *Kratos) fail(format string, a ...any) {
	if k.tb != nil {
		k.tb.Helper()
		k.tb.Fatalf("kratostest: "+format+"\nKratos log:\n%s", append(a, k.Logs())...)
	}
	panic(fmt.Sprintf("kratostest: "+format, a...))
}

func (k *Kratos) start(ctx context.Context, migrate bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd != nil {
		return errors.New("already running")
	}
	if migrate && k.dsn != "memory" {
		// A file database needs its schema first; DSN=memory migrates on every start.
		m := exec.Command(k.bin, append([]string{"migrate", "sql", "-e", "--yes"}, k.configFlags()...)...)
		m.Dir = k.configDir
		m.Env = k.env
		m.Stdout, m.Stderr = k.out, k.out
		if err := m.Run(); err != nil {
			return fmt.Errorf("kratos migrate sql: %w", err)
		}
	}
	fmt.Fprintf(k.out, "---- kratostest: starting Kratos (public %s, admin %s, DSN %s) ----\n", k.publicURL, k.adminURL, k.dsn)
	args := append([]string{k.bin, "serve", "--dev", "--sqa-opt-out"}, k.configFlags()...)
	if k.cpus != "" {
		// taskset execs Kratos: same process, so signals and Pdeathsig still reach it.
		args = append([]string{"taskset", "-c", k.cpus}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = k.configDir
	cmd.Env = k.env
	cmd.Stdout, cmd.Stderr = k.out, k.out
	proc.KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", k.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	k.cmd, k.done = cmd, done
	return k.waitReady(ctx, done)
}

// configFlags are the -c flags naming every config file, kratos/kratos.yml first.
func (k *Kratos) configFlags() []string {
	var flags []string
	for _, c := range k.configs {
		flags = append(flags, "-c", c)
	}
	return flags
}

func (k *Kratos) waitReady(ctx context.Context, done chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, u := range []string{k.publicURL + "/health/ready", k.adminURL + "/admin/health/ready"} {
		if err := proc.WaitHealthy(ctx, u, done); err != nil {
			return fmt.Errorf("kratos not ready: %w", err)
		}
	}
	return nil
}

// Stop stops Kratos (SIGTERM, then SIGKILL after 10s) and waits for it to exit. Its
// ports then refuse connections. Stop on a stopped Kratos does nothing; Restart
// starts it again.
func (k *Kratos) Stop() {
	k.mu.Lock()
	cmd, done := k.cmd, k.done
	k.cmd, k.done = nil, nil
	k.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen Kratos must run to exit
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
	fmt.Fprintf(k.out, "---- kratostest: Kratos stopped ----\n")
}

// Freeze suspends the Kratos process (SIGSTOP): its ports still accept connections
// but nothing answers, the way a hung Ory looks to a client. It returns once the
// process is stopped. Thaw resumes it.
func (k *Kratos) Freeze() {
	pid := k.signal(syscall.SIGSTOP)
	// The signal is delivered asynchronously; wait until the kernel shows the
	// process stopped ("T"), or a moment where /proc is not there.
	status := fmt.Sprintf("/proc/%d/status", pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(status)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			return
		}
		if strings.Contains(string(b), "State:\tT") {
			return
		}
	}
}

// Thaw resumes a Kratos suspended by Freeze (SIGCONT).
func (k *Kratos) Thaw() { k.signal(syscall.SIGCONT) }

// signal sends sig to the running Kratos and returns its pid (0 when not running).
func (k *Kratos) signal(sig syscall.Signal) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return 0
	}
	_ = k.cmd.Process.Signal(sig)
	return k.cmd.Process.Pid
}

// Close stops Kratos, closes the WithLogFile file and removes the temporary directory
// Run made; Start's cleanup calls it.
func (k *Kratos) Close() {
	k.Stop()
	if k.logFile != nil {
		k.logFile.Close()
	}
	if k.tmpDir != "" {
		os.RemoveAll(k.tmpDir)
	}
}

// Restart stops Kratos and starts it again on the same ports and DSN, so a service
// pointed at PublicURL/AdminURL sees Kratos come back. With the default memory DSN all
// identities and sessions are gone afterwards; use WithSQLite to keep them. Restart
// fails the test given to Start (Run: panics) when Kratos does not come back.
func (k *Kratos) Restart() {
	if k.tb != nil {
		k.tb.Helper()
	}
	k.Stop()
	if err := k.start(context.Background(), false); err != nil {
		k.fail("restart: %v", err)
	}
}

// Running reports whether the Kratos process is running.
func (k *Kratos) Running() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done == nil {
		return false
	}
	select {
	case <-k.done:
		return false
	default:
		return true
	}
}

// NewEmail returns an address no other call in this test binary returns.
func (k *Kratos) NewEmail() string {
	return fmt.Sprintf("kt-%d-%d-%d@example.com", os.Getpid(), time.Now().UnixNano()%1e9, emailSeq.Add(1))
}

func opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// Register registers an account through the API registration flow and returns its
// session (with an ory_st_ token).
func (k *Kratos) Register(tb testing.TB, email, password string) oryflow.Result {
	tb.Helper()
	c, cancel := opCtx()
	defer cancel()
	res, err := oryflow.Register(c, &http.Client{Timeout: 30 * time.Second}, k.publicURL, email, password, nil)
	if err != nil {
		tb.Fatalf("kratostest: register %s: %v", email, err)
	}
	return res
}

// Login signs in through the API login flow and returns a new session and its token.
func (k *Kratos) Login(tb testing.TB, email, password string) oryflow.Result {
	tb.Helper()
	c, cancel := opCtx()
	defer cancel()
	res, err := oryflow.Login(c, &http.Client{Timeout: 30 * time.Second}, k.publicURL, email, password)
	if err != nil {
		tb.Fatalf("kratostest: login %s: %v", email, err)
	}
	return res
}

// BrowserLogin signs in through the browser login flow (JSON, CSRF token and cookie,
// fresh cookie jar) and returns the session's Cookie header value
// ("ory_kratos_session=..."). The cookie is host-only for 127.0.0.1, so a browser
// would also send it to a service on another port of 127.0.0.1.
func (k *Kratos) BrowserLogin(tb testing.TB, email, password string) string {
	tb.Helper()
	res := k.BrowserLoginResult(tb, email, password)
	return res.CookieHeader
}

// BrowserLoginResult is BrowserLogin returning the session and identity ids too.
func (k *Kratos) BrowserLoginResult(tb testing.TB, email, password string) oryflow.Result {
	tb.Helper()
	c, cancel := opCtx()
	defer cancel()
	jar, _ := cookiejar.New(nil)
	res, err := oryflow.BrowserLogin(c, &http.Client{Jar: jar, Timeout: 30 * time.Second}, k.publicURL, email, password)
	if err != nil {
		tb.Fatalf("kratostest: browser login %s: %v", email, err)
	}
	return res
}

// SetMetadataPublic replaces the identity's metadata_public through the admin API
// (PATCH /admin/identities/{id} with a JSON Patch), e.g. {"role": "admin"}.
func (k *Kratos) SetMetadataPublic(tb testing.TB, identityID string, md map[string]any) {
	tb.Helper()
	patch := []map[string]any{{"op": "add", "path": "/metadata_public", "value": md}}
	status, body := k.admin(tb, http.MethodPatch, "/admin/identities/"+url.PathEscape(identityID), patch)
	if status != http.StatusOK {
		tb.Fatalf("kratostest: set metadata_public of %s: HTTP %d: %s", identityID, status, body)
	}
}

// Identity returns the identity as the admin API shows it (GET /admin/identities/{id}).
func (k *Kratos) Identity(tb testing.TB, identityID string) map[string]any {
	tb.Helper()
	status, body := k.admin(tb, http.MethodGet, "/admin/identities/"+url.PathEscape(identityID), nil)
	if status != http.StatusOK {
		tb.Fatalf("kratostest: get identity %s: HTTP %d: %s", identityID, status, body)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatalf("kratostest: get identity %s: %v", identityID, err)
	}
	return m
}

// RevokeSession disables a session through the admin API (DELETE /admin/sessions/{id}).
func (k *Kratos) RevokeSession(tb testing.TB, sessionID string) {
	tb.Helper()
	status, body := k.admin(tb, http.MethodDelete, "/admin/sessions/"+url.PathEscape(sessionID), nil)
	if status != http.StatusNoContent {
		tb.Fatalf("kratostest: revoke session %s: HTTP %d: %s", sessionID, status, body)
	}
}

func (k *Kratos) admin(tb testing.TB, method, path string, in any) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			tb.Fatalf("kratostest: %v", err)
		}
		rd = bytes.NewReader(b)
	}
	c, cancel := opCtx()
	defer cancel()
	req, err := http.NewRequestWithContext(c, method, k.adminURL+path, rd)
	if err != nil {
		tb.Fatalf("kratostest: %v", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("kratostest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body
}

// Whoami calls /sessions/whoami with the credentials (and ?tokenize_as when
// tokenizeAs is set). It returns the HTTP error as an *oryflow.Error.
func (k *Kratos) Whoami(cred oryflow.Credentials, tokenizeAs string) (oryflow.Session, error) {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return oryflow.Whoami(c, &http.Client{Timeout: 30 * time.Second}, k.publicURL, cred, tokenizeAs)
}

// VerifyJWT checks an ES256 JWT from the tokenizer against the public local-dev JWKS
// (signature, kid, exp/nbf) and returns its claims.
func (k *Kratos) VerifyJWT(tb testing.TB, token string) map[string]any {
	tb.Helper()
	claims, err := verifyES256(token, k.PublicJWKSPath(), time.Now())
	if err != nil {
		tb.Fatalf("kratostest: verify JWT: %v", err)
	}
	return claims
}

func verifyES256(token, jwksPath string, now time.Time) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWS compact token")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSeg(parts[0], &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "ES256" {
		return nil, fmt.Errorf("alg %q, want ES256", hdr.Alg)
	}
	raw, err := os.ReadFile(jwksPath)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kid, Kty, Crv, X, Y string
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var pub *ecdsa.PublicKey
	for _, key := range set.Keys {
		if key.Kid == hdr.Kid && key.Kty == "EC" && key.Crv == "P-256" {
			x, err1 := base64.RawURLEncoding.DecodeString(key.X)
			y, err2 := base64.RawURLEncoding.DecodeString(key.Y)
			if err1 != nil || err2 != nil {
				return nil, errors.New("jwks: bad x/y")
			}
			pub = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("no P-256 key with kid %q in %s", hdr.Kid, jwksPath)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errors.New("bad ES256 signature encoding")
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, errors.New("signature does not verify")
	}
	var claims map[string]any
	if err := decodeSeg(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	exp, _ := claims["exp"].(float64)
	nbf, _ := claims["nbf"].(float64)
	if exp == 0 || now.Unix() >= int64(exp) {
		return nil, fmt.Errorf("expired or no exp (exp=%v)", claims["exp"])
	}
	if nbf != 0 && now.Add(time.Minute).Unix() < int64(nbf) {
		return nil, fmt.Errorf("not valid yet (nbf=%v)", claims["nbf"])
	}
	return claims, nil
}

func decodeSeg(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// RepoRoot is the repository's root folder (the one with go.mod and kratos/kratos.yml),
// found from the working directory; programs build the service from it.
func RepoRoot() (string, error) { return repoRoot() }

// repoRoot walks up from the working directory (go test runs in the package
// directory) to the folder with go.mod and kratos/kratos.yml; it falls back to this
// source file's location.
func repoRoot() (string, error) {
	isRoot := func(dir string) bool {
		_, err1 := os.Stat(filepath.Join(dir, "go.mod"))
		_, err2 := os.Stat(filepath.Join(dir, "kratos", "kratos.yml"))
		return err1 == nil && err2 == nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "", errors.New("cannot find the repository root (a folder with go.mod and kratos/kratos.yml) above the working directory")
}

// requestCounter counts the "completed handling request" lines Kratos logs, by path
// and status. It sees Kratos's output in arbitrary chunks, so it keeps a partial last
// line.
type requestCounter struct {
	mu      sync.Mutex
	partial []byte
	counts  map[answer]int64
}

// answer is a request's path and the status Kratos answered it with.
type answer struct {
	path   string
	status int
}

func (c *requestCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		if a, ok := completedRequest(c.partial[:i]); ok {
			if c.counts == nil {
				c.counts = map[answer]int64{}
			}
			c.counts[a]++
		}
		c.partial = c.partial[i+1:]
	}
	if len(c.partial) > 1<<20 { // one absurd line must not grow without bound
		c.partial = nil
	}
	c.partial = append([]byte(nil), c.partial...)
	return len(p), nil
}

// count is how many answers to path were seen, with one of statuses when any are given.
func (c *requestCounter) count(path string, statuses ...int) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for a, m := range c.counts {
		if a.path == path && (len(statuses) == 0 || slices.Contains(statuses, a.status)) {
			n += m
		}
	}
	return n
}

// completedRequest reads Kratos's (text format) log of a finished request: a line
// with "msg=completed handling request", "path:<path>" in its http_request field (a
// query string is logged in a field of its own) and "status:<code>" in its
// http_response field.
func completedRequest(line []byte) (answer, bool) {
	s := string(line)
	if !strings.Contains(s, "msg=completed handling request") {
		return answer{}, false
	}
	req, resp, ok := strings.Cut(s, " http_response=map[")
	if !ok {
		return answer{}, false
	}
	_, req, ok = strings.Cut(req, " http_request=map[")
	if !ok {
		return answer{}, false
	}
	var a answer
	for f := range strings.FieldsSeq(req) {
		if p, ok := strings.CutPrefix(f, "path:"); ok {
			a.path = strings.TrimRight(p, "]")
			break
		}
	}
	for f := range strings.FieldsSeq(strings.TrimRight(resp, "]")) {
		if v, ok := strings.CutPrefix(f, "status:"); ok {
			a.status, _ = strconv.Atoi(strings.TrimRight(v, "]"))
			break
		}
	}
	return a, a.path != ""
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n+1 {
		lines = lines[len(lines)-n-1:]
	}
	return strings.Join(lines, "")
}
