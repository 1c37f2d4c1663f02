package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/proc"
)

// The hosts of one site (example.test) and of another (evil.test); Chromium resolves
// them all to 127.0.0.1, so the test needs no DNS and no /etc/hosts.
const (
	appHost   = "app.example.test"
	apiHost   = "api.example.test"
	authHost  = "auth.example.test"
	probeHost = "probe.example.test"
	evilHost  = "evil.test"

	hostResolverRules = "MAP *.example.test 127.0.0.1, MAP evil.test 127.0.0.1"
)

//go:embed testdata/evil.html
var evilPage []byte

// topology is the SPA, the API, Kratos, a page on another site and a cookie probe,
// each on its own origin, and one Chromium.
type topology struct {
	k *kratostest.Kratos
	// Origins as the browser reaches them.
	app, api, auth, evil, probe string
	// apiLocal is the service on 127.0.0.1, for the test's own HTTP calls.
	apiLocal string
	// browser is Chromium; each case opens its own browser context (cookie jar) in it.
	browser context.Context
	logs    *proc.Buffer // the service's and Chromium's output, shown on failure
}

// startTopology starts everything and stops it when the test ends.
func startTopology(t *testing.T) *topology {
	t.Helper()
	root, err := kratostest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	top := &topology{logs: &proc.Buffer{Keep: 256 << 10}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service and Chromium output:\n%s", top.logs)
		}
	})

	// The page servers listen first: Kratos and the service need the SPA's origin.
	var cfg atomic.Pointer[string] // set once the service is up
	appPort := serve(t, spaHandler(filepath.Join(root, "dev", "examples", "spa"), &cfg))
	evilPort := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(evilPage)
	}))
	probePort := serve(t, probeHandler())
	top.app = origin(appHost, appPort)
	top.evil = origin(evilHost, evilPort)
	top.probe = origin(probeHost, probePort)

	// Kratos with the example's own settings (kratos.spa.yml); the environment only
	// puts in the ports this run got.
	authPort, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	top.auth = origin(authHost, authPort)
	top.k = kratostest.Start(t,
		kratostest.WithConfig(filepath.Join(root, "dev", "examples", "spa", "kratos.spa.yml")),
		kratostest.WithPorts(authPort, 0),
		kratostest.WithEnv(
			"SERVE_PUBLIC_BASE_URL="+top.auth+"/",
			"SERVE_PUBLIC_CORS_ALLOWED_ORIGINS="+top.app,
			"SELFSERVICE_ALLOWED_RETURN_URLS="+top.app,
			"SELFSERVICE_DEFAULT_BROWSER_RETURN_URL="+top.app+"/",
		))

	// The service, built and run as its own process, the way it runs for real. The
	// build is bounded by the test's -timeout only: with a cold build cache on a busy
	// machine it takes minutes.
	bin := filepath.Join(t.TempDir(), "service")
	if err := proc.Build(t.Context(), root, ".", bin); err != nil {
		t.Fatal(err)
	}
	svc, err := proc.Start(t.Context(), proc.Config{
		Bin: bin,
		Dir: t.TempDir(), // no .env of the developer's
		Env: append(baseEnv(),
			"ORY_SDK_URL="+top.k.PublicURL(),
			"ORY_ADMIN_URL="+top.k.AdminURL(),
			"CORS_ALLOWED_ORIGINS="+top.app,
		),
		Out: top.logs,
	})
	if err != nil {
		t.Fatalf("start the service: %v\n%s", err, top.logs)
	}
	t.Cleanup(func() {
		if err := svc.Stop(); err != nil {
			t.Errorf("service: %v", err)
		}
	})
	top.apiLocal = svc.URL
	top.api = origin(apiHost, svc.Port)
	js := fmt.Sprintf("window.SPA_CONFIG = %s;\n", mustJSON(map[string]string{"ory": top.auth, "api": top.api}))
	cfg.Store(&js)

	top.browser = startChromium(t, top.logs)
	return top
}

// startChromium starts a headless Chromium that resolves the test's hosts to
// 127.0.0.1, with a new empty profile; the test's end stops it.
func startChromium(t *testing.T, out *proc.Buffer) context.Context {
	t.Helper()
	name := os.Getenv("CHROMIUM_BIN")
	if name == "" {
		name = "chromium"
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%v: make browser installs Debian's chromium package (or set CHROMIUM_BIN)", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 620),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", hostResolverRules),
		chromedp.CombinedOutput(out),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(func(format string, a ...any) {
		fmt.Fprintf(out, "chromedp: "+format+"\n", a...)
	}))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first action on the browser's own context starts Chromium, which lives as
	// long as that context: a timeout derived from it would end the browser too.
	stuck := time.AfterFunc(time.Minute, cancelBrowser)
	err = chromedp.Do(browser)
	if !stuck.Stop() {
		err = fmt.Errorf("no answer within a minute (%v)", err)
	}
	if err != nil {
		t.Fatalf("start %s: %v\n%s", bin, err, out)
	}
	return browser
}

// baseEnv is the little of the test's environment the service needs to run.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// serve serves h on a free port of 127.0.0.1 until the test ends, and returns the port.
func serve(t *testing.T, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// spaHandler serves the example's files as they are, except config.js, which says
// where this run's Kratos and API are.
func spaHandler(dir string, cfg *atomic.Pointer[string]) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/config.js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
			if js := cfg.Load(); js != nil {
				fmt.Fprint(w, *js)
			}
		case "/", "/index.html", "/app.js":
			files.ServeHTTP(w, r)
		default:
			http.NotFound(w, r) // not the Kratos overlay or anything else in the folder
		}
	})
}

// probeHandler answers GET /cookies with the names (never the values) of the cookies
// the browser sent, to any origin that asks with credentials: a page's own script
// can then show whether the browser sends the Ory cookie from where it runs.
func probeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Add("Vary", "Origin")
		}
		names := []string{}
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string][]string{"cookies": names})
	})
}

func origin(host string, port int) string {
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
