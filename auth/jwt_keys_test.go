package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// publicJWK returns the public half of k as a JSON object, to be edited.
func publicJWK(t *testing.T, k jwk.Key) map[string]any {
	t.Helper()
	pub, err := jwk.PublicKeyOf(k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pub)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNewJWTVerifierRefusesUnusableKeys: a key set the verifier cannot verify
// with would turn every JWT into a 401 (clients sign their users out); it must
// stop the service at start instead, with an error naming the problem.
func TestNewJWTVerifierRefusesUnusableKeys(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	private, err := json.Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	var privateJWK map[string]any
	if err := json.Unmarshal(private, &privateJWK); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []map[string]any {
		m := publicJWK(t, key)
		f(m)
		return []map[string]any{m}
	}
	tests := []struct {
		name string
		keys []map[string]any
		want string // in the error
	}{
		{"no keys", []map[string]any{}, "no keys"},
		{"no alg", edit(func(m map[string]any) { delete(m, "alg") }), `"alg"`},
		{"no kid", edit(func(m map[string]any) { delete(m, "kid") }), `"kid"`},
		{"alg none", edit(func(m map[string]any) { m["alg"] = "none" }), "none"},
		{"alg for another key type", edit(func(m map[string]any) { m["alg"] = "RS256" }), "RS256"},
		{"encryption key", edit(func(m map[string]any) { m["use"] = "enc" }), `"use"`},
		{"symmetric key", []map[string]any{{"kty": "oct", "kid": "k1", "alg": "HS256", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}}, "HS256"},
		{"private key", []map[string]any{privateJWK}, "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body, err := json.Marshal(map[string]any{"keys": tt.keys})
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range []string{"file", "https"} {
				var url string
				if src == "file" {
					path := filepath.Join(t.TempDir(), "jwks.json")
					if err := os.WriteFile(path, body, 0o600); err != nil {
						t.Fatal(err)
					}
					url = "file://" + path
				} else {
					srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						w.Header().Set("Content-Type", "application/json")
						_, _ = w.Write(body)
					}))
					defer srv.Close()
					url = srv.URL
				}
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				_, err := NewJWTVerifier(ctx, JWTConfig{JWKSURL: url, Issuer: "http://127.0.0.1:4433", Audience: "jwt_example"})
				cancel()
				if err == nil {
					t.Errorf("%s: NewJWTVerifier() error = nil, want one", src)
					continue
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: NewJWTVerifier() error = %q, want it to name %s", src, err, tt.want)
				}
			}
		})
	}
}

// TestNewJWTVerifierNeedsIssuerAndAudience: a verifier that checks neither
// accepts any token the keys signed, from any template or issuer.
func TestNewJWTVerifierNeedsIssuerAndAudience(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, signingKey(t, "k1"))
	for _, cfg := range []JWTConfig{
		{JWKSURL: jwks.URL, Audience: "jwt_example"},
		{JWKSURL: jwks.URL, Issuer: "http://127.0.0.1:4433"},
	} {
		if _, err := NewJWTVerifier(t.Context(), cfg); err == nil {
			t.Errorf("NewJWTVerifier(%+v) error = nil, want one", cfg)
		}
	}
}

// TestJWTKeySetTurnsUnusable: a refreshed key set the verifier cannot use is an
// outage of the key source (503), not a reason to sign every user out (401).
func TestJWTKeySetTurnsUnusable(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	v := newVerifier(t, jwks.URL, JWTConfig{})
	v.refetchEvery = 0
	m := publicJWK(t, key)
	delete(m, "alg")
	body, _ := json.Marshal(map[string]any{"keys": []any{m}})
	jwks.mu.Lock()
	jwks.body = body
	jwks.mu.Unlock()
	if _, err := v.cache.Refresh(t.Context(), jwks.URL); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(t.Context(), sign(t, key, sessionClaims(nil)))
	if p := asProblem(t, err); p.Status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want %d", p.Status, http.StatusServiceUnavailable)
	}
}

