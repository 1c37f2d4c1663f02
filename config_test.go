package main

import (
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		env   map[string]string
		check func(t *testing.T, c config)
	}{
		{"defaults", nil, func(t *testing.T, c config) {
			want := config{
				PublicURL: "http://127.0.0.1:4433", AdminURL: "http://127.0.0.1:4434", Port: 8080,
				Timeout: 5 * time.Second, CacheTTL: 30 * time.Second, DenyTTL: 5 * time.Second,
				CacheSize: 10_000, LogLevel: slog.LevelInfo, ShutdownWait: 15 * time.Second,
				StepUp: "when-available",
			}
			if c.String() != want.String() || c.DenyTTL != want.DenyTTL || c.ShutdownWait != want.ShutdownWait || c.LogLevel != want.LogLevel {
				t.Errorf("config = %s, want %s", c, want)
			}
		}},
		{"slug sets both URLs", map[string]string{"ORY_PROJECT_SLUG": "my-proj-1", "ORY_API_KEY": unitKey}, func(t *testing.T, c config) {
			const want = "https://my-proj-1.projects.oryapis.com"
			if c.PublicURL != want || c.AdminURL != want {
				t.Errorf("URLs = %s, %s; want both %s", c.PublicURL, c.AdminURL, want)
			}
		}},
		{"ORY_SDK_URL overrides the slug", map[string]string{"ORY_PROJECT_SLUG": "p", "ORY_SDK_URL": "http://localhost:4000/", "ORY_API_KEY": unitKey}, func(t *testing.T, c config) {
			if c.PublicURL != "http://localhost:4000" || c.AdminURL != "https://p.projects.oryapis.com" {
				t.Errorf("URLs = %s, %s; want http://localhost:4000 and the slug's https://p.projects.oryapis.com", c.PublicURL, c.AdminURL)
			}
		}},
		{"admin defaults to ORY_SDK_URL", map[string]string{"ORY_SDK_URL": "https://auth.example.com"}, func(t *testing.T, c config) {
			if c.AdminURL != "https://auth.example.com" {
				t.Errorf("AdminURL = %s, want https://auth.example.com", c.AdminURL)
			}
		}},
		{"ORY_ADMIN_URL", map[string]string{"ORY_SDK_URL": "http://kratos:4433", "ORY_ADMIN_URL": "http://kratos:4434"}, func(t *testing.T, c config) {
			if c.PublicURL != "http://kratos:4433" || c.AdminURL != "http://kratos:4434" {
				t.Errorf("URLs = %s, %s", c.PublicURL, c.AdminURL)
			}
		}},
		{"every variable", map[string]string{
			"PORT": "9090", "SESSION_CACHE_TTL": "0", "SESSION_CACHE_DENY_TTL": "1s", "SESSION_CACHE_SIZE": "5",
			"ORY_TIMEOUT": "750ms", "CORS_ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000",
			"LOG_LEVEL": "debug", "SHUTDOWN_TIMEOUT": "2s", "ORY_API_KEY": " ory_pat_abc ",
		}, func(t *testing.T, c config) {
			if c.Port != 9090 || c.CacheTTL != 0 || c.DenyTTL != time.Second || c.CacheSize != 5 || c.Timeout != 750*time.Millisecond ||
				c.LogLevel != slog.LevelDebug || c.ShutdownWait != 2*time.Second || c.APIKey != "ory_pat_abc" ||
				len(c.CORSOrigins) != 2 || c.CORSOrigins[1] != "http://localhost:3000" {
				t.Errorf("config = %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(tt.env))
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string // variables named, one line each
	}{
		{"ory network admin without key", map[string]string{"ORY_PROJECT_SLUG": "proj"}, []string{"ORY_API_KEY"}},
		{"ory network admin url without key", map[string]string{"ORY_SDK_URL": "http://localhost:4433", "ORY_ADMIN_URL": "https://x.projects.oryapis.com"}, []string{"ORY_API_KEY"}},
		{"bad key prefix", map[string]string{"ORY_API_KEY": "sk_live_123"}, []string{"ORY_API_KEY"}},
		{"wak is not an admin key", map[string]string{"ORY_API_KEY": "ory_wak_123"}, []string{"ORY_API_KEY"}},
		{"bad slug", map[string]string{"ORY_PROJECT_SLUG": "a.b/c", "ORY_API_KEY": unitKey}, []string{"ORY_PROJECT_SLUG"}},
		{"bad sdk url", map[string]string{"ORY_SDK_URL": "localhost:4433"}, []string{"ORY_SDK_URL", "ORY_ADMIN_URL"}},
		{"bad admin url", map[string]string{"ORY_ADMIN_URL": "ftp://x"}, []string{"ORY_ADMIN_URL"}},
		{"port not a number", map[string]string{"PORT": "http"}, []string{"PORT"}},
		{"port 0", map[string]string{"PORT": "0"}, []string{"PORT"}},
		{"port too big", map[string]string{"PORT": "65536"}, []string{"PORT"}},
		{"cache ttl not a duration", map[string]string{"SESSION_CACHE_TTL": "30"}, []string{"SESSION_CACHE_TTL"}},
		{"cache ttl negative", map[string]string{"SESSION_CACHE_TTL": "-1s"}, []string{"SESSION_CACHE_TTL"}},
		{"cache ttl too long", map[string]string{"SESSION_CACHE_TTL": "25h"}, []string{"SESSION_CACHE_TTL"}},
		{"timeout zero", map[string]string{"ORY_TIMEOUT": "0s"}, []string{"ORY_TIMEOUT"}},
		{"timeout garbage", map[string]string{"ORY_TIMEOUT": "soon"}, []string{"ORY_TIMEOUT"}},
		{"cors wildcard", map[string]string{"CORS_ALLOWED_ORIGINS": "*"}, []string{"CORS_ALLOWED_ORIGINS"}},
		{"cors with a path", map[string]string{"CORS_ALLOWED_ORIGINS": "https://app.example.com/"}, []string{"CORS_ALLOWED_ORIGINS"}},
		{"cors without scheme", map[string]string{"CORS_ALLOWED_ORIGINS": "app.example.com"}, []string{"CORS_ALLOWED_ORIGINS"}},
		{"log level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL"}},
		{"jwks without template", map[string]string{"ORY_JWKS_URL": "http://127.0.0.1:4433/.well-known/jwks.json"}, []string{"ORY_JWKS_URL"}},
		{"several at once", map[string]string{"PORT": "x", "SESSION_CACHE_TTL": "y", "ORY_TIMEOUT": "z", "LOG_LEVEL": "w", "ORY_API_KEY": "bad"},
			[]string{"ORY_API_KEY", "PORT", "ORY_TIMEOUT", "SESSION_CACHE_TTL", "LOG_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(envOf(tt.env))
			wantErrorLines(t, err, tt.want...)
			if k := tt.env["ORY_API_KEY"]; k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

func TestConfigStringMasksKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{unitKey, "ory_pat_secretsecret"} {
		c, err := loadConfig(envOf(map[string]string{"ORY_PROJECT_SLUG": "p", "ORY_API_KEY": key}))
		if err != nil {
			t.Fatal(err)
		}
		s := c.String()
		if strings.Contains(s, key) || strings.Contains(s, strings.SplitN(key, "_", 3)[2]) {
			t.Errorf("String() = %q shows the key", s)
		}
		if !strings.Contains(s, "api_key=ory_") {
			t.Errorf("String() = %q, want the key's kind", s)
		}
		// slog and fmt use String too.
		if got := fmt.Sprintf("%v %+v %s", c, c, slog.Any("config", c).Value); strings.Contains(got, key) {
			t.Errorf("formatted config shows the key: %s", got)
		}
	}
}

// TestEveryVariableDocumented keeps .env.example and the README's env table in step
// with what loadConfig reads.
// wantErrorLines fails t unless err has one line per name, in order, each
// starting with that variable's name: the one-line-per-variable rule.
func wantErrorLines(t *testing.T, err error, names ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("loadConfig() error = nil, want lines naming %v", names)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(names) {
		t.Fatalf("loadConfig() error has %d lines, want %d naming %v:\n%v", len(lines), len(names), names, err)
	}
	for i, name := range names {
		if !strings.HasPrefix(lines[i], name+": ") {
			t.Errorf("error line %d = %q, want it to start with %q", i, lines[i], name+": ")
		}
	}
}

func TestEveryVariableDocumented(t *testing.T) {
	var names []string
	_, _ = loadConfig(func(name string) string {
		names = append(names, name)
		return ""
	})
	if len(names) < 10 {
		t.Fatalf("loadConfig read only %v", names)
	}
	example, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	// The README has the settings most people need, docs/configuration.md the rest:
	// each variable has its row in exactly one of them.
	var tables []string
	for _, path := range []string{"README.md", "docs/configuration.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, string(b))
	}
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^#?\s*` + name + `=`).Match(example) {
			t.Errorf(".env.example has no %s= line", name)
		}
		rows := 0
		for _, table := range tables {
			rows += len(regexp.MustCompile("(?m)^\\| `"+name+"` \\|").FindAllString(table, -1))
		}
		if rows != 1 {
			t.Errorf("%s has %d rows in README.md and docs/configuration.md, want 1", name, rows)
		}
	}
}

func TestLoadConfigJWKSURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://keys.example.com/.well-known/jwks.json", true},
		{"file:///etc/ory/jwks.public.json", true},
		{"http://127.0.0.1:4433/.well-known/jwks.json", true},
		{"http://127.1.2.3/jwks.json", true},
		{"http://[::1]:8080/jwks.json", true},
		{"http://localhost:4455/jwks.json", true},
		{"http://LOCALHOST/jwks.json", true},
		{"http://keys.example.com/.well-known/jwks.json", false},
		{"http://10.0.0.5/jwks.json", false},
		{"http://[::ffff:10.0.0.5]/jwks.json", false},
		{"http://localhost.example.com/jwks.json", false},
		{"http://127.0.0.1.nip.io/jwks.json", false},
		{"http:///jwks.json", false},
		{"https://", false},
		{"ftp://keys.example.com/jwks.json", false},
		{"file://", false},
		{"keys.example.com/jwks.json", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			_, err := loadConfig(envOf(map[string]string{"ORY_JWKS_URL": tt.url, "ORY_JWT_TEMPLATE": "jwt_example"}))
			if tt.ok {
				if err != nil {
					t.Errorf("loadConfig() error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatal("loadConfig() error = nil, want one naming ORY_JWKS_URL")
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "ORY_JWKS_URL: ") {
				t.Errorf("loadConfig() error = %q, want one line starting with ORY_JWKS_URL: ", err)
			}
		})
	}
}

func TestLoadConfigJWTChecks(t *testing.T) {
	t.Parallel()
	jwt := func(kv ...string) map[string]string {
		env := map[string]string{"ORY_JWKS_URL": "file:///etc/ory/jwks.json", "ORY_JWT_TEMPLATE": "api_jwt"}
		for i := 0; i+1 < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	tests := []struct {
		name                string
		env                 map[string]string
		issuer, aud, errVar string
		skew                time.Duration
	}{
		{"defaults", jwt(), "http://127.0.0.1:4433", "api_jwt", "", 5 * time.Second},
		{"issuer from ORY_SDK_URL", jwt("ORY_SDK_URL", "https://auth.example.com/"), "https://auth.example.com", "api_jwt", "", 5 * time.Second},
		{"issuer from the slug", jwt("ORY_PROJECT_SLUG", "p1", "ORY_API_KEY", unitKey), "https://p1.projects.oryapis.com", "api_jwt", "", 5 * time.Second},
		{"explicit", jwt("ORY_JWT_ISSUER", "https://iss.example.com/", "ORY_JWT_AUDIENCE", "https://api.example.com", "ORY_JWT_CLOCK_SKEW", "0"),
			"https://iss.example.com/", "https://api.example.com", "", 0},
		{"skew up to a minute", jwt("ORY_JWT_CLOCK_SKEW", "1m"), "http://127.0.0.1:4433", "api_jwt", "", time.Minute},
		{"skew over a minute", jwt("ORY_JWT_CLOCK_SKEW", "61s"), "", "", "ORY_JWT_CLOCK_SKEW", 0},
		{"skew negative", jwt("ORY_JWT_CLOCK_SKEW", "-1s"), "", "", "ORY_JWT_CLOCK_SKEW", 0},
		{"skew not a duration", jwt("ORY_JWT_CLOCK_SKEW", "5"), "", "", "ORY_JWT_CLOCK_SKEW", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(tt.env))
			if tt.errVar != "" {
				wantErrorLines(t, err, tt.errVar)
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			if c.JWTIssuer != tt.issuer || c.JWTAudience != tt.aud || c.JWTSkew != tt.skew {
				t.Errorf("issuer, audience, skew = %q, %q, %s; want %q, %q, %s", c.JWTIssuer, c.JWTAudience, c.JWTSkew, tt.issuer, tt.aud, tt.skew)
			}
			if want := "jwt_iss=" + tt.issuer + " jwt_aud=" + tt.aud + " "; !strings.Contains(c.String(), want) {
				t.Errorf("config = %s, want it to show %q", c, want)
			}
		})
	}
}

// ORY_JWT_MAX_TTL is the longest JWT lifetime (exp - iat) the service accepts: it
// is also how long revocations are remembered for JWT mode.
func TestLoadConfigJWTMaxTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"default", "", time.Hour, false},
		{"set", "2h", 2 * time.Hour, false},
		{"zero", "0s", 0, true},
		{"over a day", "25h", 0, true},
		{"not a duration", "long", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(map[string]string{"ORY_JWT_MAX_TTL": tt.value}))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "ORY_JWT_MAX_TTL") {
					t.Fatalf("loadConfig() error = %v, want one naming ORY_JWT_MAX_TTL", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			if c.JWTMaxTTL != tt.want {
				t.Errorf("JWTMaxTTL = %s, want %s", c.JWTMaxTTL, tt.want)
			}
		})
	}
}

