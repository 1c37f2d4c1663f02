package composecheck

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"go.yaml.in/yaml/v3"
)

// Rules the compose file must keep whatever its values: they hold when ports, images or
// services change, where a copy of the file's literals would only hold it still.

func isKratos(s types.ServiceConfig) bool {
	repo, _, _ := strings.Cut(s.Image, ":")
	return repo == "oryd/kratos"
}

// kratosPorts returns the ports Kratos listens on inside its container: kratos.yml's
// serve.*.port (Kratos's defaults when unset), overridden by SERVE_*_PORT.
func kratosPorts(t *testing.T, s types.ServiceConfig) (public, admin uint32) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "kratos", "kratos.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Serve struct {
			Public struct{ Port uint32 } `yaml:"public"`
			Admin  struct{ Port uint32 } `yaml:"admin"`
		} `yaml:"serve"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	public, admin = cfg.Serve.Public.Port, cfg.Serve.Admin.Port
	if public == 0 {
		public = 4433
	}
	if admin == 0 {
		admin = 4434
	}
	for key, dst := range map[string]*uint32{"SERVE_PUBLIC_PORT": &public, "SERVE_ADMIN_PORT": &admin} {
		if v, ok := envValue(s, key); ok {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				t.Fatalf("%s %s = %q", s.Name, key, v)
			}
			*dst = uint32(n)
		}
	}
	return public, admin
}

func isLoopback(hostIP string) bool {
	ip := net.ParseIP(hostIP)
	return ip != nil && ip.IsLoopback()
}

// TestAdminPortLoopbackOnly: Kratos's admin API has no authentication, so it may be
// published on the host's loopback interface only, never on every interface.
func TestAdminPortLoopbackOnly(t *testing.T) {
	for _, dir := range []string{repoRoot(t), copyCompose(t, nil)} {
		p := mustLoad(t, dir, nil)
		kratosServices := 0
		for _, name := range serviceNames(p) {
			s := p.Services[name]
			if !isKratos(s) {
				continue
			}
			kratosServices++
			_, admin := kratosPorts(t, s)
			for _, port := range s.Ports {
				if port.Target == admin && !isLoopback(port.HostIP) {
					t.Errorf("%s publishes the admin port %d on host address %q: bind it to 127.0.0.1 (\"127.0.0.1:%s:%d\")", name, admin, port.HostIP, port.Published, admin)
				}
			}
			if s.NetworkMode == "host" {
				t.Errorf("%s uses network_mode host: the admin port would be on every interface", name)
			}
		}
		if kratosServices == 0 {
			t.Fatal("no Kratos service: the rule checks nothing")
		}
	}
}

var (
	oryCredential = regexp.MustCompile(`ory_(apikey|pat|st|wak|at|rt)_[A-Za-z0-9]`)
	secretName    = regexp.MustCompile(`(?i)(API_?KEY|SECRET|PASSWORD|PASSWD|TOKEN|COOKIE|PRIVATE)`)
	dsnPassword   = regexp.MustCompile(`://[^/@\s:]+:[^/@\s]+@`)
)

// TestNoSecretsInFile: secrets come from .env (or the shell) at run time; the file
// itself, committed to git, holds none.
func TestNoSecretsInFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), composeFile))
	if err != nil {
		t.Fatal(err)
	}
	if m := oryCredential.Find(raw); m != nil {
		t.Errorf("compose file contains what looks like an Ory credential: %q", m)
	}
	// Not even as ${ORY_API_KEY}: the key reaches the app through env_file, and the
	// interpolation would let it be written into any service.
	if regexp.MustCompile(`(?m)^\s*-?\s*ORY_API_KEY\s*[:=]`).Match(raw) {
		t.Errorf("compose file sets ORY_API_KEY itself; it must come from .env (env_file) only")
	}
	// With no .env and an empty shell, every variable a service gets is written in the file.
	p := mustLoad(t, copyCompose(t, nil), nil)
	devSecret := devWebhookSecret(t)
	for _, name := range serviceNames(p) {
		for k, v := range p.Services[name].Environment {
			// The webhook secret's default is the local-dev one kratos/hooks.yml commits
			// (like kratos.yml's secrets); a web hook's URL is named after its flow's
			// method ("password"), not a secret.
			if v != nil && (isWebhookSecret(k) && *v == devSecret || isWebhookURL(k) && strings.HasPrefix(*v, "http://")) {
				continue
			}
			if secretName.MatchString(k) && v != nil && *v != "" {
				t.Errorf("service %s sets %s in the compose file: secrets belong in .env", name, k)
			}
			if v != nil && dsnPassword.MatchString(*v) {
				t.Errorf("service %s: %s carries a password in a URL", name, k)
			}
			if v != nil && oryCredential.MatchString(*v) {
				t.Errorf("service %s: %s holds an Ory credential", name, k)
			}
		}
	}
}

