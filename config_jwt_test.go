package main

import (
	"strings"
	"testing"
	"time"
)

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
