package main

import (
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/oryflow"
)

func TestReadConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, config{port: 8080, publicPort: 4433, adminPort: 4434, email: "demo@example.com", password: defaultPassword, webhookSecret: devWebhookSecret}, ""},
		{"overrides", map[string]string{"PORT": "9090", "KRATOS_PUBLIC_PORT": "5433", "KRATOS_ADMIN_PORT": "5434", "DEMO_EMAIL": "a@b.c", "DEMO_PASSWORD": "pw", "DEV_SKIP_SERVICE": "1", "ORY_WEBHOOK_SECRET": "s3cr3t"},
			config{port: 9090, publicPort: 5433, adminPort: 5434, email: "a@b.c", password: "pw", skipService: true, webhookSecret: "s3cr3t"}, ""},
		{"bad port", map[string]string{"PORT": "http"}, config{}, `PORT="http" is not a port`},
		{"out of range", map[string]string{"KRATOS_ADMIN_PORT": "70000"}, config{}, "KRATOS_ADMIN_PORT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("readConfig = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestBanner(t *testing.T) {
	b := banner(bannerInfo{
		service: "http://localhost:8080", public: "http://127.0.0.1:4433", admin: "http://127.0.0.1:4434",
		email: "demo@example.com", password: "pw",
		user: oryflow.Result{SessionToken: "ory_st_abc", SessionID: "sess-1", IdentityID: "id-1"},
	})
	for _, want := range []string{
		"TOKEN=ory_st_abc\n",
		`curl -s -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/resource` + "\n",
		"curl -s http://localhost:8080/healthz\n",
		"curl -s -X PATCH http://127.0.0.1:4434/admin/identities/id-1 ",
		"(this one is sess-1)",
		"-url http://127.0.0.1:4433 -email demo@example.com",
		".run/kratos.log  .run/service.log",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("banner lacks %q:\n%s", want, b)
		}
	}
	// The token appears once, as the TOKEN= line; every curl line uses $TOKEN.
	if n := strings.Count(b, "ory_st_abc"); n != 1 {
		t.Errorf("token appears %d times, want 1", n)
	}
	if strings.Contains(b, "NOT started") {
		t.Error("banner says the service is not started")
	}
	if b := banner(bannerInfo{service: "http://localhost:8080", skipService: true}); !strings.Contains(b, "http://localhost:8080 (NOT started)") {
		t.Errorf("DEV_SKIP_SERVICE banner lacks (NOT started):\n%s", b)
	}
}

// TestHooks: Kratos calls the service's webhooks only when the service runs: with
// no one to answer, every registration would fail.
func TestHooks(t *testing.T) {
	if u, ok := (config{port: 9090}).hooks(); !ok || u != "http://127.0.0.1:9090" {
		t.Errorf("hooks() = %q, %v; want http://127.0.0.1:9090, true", u, ok)
	}
	if _, ok := (config{port: 9090, skipService: true}).hooks(); ok {
		t.Error("DEV_SKIP_SERVICE=1: hooks on, want off")
	}
}
