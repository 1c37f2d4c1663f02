package composecheck

import (
	"context"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = "docker-compose.yml"

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

// TestServicesAndDependencies checks how the services fit together: one database for
// the migration and the server, the config folder as Kratos's working directory, start-up
// order, and the ports browsers and the app are told about.
func TestServicesAndDependencies(t *testing.T) {
	p := mustLoad(t, copyCompose(t, nil), nil)

	if got, want := serviceNames(p), []string{"app", "kratos", "kratos-migrate"}; !slices.Equal(got, want) {
		t.Errorf("services = %v, want %v", got, want)
	}

	migrate := service(t, p, "kratos-migrate")
	kratos := service(t, p, "kratos")
	app := service(t, p, "app")

	// The migration must prepare the database the server then opens.
	dsn, _ := envValue(kratos, "DSN")
	if v, _ := envValue(migrate, "DSN"); v != dsn || dsn == "" {
		t.Errorf("kratos-migrate DSN = %q, kratos DSN = %q: want one shared database", v, dsn)
	}
	if path, ok := strings.CutPrefix(strings.SplitN(dsn, "?", 2)[0], "sqlite://"); ok {
		for _, s := range []types.ServiceConfig{migrate, kratos} {
			if !inNamedVolume(s, path) {
				t.Errorf("%s: the SQLite file %s is not in a named volume: data would not be shared or kept", s.Name, path)
			}
		}
	}
	for _, s := range []types.ServiceConfig{migrate, kratos} {
		// kratos.yml's file:// references are relative to the working directory.
		if mount, ok := bindTarget(s, filepath.Join(repoRootOf(p), "kratos")); !ok || s.WorkingDir != mount {
			t.Errorf("%s working_dir = %q, want the folder ./kratos is mounted at (%q)", s.Name, s.WorkingDir, mount)
		}
		if !containsSeq(s.Command, "-c") {
			t.Errorf("%s command %q names no config file (-c)", s.Name, s.Command)
		}
	}

	if !containsSeq(migrate.Command, "migrate", "sql") || !slices.Contains(migrate.Command, "--yes") {
		t.Errorf("kratos-migrate command = %q, want migrate sql ... --yes", migrate.Command)
	}
	if migrate.Restart != "on-failure" {
		t.Errorf("kratos-migrate restart = %q, want on-failure (a one-shot job)", migrate.Restart)
	}
	if len(migrate.Ports) != 0 {
		t.Errorf("kratos-migrate publishes ports %+v", migrate.Ports)
	}

	if !containsSeq(kratos.Command, "serve") || !slices.Contains(kratos.Command, "--dev") {
		t.Errorf("kratos command = %q, want serve ... --dev (plain-http cookies on localhost)", kratos.Command)
	}
	assertDependsOn(t, kratos, "kratos-migrate", types.ServiceConditionCompletedSuccessfully)
	// Browsers follow the public base URL: it must be where the public port is published.
	public, _ := kratosPorts(t, kratos)
	base, _ := envValue(kratos, "SERVE_PUBLIC_BASE_URL")
	if published, ok := publishedPort(kratos, public); !ok {
		t.Errorf("kratos does not publish its public port %d", public)
	} else if u, err := url.Parse(base); err != nil || u.Port() != published {
		t.Errorf("kratos SERVE_PUBLIC_BASE_URL = %q, want it on the published public port %s", base, published)
	}

	if app.Build == nil {
		t.Fatal("app has no build section")
	}
	if app.Build.Context != repoRootOf(p) {
		t.Errorf("app build context = %q, want the project dir %q", app.Build.Context, repoRootOf(p))
	}
	assertDependsOn(t, app, "kratos", types.ServiceConditionHealthy)
	// The app listens on PORT inside the container; that port is the one published.
	port, _ := envValue(app, "PORT")
	target, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		t.Errorf("app PORT = %q, want a port number", port)
	} else if _, ok := publishedPort(app, uint32(target)); !ok {
		t.Errorf("app listens on PORT=%s but publishes %+v", port, app.Ports)
	}
	if len(app.EnvFiles) != 1 || filepath.Base(app.EnvFiles[0].Path) != ".env" || bool(app.EnvFiles[0].Required) {
		t.Errorf("app env_file = %+v, want exactly [{path: .env, required: false}] (a fresh clone has no .env)", app.EnvFiles)
	}
}

// inNamedVolume reports whether the container path lies in a named volume of s.
func inNamedVolume(s types.ServiceConfig, path string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && strings.HasPrefix(path, strings.TrimSuffix(v.Target, "/")+"/") {
			return true
		}
	}
	return false
}

// bindTarget returns where s bind-mounts the host folder source.
func bindTarget(s types.ServiceConfig, source string) (string, bool) {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == source {
			return v.Target, true
		}
	}
	return "", false
}

// publishedPort returns the host port s publishes the container port target on.
func publishedPort(s types.ServiceConfig, target uint32) (string, bool) {
	for _, p := range s.Ports {
		if p.Target == target {
			return p.Published, true
		}
	}
	return "", false
}

func repoRootOf(p *types.Project) string { return p.WorkingDir }

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
		// The identity schema is always a file here: none found means this check is blind.
		t.Errorf("kratos.yml has no file:// references: the identity schema and tokenizer files are not checked")
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
			name:   "ORY_SDK_URL (a custom domain) beats the slug; admin stays on the slug URL",
			dotenv: strp("ORY_PROJECT_SLUG=acme\nORY_SDK_URL=https://auth.example.com\n"),
			sdk:    "https://auth.example.com", admin: network, published: "8080",
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
			sdk:    "http://other:4433", admin: network, published: "8080",
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
			// Kratos's own settings never depend on the app's.
			plain := service(t, mustLoad(t, copyCompose(t, nil), nil), "kratos")
			if got := service(t, p, "kratos").Environment; !maps.EqualFunc(got, plain.Environment, func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }) {
				t.Errorf("kratos environment = %v, want the same as without .env or shell variables", got)
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