// TestJWTIssuerAndAudience: iss is compared with the configured issuer, a
// trailing slash aside (Kratos writes its base URL with one, ORY_SDK_URL is
// usually without), and aud must name the template.
func TestJWTIssuerAndAudience(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	tests := []struct {
		name     string
		issuer   string
		tokenIss string
		aud      []string
		ok       bool
	}{
		{"same", "https://p.projects.oryapis.com", "https://p.projects.oryapis.com", []string{"jwt_example"}, true},
		{"token with trailing slash", "http://127.0.0.1:4433", "http://127.0.0.1:4433/", []string{"jwt_example"}, true},
		{"config with trailing slash", "http://127.0.0.1:4433/", "http://127.0.0.1:4433", []string{"jwt_example"}, true},
		{"one of several audiences", "http://127.0.0.1:4433", "http://127.0.0.1:4433/", []string{"other", "jwt_example"}, true},
		{"other issuer", "http://127.0.0.1:4433", "http://127.0.0.1:4444/", []string{"jwt_example"}, false},
		{"issuer prefix", "http://127.0.0.1:4433", "http://127.0.0.1:4433/x", []string{"jwt_example"}, false},
		{"no issuer", "http://127.0.0.1:4433", "", []string{"jwt_example"}, false},
		{"other template", "http://127.0.0.1:4433", "http://127.0.0.1:4433/", []string{"jwt_other"}, false},
		{"no audience", "http://127.0.0.1:4433", "http://127.0.0.1:4433/", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, jwks.URL, JWTConfig{Issuer: tt.issuer, Audience: "jwt_example"})
			c := sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.Issuer(tt.tokenIss).Audience(tt.aud) })
			if tt.tokenIss == "" {
				if err := c.Remove(jwt.IssuerKey); err != nil {
					t.Fatal(err)
				}
			}
			if tt.aud == nil {
				if err := c.Remove(jwt.AudienceKey); err != nil {
					t.Fatal(err)
				}
			}
			_, err := v.Verify(t.Context(), sign(t, key, c))
			if tt.ok && err != nil {
				t.Errorf("Verify() error = %v, want none", err)
			}
			if !tt.ok {
				if err == nil {
					t.Fatal("Verify() error = nil, want 401")
				}
				if p := asProblem(t, err); p.Status != http.StatusUnauthorized {
					t.Errorf("status = %d, want %d", p.Status, http.StatusUnauthorized)
				}
			}
		})
	}
}

// TestJWTSkew: the configured skew, and no more, is tolerated on exp.
func TestJWTSkew(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	tests := []struct {
		skew    time.Duration
		expired time.Duration
		ok      bool
	}{
		{0, -time.Minute, true},
		{0, 2 * time.Second, false},
		{5 * time.Second, 2 * time.Second, true},
		{5 * time.Second, 10 * time.Second, false},
	}
	for _, tt := range tests {
		v := newVerifier(t, jwks.URL, JWTConfig{Skew: tt.skew})
		tok := sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder {
			return b.IssuedAt(time.Now().Add(-time.Hour)).Expiration(time.Now().Add(-tt.expired))
		}))
		if _, err := v.Verify(t.Context(), tok); (err == nil) != tt.ok {
			t.Errorf("skew %s, expired %s ago: Verify() error = %v, want ok %t", tt.skew, tt.expired, err, tt.ok)
		}
	}
}

// TestNewJWTVerifierRefusesRedirectToHTTP: the key set decides who may sign in;
// a redirect must not move its fetch into the clear.
func TestNewJWTVerifierRefusesRedirectToHTTP(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t, signingKey(t, "k1"))
	redirect := httptest.NewServer(http.RedirectHandler(jwks.URL, http.StatusFound))
	defer redirect.Close()
	// Start-up waits up to 15s for the key set; the test does not.
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := NewJWTVerifier(ctx, JWTConfig{JWKSURL: redirect.URL, Issuer: jwtIssuer, Audience: jwtAudience}); err == nil {
		t.Error("NewJWTVerifier() with a redirect to http:// = nil error, want one")
	}
	if n := jwks.fetches.Load(); n != 0 {
		t.Errorf("fetches at the redirect's target = %d, want 0", n)
	}
}

// TestDevOnlyKeySets: the service takes the local Kratos's public key set and
// refuses its private one (it would hold the power to mint sessions).
func TestDevOnlyKeySets(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "kratos"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := JWTConfig{Issuer: jwtIssuer, Audience: jwtAudience}
	cfg.JWKSURL = "file://" + filepath.Join(dir, "dev-only.jwks.public.json")
	if _, err := NewJWTVerifier(t.Context(), cfg); err != nil {
		t.Errorf("NewJWTVerifier(dev-only.jwks.public.json) = %v", err)
	}
	cfg.JWKSURL = "file://" + filepath.Join(dir, "dev-only.jwks.json")
	if _, err := NewJWTVerifier(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "private") {
		t.Errorf("NewJWTVerifier(dev-only.jwks.json) = %v, want an error about a private key", err)
	}
}
