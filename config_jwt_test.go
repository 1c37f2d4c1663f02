package main

import (
	"strings"
	"testing"
)

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
