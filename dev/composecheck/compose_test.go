package composecheck

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "docker-compose.yml"

// The one DSN both Kratos services must share (same SQLite file in the same volume).
const kratosDSN = "sqlite:///var/lib/sqlite/db.sqlite?_fk=true&mode=rwc"

// repoRoot is the starter's root folder, two levels up from this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, composeFile)); err != nil {
		t.Fatalf("no %s at the repository root: %v", composeFile, err)
	}
	return dir
}

// load reads dir/docker-compose.yml the way `docker compose` does from dir: project
// directory dir, dir/.env (if present) read for interpolation, env_file entries
// resolved, paths made absolute. env stands in for the shell environment; the test
// process's own environment is never used, so a developer's exported ORY_* variables
// cannot change the outcome.
func load(t *testing.T, dir string, env map[string]string) (*types.Project, error) {
	t.Helper()
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(dir, composeFile)},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(envList),
		cli.WithEnvFiles(), // default: <project dir>/.env when it exists
		cli.WithDotEnv,
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
		cli.WithNormalization(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T, dir string, env map[string]string) *types.Project {
	t.Helper()
	p, err := load(t, dir, env)
	if err != nil {
		t.Fatalf("compose loader rejected %s: %v", filepath.Join(dir, composeFile), err)
	}
	return p
}

// copyCompose puts a copy of the compose file in a fresh temp dir, with dotenv as its
// .env unless dotenv is nil. The repository's own .env is never read or written.
func copyCompose(t *testing.T, dotenv *string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, composeFile), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != nil {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(*dotenv), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q missing; have %v", name, serviceNames(p))
	}
	return s
}

