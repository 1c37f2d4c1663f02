package main

import (
	"strings"
	"testing"
)

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
			_, err := loadConfig(envOf(tt.env))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("loadConfig() error = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("loadConfig() error = nil, want one naming %s", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], tt.want+": ") || !strings.Contains(lines[0], "https") {
				t.Errorf("loadConfig() error = %q, want one line starting %q that asks for https", err, tt.want+": ")
			}
		})
	}
}