// TestOryNetworkNeedsHTTPS: Ory Network is served over https only; an http:// URL
// naming it would send session tokens and the API key in the clear (or to whatever
// answers on port 80), so it is refused at start, one line naming the variable set.
func TestOryNetworkNeedsHTTPS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable named, "" for a valid configuration
	}{
		{"https network", map[string]string{"ORY_SDK_URL": "https://p.projects.oryapis.com", "ORY_API_KEY": unitKey}, ""},
		{"slug", map[string]string{"ORY_PROJECT_SLUG": "p", "ORY_API_KEY": unitKey}, ""},
		{"http loopback", map[string]string{"ORY_SDK_URL": "http://127.0.0.1:4433", "ORY_ADMIN_URL": "http://localhost:4434"}, ""},
		{"http lookalike host", map[string]string{"ORY_SDK_URL": "http://oryapis.com.example.org"}, ""},
		{"http sdk url", map[string]string{"ORY_SDK_URL": "http://p.projects.oryapis.com", "ORY_API_KEY": unitKey}, "ORY_SDK_URL"},
		{"http sdk url over a slug", map[string]string{"ORY_PROJECT_SLUG": "p", "ORY_SDK_URL": "http://p.projects.oryapis.com", "ORY_API_KEY": unitKey}, "ORY_SDK_URL"},
		{"http admin url", map[string]string{"ORY_SDK_URL": "https://p.projects.oryapis.com", "ORY_ADMIN_URL": "http://p.projects.oryapis.com", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"http oryapis.dev", map[string]string{"ORY_SDK_URL": "http://p.projects.oryapis.dev", "ORY_API_KEY": unitKey}, "ORY_SDK_URL"},
		{"upper-case host", map[string]string{"ORY_SDK_URL": "HTTP://P.PROJECTS.ORYAPIS.COM", "ORY_API_KEY": unitKey}, "ORY_SDK_URL"},
		{"trailing dot", map[string]string{"ORY_SDK_URL": "http://p.projects.oryapis.com.:80", "ORY_API_KEY": unitKey}, "ORY_SDK_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantHTTPSRefusal(t, tt.env, tt.want)
		})
	}
}