func serviceNames(p *types.Project) []string {
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// envValue returns a service's environment variable after loading (env_file merged in).
func envValue(s types.ServiceConfig, key string) (string, bool) {
	v, ok := s.Environment[key]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

func strp(s string) *string { return &s }

// --- structure ---------------------------------------------------------------

func TestComposeFileLoads(t *testing.T) {
	// From the repository itself (its .env, if a developer has one, included) ...
	mustLoad(t, repoRoot(t), nil)
	// ... and from a clean copy with no .env at all.
	mustLoad(t, copyCompose(t, nil), nil)
}

func TestServicesAndDependencies(t *testing.T) {
	p := mustLoad(t, copyCompose(t, nil), nil)

	if got, want := serviceNames(p), []string{"app", "kratos", "kratos-migrate"}; !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}

	migrate := service(t, p, "kratos-migrate")
	kratos := service(t, p, "kratos")
	app := service(t, p, "app")

	for _, s := range []types.ServiceConfig{migrate, kratos} {
		if s.Image != "oryd/kratos:v1.3.1" {
			t.Errorf("%s image = %q, want oryd/kratos:v1.3.1", s.Name, s.Image)
		}
		if v, _ := envValue(s, "DSN"); v != kratosDSN {
			t.Errorf("%s DSN = %q, want %q", s.Name, v, kratosDSN)
		}
		if !hasVolume(s, "volume", "kratos-sqlite", "/var/lib/sqlite") {
			t.Errorf("%s does not mount volume kratos-sqlite at /var/lib/sqlite: %+v", s.Name, s.Volumes)
		}
		if s.WorkingDir != "/etc/config/kratos" {
			t.Errorf("%s working_dir = %q, want /etc/config/kratos (kratos.yml's file:// references are relative)", s.Name, s.WorkingDir)
		}
		if !containsSeq(s.Command, "-c", "/etc/config/kratos/kratos.yml") {
			t.Errorf("%s command %q lacks -c /etc/config/kratos/kratos.yml", s.Name, s.Command)
		}
		if len(s.EnvFiles) != 0 {
			t.Errorf("%s reads env files %v: the app's .env (API key, LOG_LEVEL, ...) must not reach Kratos", s.Name, s.EnvFiles)
		}
	}

	if !containsSeq(migrate.Command, "migrate", "sql", "-e", "--yes") {
		t.Errorf("kratos-migrate command = %q, want migrate sql -e --yes", migrate.Command)
	}
	if migrate.Restart != "on-failure" {
		t.Errorf("kratos-migrate restart = %q, want on-failure", migrate.Restart)
	}
	if len(migrate.Ports) != 0 {
		t.Errorf("kratos-migrate publishes ports %+v", migrate.Ports)
	}

	if !containsSeq(kratos.Command, "serve") || !slices.Contains(kratos.Command, "--dev") || !slices.Contains(kratos.Command, "--watch-courier") {
		t.Errorf("kratos command = %q, want serve ... --dev --watch-courier", kratos.Command)
	}
	for k, want := range map[string]string{
		"SERVE_PUBLIC_BASE_URL": "http://127.0.0.1:4433/",
		"SERVE_ADMIN_BASE_URL":  "http://kratos:4434/",
	} {
		if v, _ := envValue(kratos, k); v != want {
			t.Errorf("kratos %s = %q, want %q", k, v, want)
		}
	}
	assertDependsOn(t, kratos, "kratos-migrate", types.ServiceConditionCompletedSuccessfully)
	assertPort(t, kratos, 4433, "", "4433")
	// The admin API has no authentication: it must be bound to loopback on the host.
	assertPort(t, kratos, 4434, "127.0.0.1", "4434")
	if hc := kratos.HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
		t.Errorf("kratos needs a healthcheck (the app waits on service_healthy): %+v", hc)
	} else if !strings.Contains(strings.Join(hc.Test, " "), "/health/ready") {
		t.Errorf("kratos healthcheck %q does not probe /health/ready", hc.Test)
	}

	if app.Build == nil {
		t.Fatal("app has no build section")
	}
	if app.Build.Context != repoRootOf(p) {
		t.Errorf("app build context = %q, want the project dir %q", app.Build.Context, repoRootOf(p))
	}
	assertDependsOn(t, app, "kratos", types.ServiceConditionHealthy)
	assertPort(t, app, 8080, "", "8080")
	if v, _ := envValue(app, "PORT"); v != "8080" {
		t.Errorf("app PORT = %q, want 8080 (the port the image listens on)", v)
	}
	if len(app.EnvFiles) != 1 || filepath.Base(app.EnvFiles[0].Path) != ".env" || bool(app.EnvFiles[0].Required) {
		t.Errorf("app env_file = %+v, want exactly [{path: .env, required: false}]", app.EnvFiles)
	}

	if _, ok := p.Volumes["kratos-sqlite"]; !ok {
		t.Errorf("named volume kratos-sqlite not declared; volumes: %v", p.Volumes)
	}
}

func repoRootOf(p *types.Project) string { return p.WorkingDir }

func hasVolume(s types.ServiceConfig, typ, source, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == typ && v.Source == source && v.Target == target {
			return true
		}
	}
	return false
}

func containsSeq(cmd []string, seq ...string) bool {
	for i := 0; i+len(seq) <= len(cmd); i++ {
		if slices.Equal(cmd[i:i+len(seq)], seq) {
			return true
		}
	}
	return false
}

func assertDependsOn(t *testing.T, s types.ServiceConfig, on, condition string) {
	t.Helper()
	d, ok := s.DependsOn[on]
	if !ok {
		t.Errorf("%s does not depend on %s (depends_on: %+v)", s.Name, on, s.DependsOn)
		return
	}
	if d.Condition != condition {
		t.Errorf("%s depends on %s with condition %q, want %q", s.Name, on, d.Condition, condition)
	}
	if !d.Required {
		t.Errorf("%s depends on %s with required: false", s.Name, on)
	}
}

func assertPort(t *testing.T, s types.ServiceConfig, target uint32, hostIP, published string) {
	t.Helper()
	for _, p := range s.Ports {
		if p.Target == target {
			if p.HostIP != hostIP || p.Published != published {
				t.Errorf("%s port %d published as %q:%q, want %q:%q", s.Name, target, p.HostIP, p.Published, hostIP, published)
			}
			return
		}
	}
	t.Errorf("%s does not publish container port %d: %+v", s.Name, target, s.Ports)
}

