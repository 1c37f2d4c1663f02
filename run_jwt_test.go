package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// jwtKeys is a signing key and the JSON of its public key set, standing in for a
// tokenizer template's keys.
type jwtKeys struct {
	key  jwk.Key
	jwks []byte
}

func newJWTKeys(t *testing.T) jwtKeys {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = key.Set(jwk.KeyIDKey, "run-test-1")
	_ = key.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := jwk.PublicSetOf(func() jwk.Set { s := jwk.NewSet(); _ = s.AddKey(key); return s }())
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	return jwtKeys{key: key, jwks: body}
}

// file writes the public key set to a file and returns its file:// URL.
func (k jwtKeys) file(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.public.json")
	if err := os.WriteFile(path, k.jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + path
}

// token signs the claims of a session JWT as the local Kratos makes them for the
// template jwt_example; edit changes them.
func (k jwtKeys) token(t *testing.T, edit func(b *jwt.Builder) *jwt.Builder) string {
	t.Helper()
	now := time.Now()
	b := jwt.NewBuilder().
		Subject("0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10").
		Issuer(defaultPublicURL+"/").
		Audience([]string{"jwt_example"}).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(time.Minute)).
		Claim("sid", fmt.Sprintf("9f425a8d-7efc-4768-8f23-%012d", now.UnixNano()%1e12)).
		Claim("aal", "aal1")
	if edit != nil {
		b = edit(b)
	}
	claims, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(claims, jwt.WithKey(jwa.ES256(), k.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func (s *runningService) status(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.hc.Do(req)
	if err != nil {
		t.Fatalf("GET /api/resource: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRunJWTClaims: by default a session JWT must come from Ory's public URL
// (iss), carry the template's name in aud, and be within a few seconds of its
// exp; ORY_JWT_CLOCK_SKEW widens the last.
func TestRunJWTClaims(t *testing.T) {
	t.Parallel()
	keys := newJWTKeys(t)
	expired10s := func(b *jwt.Builder) *jwt.Builder {
		return b.IssuedAt(time.Now().Add(-70 * time.Second)).NotBefore(time.Now().Add(-70 * time.Second)).Expiration(time.Now().Add(-10 * time.Second))
	}
	tests := []struct {
		name string
		env  map[string]string
		edit func(b *jwt.Builder) *jwt.Builder
		want int
	}{
		{"valid", nil, nil, http.StatusOK},
		{"iss without trailing slash", nil, func(b *jwt.Builder) *jwt.Builder { return b.Issuer(defaultPublicURL) }, http.StatusOK},
		{"expired 10s ago", nil, expired10s, http.StatusUnauthorized},
		{"expired 10s ago, skew 30s", map[string]string{"ORY_JWT_CLOCK_SKEW": "30s"}, expired10s, http.StatusOK},
		{"other issuer", nil, func(b *jwt.Builder) *jwt.Builder { return b.Issuer("http://127.0.0.1:4444/") }, http.StatusUnauthorized},
		{"ORY_JWT_ISSUER", map[string]string{"ORY_JWT_ISSUER": "https://auth.example.com/"},
			func(b *jwt.Builder) *jwt.Builder { return b.Issuer("https://auth.example.com/") }, http.StatusOK},
		{"Ory's URL when ORY_JWT_ISSUER names another", map[string]string{"ORY_JWT_ISSUER": "https://auth.example.com/"}, nil, http.StatusUnauthorized},
		{"other template", nil, func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"jwt_other"}) }, http.StatusUnauthorized},
		{"no audience", nil, func(b *jwt.Builder) *jwt.Builder { return b.Audience(nil) }, http.StatusUnauthorized},
		{"ORY_JWT_AUDIENCE", map[string]string{"ORY_JWT_AUDIENCE": "https://api.example.com"},
			func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"https://api.example.com"}) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ORY_JWKS_URL": keys.file(t), "ORY_JWT_TEMPLATE": "jwt_example"}
			for k, v := range tt.env {
				env[k] = v
			}
			svc := startRun(t, env)
			if got := svc.status(t, keys.token(t, tt.edit)); got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}
