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
			if err == nil {
				t.Fatal("loadConfig() error = nil, want one")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("loadConfig() error has %d lines, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, name := range tt.want {
				if !strings.HasPrefix(lines[i], name+": ") {
					t.Errorf("error line %d = %q, want it to start with %q", i, lines[i], name+": ")
				}
			}
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
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^#?\s*` + name + `=`).Match(example) {
			t.Errorf(".env.example has no %s= line", name)
		}
		if !strings.Contains(string(readme), "| `"+name+"` |") {
			t.Errorf("README.md's env table has no row for %s", name)
		}
	}
}