// --- files the compose file refers to ----------------------------------------

// TestReferencedFilesExist loads the real file from the repository root and checks
// that what it points at is there: the build context's Dockerfile, every bind-mount
// source, every container path a command names inside a bind mount (kratos.yml), and
// the file:// references in kratos.yml relative to the working_dir Kratos runs in.
func TestReferencedFilesExist(t *testing.T) {
	root := repoRoot(t)
	p := mustLoad(t, root, nil)

	app := service(t, p, "app")
	if app.Build != nil {
		dockerfile := app.Build.Dockerfile
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		if !filepath.IsAbs(dockerfile) {
			dockerfile = filepath.Join(app.Build.Context, dockerfile)
		}
		mustExist(t, dockerfile, false)
		mustExist(t, filepath.Join(app.Build.Context, ".dockerignore"), false)
	}

	for _, name := range serviceNames(p) {
		s := p.Services[name]
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			mustExist(t, v.Source, true)
		}
		for _, arg := range s.Command {
			if host, ok := hostPath(s, arg); ok {
				mustExist(t, host, false)
			}
		}
	}

	// The Kratos config folder is mounted from ./kratos, read-only, at /etc/config/kratos.
	kratos := service(t, p, "kratos")
	wantSrc := filepath.Join(root, "kratos")
	found := false
	for _, v := range kratos.Volumes {
		if v.Type == types.VolumeTypeBind && v.Target == "/etc/config/kratos" {
			found = true
			if v.Source != wantSrc {
				t.Errorf("kratos config mount source = %q, want %q (./kratos)", v.Source, wantSrc)
			}
			if !v.ReadOnly {
				t.Errorf("kratos config mount is writable; want :ro")
			}
		}
	}
	if !found {
		t.Errorf("kratos does not bind-mount ./kratos at /etc/config/kratos: %+v", kratos.Volumes)
	}
	cfg := filepath.Join(wantSrc, "kratos.yml")
	mustExist(t, cfg, false)

	// kratos.yml's file:// references resolve against Kratos's working_dir.
	data, err := os.ReadFile(cfg)
	if err != nil {
		return // reported by mustExist above
	}
	workHost, ok := hostPath(kratos, kratos.WorkingDir)
	if !ok {
		t.Fatalf("kratos working_dir %q is not inside a bind mount", kratos.WorkingDir)
	}
	refs := regexp.MustCompile(`(?m)^[^#\n]*\bfile://([^\s"'#]+)`).FindAllSubmatch(data, -1)
	if len(refs) == 0 {
		t.Logf("kratos.yml has no file:// references")
	}
	for _, m := range refs {
		ref := string(m[1])
		if filepath.IsAbs(ref) {
			if host, ok := hostPath(kratos, ref); ok {
				mustExist(t, host, false)
			} else {
				t.Errorf("kratos.yml refers to %s, which is outside the mounted config folder", ref)
			}
			continue
		}
		mustExist(t, filepath.Join(workHost, ref), false)
	}
}

// hostPath maps an absolute container path inside one of s's bind mounts to the host.
func hostPath(s types.ServiceConfig, p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if p == v.Target {
			return v.Source, true
		}
		if rel, ok := strings.CutPrefix(p, strings.TrimSuffix(v.Target, "/")+"/"); ok {
			return filepath.Join(v.Source, filepath.FromSlash(rel)), true
		}
	}
	return "", false
}

func mustExist(t *testing.T, path string, wantDir bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Errorf("referenced path missing: %v", err)
		return
	}
	if fi.IsDir() != wantDir {
		t.Errorf("%s: is a directory = %v, want %v", path, fi.IsDir(), wantDir)
	}
}

// --- secrets -------------------------------------------------------------------