// TestWhichOry: a project slug means Ory Network, whose Admin API always needs the
// key, also when ORY_SDK_URL is a custom domain (or the Ory tunnel); the slug then
// still names the Admin API's host. The start-up line says which Ory the service
// thinks it talks to.
func TestWhichOry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		env           map[string]string
		public, admin string
		says          string // in String()
		errVar        string // the one variable named, "" for a valid configuration
	}{
		{"local kratos", map[string]string{}, "http://127.0.0.1:4433", "http://127.0.0.1:4434", "ory=self-hosted ", ""},
		{"slug", map[string]string{"ORY_PROJECT_SLUG": "p1", "ORY_API_KEY": unitKey},
			"https://p1.projects.oryapis.com", "https://p1.projects.oryapis.com", "ory=network slug=p1 ", ""},
		{"slug without a key", map[string]string{"ORY_PROJECT_SLUG": "p1"}, "", "", "", "ORY_API_KEY"},
		{"slug and a custom domain", map[string]string{"ORY_PROJECT_SLUG": "p1", "ORY_SDK_URL": "https://auth.example.com", "ORY_API_KEY": unitKey},
			"https://auth.example.com", "https://p1.projects.oryapis.com", "ory=network slug=p1 ", ""},
		{"slug and a custom domain without a key", map[string]string{"ORY_PROJECT_SLUG": "p1", "ORY_SDK_URL": "https://auth.example.com"}, "", "", "", "ORY_API_KEY"},
		{"slug and the tunnel without a key", map[string]string{"ORY_PROJECT_SLUG": "p1", "ORY_SDK_URL": "http://localhost:4000", "ORY_ADMIN_URL": "http://localhost:4000"}, "", "", "", "ORY_API_KEY"},
		{"slug, custom domain for both APIs", map[string]string{"ORY_PROJECT_SLUG": "p1", "ORY_SDK_URL": "https://auth.example.com", "ORY_ADMIN_URL": "https://auth.example.com", "ORY_API_KEY": unitKey},
			"https://auth.example.com", "https://auth.example.com", "ory=network slug=p1 ", ""},
		{"network url without a slug", map[string]string{"ORY_SDK_URL": "https://p1.projects.oryapis.com", "ORY_API_KEY": unitKey},
			"https://p1.projects.oryapis.com", "https://p1.projects.oryapis.com", "ory=network ", ""},
		{"custom domain without a slug", map[string]string{"ORY_SDK_URL": "https://auth.example.com"},
			"https://auth.example.com", "https://auth.example.com", "ory=self-hosted ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(tt.env))
			if tt.errVar != "" {
				wantErrorLines(t, err, tt.errVar)
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			if c.PublicURL != tt.public || c.AdminURL != tt.admin {
				t.Errorf("public, admin = %q, %q; want %q, %q", c.PublicURL, c.AdminURL, tt.public, tt.admin)
			}
			if !strings.HasPrefix(c.String(), tt.says) {
				t.Errorf("config = %s, want it to start %q", c, tt.says)
			}
		})
	}
}

