package main

import (
	"strings"
	"testing"
)

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
				if err == nil || !strings.HasPrefix(err.Error(), tt.errVar+": ") || strings.Contains(err.Error(), "\n") {
					t.Errorf("loadConfig() error = %v, want one line naming %s", err, tt.errVar)
				}
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