func TestNoHardcodedSecrets(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	// Ory API keys, personal access tokens, session tokens, workspace keys.
	if m := regexp.MustCompile(`ory_(apikey|pat|st|wak|at|rt)_[A-Za-z0-9]`).Find(raw); m != nil {
		t.Errorf("compose file contains what looks like an Ory credential: %q", m)
	}
	if regexp.MustCompile(`(?m)^\s*-?\s*ORY_API_KEY\s*[:=]`).Match(raw) {
		t.Errorf("compose file sets ORY_API_KEY itself; it must come from .env (env_file) only")
	}

	// With no .env and an empty environment, the app gets exactly these variables.
	p := mustLoad(t, copyCompose(t, nil), nil)
	app := service(t, p, "app")
	var keys []string
	for k := range app.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if want := []string{"ORY_ADMIN_URL", "ORY_SDK_URL", "PORT"}; !slices.Equal(keys, want) {
		t.Errorf("app environment keys without .env = %v, want %v", keys, want)
	}
	for _, name := range serviceNames(p) {
		for k := range p.Services[name].Environment {
			if strings.Contains(k, "API_KEY") || strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") {
				t.Errorf("service %s sets %s in the compose file", name, k)
			}
		}
	}

	// A key in .env reaches the app (env_file) and nothing else.
	p = mustLoad(t, copyCompose(t, strp("ORY_PROJECT_SLUG=acme\nORY_API_KEY=ory_pat_x\n")), nil)
	if v, _ := envValue(service(t, p, "app"), "ORY_API_KEY"); v != "ory_pat_x" {
		t.Errorf("app ORY_API_KEY from .env = %q, want ory_pat_x", v)
	}
	for _, name := range []string{"kratos", "kratos-migrate"} {
		if _, ok := service(t, p, name).Environment["ORY_API_KEY"]; ok {
			t.Errorf("%s receives ORY_API_KEY", name)
		}
	}
}

// --- interpolation of the Ory URLs --------------------------------------------