// TestJWTAudienceCannotBeBlank: a session JWT is told apart from the project's
// OAuth2 ID tokens (signed with the same keys, also carrying sub and sid) by its
// audience alone, so JWT mode never starts without one.
func TestJWTAudienceCannotBeBlank(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		template string
		audience string
		errVar   string
	}{
		{"audience blank", "api_jwt", "   ", "ORY_JWT_AUDIENCE"},
		{"template blank", " ", "", "ORY_JWT_TEMPLATE"},
		{"audience padded", "api_jwt", " api ", "ORY_JWT_AUDIENCE"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ORY_JWKS_URL": "file:///etc/ory/jwks.json", "ORY_JWT_TEMPLATE": tt.template, "ORY_JWT_AUDIENCE": tt.audience}
			c, err := loadConfig(envOf(env))
			if err == nil || !strings.HasPrefix(err.Error(), tt.errVar+": ") {
				t.Errorf("loadConfig() error = %v (audience %q), want one naming %s", err, c.JWTAudience, tt.errVar)
			}
		})
	}
}

// TestAPIKeyNeedsHTTPS: the API key rides on every Admin API call and /readyz
// probe, so with a key the admin URL must be https unless it is this machine. The
// one line names the variable the admin URL came from (it defaults to ORY_SDK_URL).
func TestAPIKeyNeedsHTTPS(t *testing.T) {
	t.Parallel()
	const pat = "ory_pat_configtest0123456789"
	tests := []struct {
		name string
		env  map[string]string
		want string // the variable named, "" for a valid configuration
	}{
		{"local defaults without a key", map[string]string{}, ""},
		{"local defaults with a key", map[string]string{"ORY_API_KEY": unitKey}, ""},
		{"loopback admin with a key", map[string]string{"ORY_ADMIN_URL": "http://127.0.0.1:4434", "ORY_API_KEY": unitKey}, ""},
		{"localhost admin with a key", map[string]string{"ORY_SDK_URL": "http://LOCALHOST:4433", "ORY_API_KEY": pat}, ""},
		{"ipv6 loopback admin with a key", map[string]string{"ORY_ADMIN_URL": "http://[::1]:4434", "ORY_API_KEY": unitKey}, ""},
		{"docker compose without a key", map[string]string{"ORY_SDK_URL": "http://kratos:4433", "ORY_ADMIN_URL": "http://kratos:4434"}, ""},
		{"https admin with a key", map[string]string{"ORY_ADMIN_URL": "https://auth.example.com", "ORY_API_KEY": unitKey}, ""},
		{"http sdk url, https admin", map[string]string{"ORY_SDK_URL": "http://kratos:4433", "ORY_ADMIN_URL": "https://auth.example.com", "ORY_API_KEY": unitKey}, ""},
		{"http admin with a key", map[string]string{"ORY_PROJECT_SLUG": "proj", "ORY_ADMIN_URL": "http://auth.example.com", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"admin from an http sdk url", map[string]string{"ORY_SDK_URL": "http://kratos.example.com", "ORY_API_KEY": pat}, "ORY_SDK_URL"},
		{"upper-case scheme", map[string]string{"ORY_ADMIN_URL": "HTTP://auth.example.com", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"docker compose with a key", map[string]string{"ORY_SDK_URL": "http://kratos:4433", "ORY_ADMIN_URL": "http://kratos:4434", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"private address", map[string]string{"ORY_ADMIN_URL": "http://10.0.0.5:4434", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"loopback lookalike", map[string]string{"ORY_ADMIN_URL": "http://127.0.0.1.nip.io:4434", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
		{"localhost lookalike", map[string]string{"ORY_ADMIN_URL": "http://localhost.example.com", "ORY_API_KEY": unitKey}, "ORY_ADMIN_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := wantHTTPSRefusal(t, tt.env, tt.want)
			if err == nil {
				return
			}
			if strings.Contains(err.Error(), tt.env["ORY_API_KEY"]) {
				t.Errorf("error %q shows the API key", err)
			}
		})
	}
}

// wantHTTPSRefusal loads env and checks the outcome: no error when want is "",
// else one line naming the variable want and asking for https. It returns the error.
func wantHTTPSRefusal(t *testing.T, env map[string]string, want string) error {
	t.Helper()
	_, err := loadConfig(envOf(env))
	if want == "" {
		if err != nil {
			t.Fatalf("loadConfig() error = %v, want none", err)
		}
		return nil
	}
	if err == nil {
		t.Fatalf("loadConfig() error = nil, want one naming %s", want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want+": ") || !strings.Contains(lines[0], "https") {
		t.Errorf("loadConfig() error = %q, want one line starting %q that asks for https", err, want+": ")
	}
	return err
}