// TestDotEnvNeverReachesKratos: the app's .env (the API key, its log level, ...) is the
// app's; Kratos reads its own settings and must not pick up the app's.
func TestDotEnvNeverReachesKratos(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(repoRoot(t), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	// Every variable .env.example names, with a value that can be traced.
	var dotenv strings.Builder
	for _, m := range regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`).FindAllSubmatch(example, -1) {
		if name := string(m[1]); name != "PORT" { // PORT is interpolated into a host port
			dotenv.WriteString(name + "=dotenv-marker-" + name + "\n")
		}
	}
	dotenv.WriteString("ORY_API_KEY=ory_pat_dotenvmarker\nDSN=dotenv-marker-DSN\nLOG_LEVEL=dotenv-marker-LOG_LEVEL\n")
	s := dotenv.String()
	p := mustLoad(t, copyCompose(t, &s), nil)

	if v, _ := envValue(service(t, p, "app"), "ORY_API_KEY"); v != "ory_pat_dotenvmarker" {
		t.Fatalf("app ORY_API_KEY from .env = %q: the app must get its .env (else this test proves nothing)", v)
	}
	kratosServices := 0
	for _, name := range serviceNames(p) {
		svc := p.Services[name]
		if !isKratos(svc) {
			continue
		}
		kratosServices++
		if len(svc.EnvFiles) != 0 {
			t.Errorf("%s reads env files %v: the app's .env must not reach Kratos", name, svc.EnvFiles)
		}
		for k, v := range svc.Environment {
			// The one value Kratos shares with the app: the secret its web hooks send.
			if isWebhookSecret(k) && v != nil && *v == "dotenv-marker-ORY_WEBHOOK_SECRET" {
				continue
			}
			if v != nil && (strings.Contains(*v, "dotenv-marker") || strings.Contains(*v, "ory_pat_")) {
				t.Errorf("%s gets %s=%q from the app's .env", name, k, *v)
			}
		}
	}
	if kratosServices == 0 {
		t.Fatal("no Kratos service: the rule checks nothing")
	}
}

// isWebhookSecret reports whether k is where the app or Kratos holds the Ory webhooks'
// shared secret (kratos/hooks.yml).
func isWebhookSecret(k string) bool {
	return k == "ORY_WEBHOOK_SECRET" || strings.HasPrefix(k, "SELFSERVICE_FLOWS_") && strings.HasSuffix(k, "_HOOKS_0_CONFIG_AUTH_CONFIG_VALUE")
}

func isWebhookURL(k string) bool {
	return strings.HasPrefix(k, "SELFSERVICE_FLOWS_") && strings.HasSuffix(k, "_HOOKS_0_CONFIG_URL")
}

// devWebhookSecret is the local-dev webhook secret kratos/hooks.yml commits.
func devWebhookSecret(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "kratos", "hooks.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*value:\s*(\S+)\s*$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("kratos/hooks.yml has no auth value")
	}
	return string(m[1])
}

// imageTools lists what a healthcheck can run in a service's image: the executables
// and whether there is a shell. known is false for an image this table does not know.
func imageTools(t *testing.T, s types.ServiceConfig) (tools map[string]bool, shell, known bool) {
	t.Helper()
	if s.Build != nil {
		// Built from the repository's Dockerfile: its final stage's base decides.
		stages := parseDockerfile(t)
		base := stages[len(stages)-1].BaseName
		if strings.Contains(base, "distroless") {
			// Nothing but the binary itself (its healthcheck argument).
			tools := map[string]bool{}
			for _, c := range stages[len(stages)-1].Commands {
				if e, ok := c.(*instructions.EntrypointCommand); ok && !e.PrependShell && len(e.CmdLine) > 0 {
					tools[filepath.Base(e.CmdLine[0])] = true
				}
			}
			return tools, false, true
		}
		return nil, false, false
	}
	if isKratos(s) {
		if strings.Contains(s.Image, "distroless") {
			return map[string]bool{}, false, true
		}
		// Alpine-based: busybox's applets, and Kratos itself.
		return map[string]bool{"wget": true, "sh": true, "nc": true, "kratos": true}, true, true
	}
	return nil, false, false
}

// TestHealthchecksRunInTheirImages: a healthcheck whose command is missing in the image
// never passes, and a service waiting on it never starts.
func TestHealthchecksRunInTheirImages(t *testing.T) {
	p := mustLoad(t, copyCompose(t, nil), nil)
	for _, name := range serviceNames(p) {
		s := p.Services[name]
		hc := s.HealthCheck
		if s.Build != nil && hc != nil && (hc.Disable || len(hc.Test) > 0 && hc.Test[0] == "NONE") {
			// The image's HEALTHCHECK is what makes `up --wait` wait for the app itself.
			t.Errorf("%s disables the healthcheck its image defines", name)
		}
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			continue
		}
		tools, shell, known := imageTools(t, s)
		if !known {
			t.Errorf("%s: healthcheck in image %q, which this test does not know: add it to imageTools", name, s.Image)
			continue
		}
		var exe string
		switch hc.Test[0] {
		case "CMD":
			if len(hc.Test) > 1 {
				exe = hc.Test[1]
			}
		case "CMD-SHELL":
			if !shell {
				t.Errorf("%s: CMD-SHELL healthcheck, but its image has no shell", name)
				continue
			}
			if len(hc.Test) > 1 {
				exe = strings.Fields(hc.Test[1] + " ")[0]
			}
		default:
			t.Errorf("%s: healthcheck test %q is neither CMD nor CMD-SHELL", name, hc.Test)
			continue
		}
		if !tools[filepath.Base(exe)] {
			t.Errorf("%s: healthcheck runs %q, which its image does not have", name, exe)
		}
	}
	// A service others wait on as healthy needs a healthcheck.
	for _, name := range serviceNames(p) {
		for dep, d := range p.Services[name].DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				continue
			}
			if hc := service(t, p, dep).HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
			}
		}
	}
}

// TestKratosHostPortsOverridable: the composed-stack test (and anyone with 4433 taken)
// moves Kratos's host ports with KRATOS_PUBLIC_PORT and KRATOS_ADMIN_PORT; the public
// base URL browsers are sent to must move with the public port, and the admin port must
// stay on loopback.
func TestKratosHostPortsOverridable(t *testing.T) {
	env := map[string]string{"KRATOS_PUBLIC_PORT": "14433", "KRATOS_ADMIN_PORT": "14434"}
	p := mustLoad(t, copyCompose(t, nil), env)
	kratos := service(t, p, "kratos")
	public, admin := kratosPorts(t, kratos)
	assertPort(t, kratos, public, "", "14433")
	assertPort(t, kratos, admin, "127.0.0.1", "14434")
	if base, _ := envValue(kratos, "SERVE_PUBLIC_BASE_URL"); base != "http://127.0.0.1:14433/" {
		t.Errorf("kratos SERVE_PUBLIC_BASE_URL = %q with KRATOS_PUBLIC_PORT=14433, want http://127.0.0.1:14433/", base)
	}
}