func TestOryURLInterpolation(t *testing.T) {
	const network = "https://acme.projects.oryapis.com"
	cases := []struct {
		name      string
		dotenv    *string           // nil: no .env file at all
		shell     map[string]string // the environment docker compose runs in
		sdk       string
		admin     string
		apiKey    string // "" means: ORY_API_KEY must not be set in the container
		published string // host port of the app
	}{
		{
			name: "(a) no .env: local Kratos service",
			sdk:  "http://kratos:4433", admin: "http://kratos:4434", published: "8080",
		},
		{
			name:   "(a') .env copied from .env.example, values blank: still local Kratos",
			dotenv: strp("ORY_PROJECT_SLUG=\nORY_SDK_URL=\nORY_ADMIN_URL=\nPORT=8080\n"),
			sdk:    "http://kratos:4433", admin: "http://kratos:4434", published: "8080",
		},
		{
			name:   "(b) .env with ORY_PROJECT_SLUG + key: Ory Network URLs from the slug",
			dotenv: strp("ORY_PROJECT_SLUG=acme\nORY_API_KEY=ory_pat_x\n"),
			sdk:    network, admin: network, apiKey: "ory_pat_x", published: "8080",
		},
		{
			name:   "(c) .env with ORY_SDK_URL + key: admin follows the SDK URL",
			dotenv: strp("ORY_SDK_URL=" + network + "\nORY_API_KEY=ory_pat_x\n"),
			sdk:    network, admin: network, apiKey: "ory_pat_x", published: "8080",
		},
		{
			name:   "ORY_SDK_URL and ORY_ADMIN_URL both given",
			dotenv: strp("ORY_SDK_URL=https://auth.example.com\nORY_ADMIN_URL=" + network + "\nORY_API_KEY=ory_apikey_y\n"),
			sdk:    "https://auth.example.com", admin: network, apiKey: "ory_apikey_y", published: "8080",
		},
		{
			name:   "ORY_SDK_URL beats the slug; admin defaults to the SDK URL",
			dotenv: strp("ORY_PROJECT_SLUG=acme\nORY_SDK_URL=https://auth.example.com\n"),
			sdk:    "https://auth.example.com", admin: "https://auth.example.com", published: "8080",
		},
		{
			name:   "ORY_ADMIN_URL alone: local Kratos public, custom admin",
			dotenv: strp("ORY_ADMIN_URL=http://kratos-admin:4434\n"),
			sdk:    "http://kratos:4433", admin: "http://kratos-admin:4434", published: "8080",
		},
		{
			name:  "slug exported in the shell, no .env",
			shell: map[string]string{"ORY_PROJECT_SLUG": "acme"},
			sdk:   network, admin: network, published: "8080",
		},
		{
			name:   "shell beats .env for interpolation",
			dotenv: strp("ORY_PROJECT_SLUG=acme\n"),
			shell:  map[string]string{"ORY_SDK_URL": "http://other:4433"},
			sdk:    "http://other:4433", admin: "http://other:4433", published: "8080",
		},
		{
			name:   "PORT in .env moves the host port only",
			dotenv: strp("PORT=9090\n"),
			sdk:    "http://kratos:4433", admin: "http://kratos:4434", published: "9090",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := mustLoad(t, copyCompose(t, tc.dotenv), tc.shell)
			app := service(t, p, "app")
			if v, ok := envValue(app, "ORY_SDK_URL"); !ok || v != tc.sdk {
				t.Errorf("app ORY_SDK_URL = %q (set %v), want %q", v, ok, tc.sdk)
			}
			if v, ok := envValue(app, "ORY_ADMIN_URL"); !ok || v != tc.admin {
				t.Errorf("app ORY_ADMIN_URL = %q (set %v), want %q", v, ok, tc.admin)
			}
			key, ok := envValue(app, "ORY_API_KEY")
			if tc.apiKey == "" && ok && key != "" {
				t.Errorf("app ORY_API_KEY = %q, want unset", key)
			}
			if tc.apiKey != "" && key != tc.apiKey {
				t.Errorf("app ORY_API_KEY = %q, want %q", key, tc.apiKey)
			}
			if v, _ := envValue(app, "PORT"); v != "8080" {
				t.Errorf("app PORT = %q, want 8080 inside the container", v)
			}
			assertPort(t, app, 8080, "", tc.published)
			// Kratos's own URLs never depend on the app's settings.
			if v, _ := envValue(service(t, p, "kratos"), "SERVE_PUBLIC_BASE_URL"); v != "http://127.0.0.1:4433/" {
				t.Errorf("kratos SERVE_PUBLIC_BASE_URL = %q", v)
			}
		})
	}
}

// --- .env.example -------------------------------------------------------------

// TestEnvExample checks that .env.example documents every setting and that copying it
// to .env as is (the first thing a newcomer does) keeps docker compose on local Kratos.
func TestEnvExample(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		"ORY_PROJECT_SLUG", "ORY_SDK_URL", "ORY_ADMIN_URL", "ORY_API_KEY", "ORY_TIMEOUT",
		"PORT", "CORS_ALLOWED_ORIGINS", "LOG_LEVEL", "SESSION_CACHE_TTL", "SESSION_CACHE_SIZE",
	} {
		if !regexp.MustCompile(`(?m)^#?\s*` + v + `=`).Match(raw) {
			t.Errorf(".env.example has no %s= line", v)
		}
	}
	if m := regexp.MustCompile(`ory_(apikey|pat|st)_[A-Za-z0-9]`).Find(raw); m != nil {
		t.Errorf(".env.example contains what looks like a real credential: %q", m)
	}

	dotenv := string(raw)
	p := mustLoad(t, copyCompose(t, &dotenv), nil)
	app := service(t, p, "app")
	for k, want := range map[string]string{
		"ORY_SDK_URL":   "http://kratos:4433",
		"ORY_ADMIN_URL": "http://kratos:4434",
		"PORT":          "8080",
	} {
		if v, _ := envValue(app, k); v != want {
			t.Errorf("with .env.example as .env: app %s = %q, want %q", k, v, want)
		}
	}
	if v, ok := envValue(app, "ORY_API_KEY"); ok && v != "" {
		t.Errorf("with .env.example as .env: app ORY_API_KEY = %q, want unset", v)
	}
}
