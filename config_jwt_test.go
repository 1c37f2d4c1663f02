package main

import (
	"strings"
	"testing"
	"time"
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
				if err == nil || !strings.HasPrefix(err.Error(), tt.errVar+": ") || strings.Contains(err.Error(), "\n") {
					t.Errorf("loadConfig() error = %v, want one line naming %s", err, tt.errVar)
				}
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
