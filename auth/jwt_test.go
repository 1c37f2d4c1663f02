package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// signingKey returns a new ES256 private key with key id kid.
func signingKey(t testing.TB, kid string) jwk.Key {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	if err := k.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		t.Fatal(err)
	}
	return k
}

// jwksServer serves the public half of its keys as a JWKS, like a tokenizer
// template's jwks_url.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	down    bool
	fetches atomic.Int64
}

func newJWKSServer(t testing.TB, keys ...jwk.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, down := s.body, s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serve replaces the served key set with the public keys of keys.
func (s *jwksServer) serve(t testing.TB, keys ...jwk.Key) {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		pub, err := jwk.PublicKeyOf(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = body
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

const (
	jwtSID      = "9f425a8d-7efc-4768-8f23-7647a74fdf13"
	jwtSub      = "0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10"
	jwtIssuer   = "http://127.0.0.1:4433"
	jwtAudience = "jwt_example"
)

// claims are the claims of a session JWT as Ory's tokenizer and the claims mapper
// in kratos/ make them; edit returns changes them.
func sessionClaims(edit func(*jwt.Builder) *jwt.Builder) jwt.Token {
	now := time.Now()
	b := jwt.NewBuilder().
		Subject(jwtSub).
		Issuer(jwtIssuer).
		Audience([]string{jwtAudience}).
		IssuedAt(now).
		Expiration(now.Add(10*time.Minute)).
		Claim("sid", jwtSID).
		Claim("aal", "aal2").
		Claim("metadata_public", map[string]any{"role": "admin"}).
		Claim("traits", map[string]any{"email": "a@example.com"})
	if edit != nil {
		b = edit(b)
	}
	t, err := b.Build()
	if err != nil {
		panic(err)
	}
	return t
}

func sign(t testing.TB, key jwk.Key, claims jwt.Token) string {
	t.Helper()
	b, err := jwt.Sign(claims, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newVerifier returns a verifier of the key set at url; the issuer and audience
// default to those of sessionClaims.
func newVerifier(t testing.TB, url string, cfg JWTConfig) *JWTVerifier {
	t.Helper()
	cfg.JWKSURL = url
	if cfg.Issuer == "" {
		cfg.Issuer = jwtIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = jwtAudience
	}
	v, err := NewJWTVerifier(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewJWTVerifier: %v", err)
	}
	return v
}

func TestJWTVerify(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	b64 := base64.RawURLEncoding.EncodeToString

	tests := []struct {
		name  string
		cfg   JWTConfig
		token func(t *testing.T) string
		ok    bool
	}{
		{"valid", JWTConfig{}, func(t *testing.T) string { return sign(t, key, sessionClaims(nil)) }, true},
		{"expired within skew", JWTConfig{Skew: 30 * time.Second}, func(t *testing.T) string {
			return sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.Expiration(time.Now().Add(-10 * time.Second)) }))
		}, true},
		{"expired beyond skew", JWTConfig{Skew: 30 * time.Second}, func(t *testing.T) string {
			return sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.Expiration(time.Now().Add(-2 * time.Minute)) }))
		}, false},
		{"not yet valid", JWTConfig{}, func(t *testing.T) string {
			return sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(time.Now().Add(5 * time.Minute)) }))
		}, false},
		{"wrong signature", JWTConfig{}, func(t *testing.T) string { return sign(t, signingKey(t, "k1"), sessionClaims(nil)) }, false},
		{"unknown key", JWTConfig{}, func(t *testing.T) string { return sign(t, signingKey(t, "k-unknown"), sessionClaims(nil)) }, false},
		{"tampered claims", JWTConfig{}, func(t *testing.T) string {
			parts := strings.Split(sign(t, key, sessionClaims(nil)), ".")
			parts[1] = b64([]byte(`{"sub":"` + jwtSub + `","sid":"` + jwtSID + `","exp":4102444800,"metadata_public":{"role":"admin"}}`))
			return strings.Join(parts, ".")
		}, false},
		{"missing sid", JWTConfig{}, func(t *testing.T) string {
			c := sessionClaims(nil)
			if err := c.Remove("sid"); err != nil {
				t.Fatal(err)
			}
			return sign(t, key, c)
		}, false},
		{"empty sid", JWTConfig{}, func(t *testing.T) string {
			return sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder { return b.Claim("sid", "") }))
		}, false},
		{"missing exp", JWTConfig{}, func(t *testing.T) string {
			c := sessionClaims(nil)
			if err := c.Remove(jwt.ExpirationKey); err != nil {
				t.Fatal(err)
			}
			return sign(t, key, c)
		}, false},
		{"wrong issuer", JWTConfig{Issuer: "https://other.example"}, func(t *testing.T) string { return sign(t, key, sessionClaims(nil)) }, false},
		{"wrong audience", JWTConfig{Audience: "other-app"}, func(t *testing.T) string { return sign(t, key, sessionClaims(nil)) }, false},
		{"alg none", JWTConfig{}, func(t *testing.T) string {
			return b64([]byte(`{"alg":"none","kid":"k1","typ":"JWT"}`)) + "." +
				b64([]byte(`{"sub":"`+jwtSub+`","sid":"`+jwtSID+`","exp":4102444800}`)) + "."
		}, false},
		{"alg HS256 with the public key as secret", JWTConfig{}, func(t *testing.T) string {
			pub, _ := jwk.PublicKeyOf(key)
			pubJSON, _ := json.Marshal(pub)
			b, err := jwt.Sign(sessionClaims(nil), jwt.WithKey(jwa.HS256(), pubJSON))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := newVerifier(t, jwks.URL, tt.cfg)
			tok := tt.token(t)
			if !v.Accepts(tok) {
				t.Fatalf("Accepts(%.40q) = false, want true", tok)
			}
			s, err := v.Verify(t.Context(), tok)
			if !tt.ok {
				if err == nil {
					t.Fatalf("Verify() = %+v, want an error", s)
				}
				if p := asProblem(t, err); p.Status != http.StatusUnauthorized {
					t.Errorf("status = %d, want %d", p.Status, http.StatusUnauthorized)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if s.Id != jwtSID || s.Identity == nil || s.Identity.Id != jwtSub || !s.GetActive() {
				t.Errorf("session = %+v, want %s of %s, active", s, jwtSID, jwtSub)
			}
			if got := string(s.GetAuthenticatorAssuranceLevel()); got != "aal2" {
				t.Errorf("aal = %q, want aal2", got)
			}
			if got := s.Identity.MetadataPublic["role"]; got != "admin" {
				t.Errorf("metadata_public.role = %v, want admin", got)
			}
			if s.ExpiresAt == nil || s.ExpiresAt.IsZero() {
				t.Error("expires_at not set")
			}
		})
	}
}

func TestJWTAccepts(t *testing.T) {
	t.Parallel()
	v := &JWTVerifier{}
	tests := []struct {
		token string
		want  bool
	}{
		{"eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0.sig", true},
		{"eyJhbGciOiJub25lIn0.eyJzaWQiOiJ4In0.", true},
		{goodToken, false},
		{"eyJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJ4In0", false},
		{"eyJ.a.b.c", false},
		{"abc.def.ghi", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := v.Accepts(tt.token); got != tt.want {
			t.Errorf("Accepts(%q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func TestJWTKeyRotation(t *testing.T) {
	t.Parallel()
	old, rotated := signingKey(t, "k1"), signingKey(t, "k2")

	t.Run("new key picked up by refetch", func(t *testing.T) {
		t.Parallel()
		jwks := newJWKSServer(t, old)
		v := newVerifier(t, jwks.URL, JWTConfig{})
		v.refetchEvery = 0
		jwks.serve(t, old, rotated)
		before := jwks.fetches.Load()
		if _, err := v.Verify(t.Context(), sign(t, rotated, sessionClaims(nil))); err != nil {
			t.Fatalf("Verify(token of the rotated key) = %v", err)
		}
		if got := jwks.fetches.Load() - before; got != 1 {
			t.Errorf("JWKS fetches = %d, want 1", got)
		}
		// The old key still works: rotation publishes both for a while.
		if _, err := v.Verify(t.Context(), sign(t, old, sessionClaims(nil))); err != nil {
			t.Errorf("Verify(token of the old key) = %v", err)
		}
	})

	t.Run("refetch rate limited", func(t *testing.T) {
		t.Parallel()
		jwks := newJWKSServer(t, old)
		v := newVerifier(t, jwks.URL, JWTConfig{})
		v.refetchEvery = time.Hour
		v.mu.Lock()
		v.lastFetch = time.Now()
		v.mu.Unlock()
		jwks.serve(t, old, rotated)
		before := jwks.fetches.Load()
		forged := signingKey(t, "k-forged")
		for range 10 {
			_, _ = v.Verify(t.Context(), sign(t, forged, sessionClaims(nil)))
		}
		_, err := v.Verify(t.Context(), sign(t, rotated, sessionClaims(nil)))
		if p := asProblem(t, err); p.Status != http.StatusUnauthorized {
			t.Errorf("status = %d, want %d (refetch not yet allowed)", p.Status, http.StatusUnauthorized)
		}
		if got := jwks.fetches.Load() - before; got != 0 {
			t.Errorf("JWKS fetches = %d, want 0 within the refetch interval", got)
		}
	})

	t.Run("one refetch per interval for unknown keys", func(t *testing.T) {
		t.Parallel()
		jwks := newJWKSServer(t, old)
		v := newVerifier(t, jwks.URL, JWTConfig{})
		v.refetchEvery = time.Hour
		v.mu.Lock()
		v.lastFetch = time.Now().Add(-2 * time.Hour)
		v.mu.Unlock()
		before := jwks.fetches.Load()
		forged := signingKey(t, "k-forged")
		for range 10 {
			_, _ = v.Verify(t.Context(), sign(t, forged, sessionClaims(nil)))
		}
		if got := jwks.fetches.Load() - before; got != 1 {
			t.Errorf("JWKS fetches = %d, want 1", got)
		}
	})
}

func TestJWTVerifiesWithJWKSDown(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	v := newVerifier(t, jwks.URL, JWTConfig{})
	jwks.setDown(true)
	jwks.Close()
	if _, err := v.Verify(t.Context(), sign(t, key, sessionClaims(nil))); err != nil {
		t.Errorf("Verify() with the JWKS server down = %v, want the cached keys to verify", err)
	}
}

func TestNewJWTVerifierFailsOnBadURL(t *testing.T) {
	t.Parallel()
	jwks := newJWKSServer(t)
	jwks.setDown(true)
	// Start-up waits up to 15s for the key set; the test does not.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, err := NewJWTVerifier(ctx, JWTConfig{JWKSURL: jwks.URL, Issuer: jwtIssuer, Audience: jwtAudience}); err == nil {
		t.Error("NewJWTVerifier() with a failing JWKS URL = nil error, want one")
	}
}

func TestCheckJWTMakesNoOryCall(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	jwks := newJWKSServer(t, key)
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	k := newChecker(t, fake, Options{CacheTTL: time.Minute, JWT: newVerifier(t, jwks.URL, JWTConfig{})})

	for range 3 {
		s, err := k.Check(t.Context(), Credential{Token: sign(t, key, sessionClaims(nil))})
		if err != nil || s.Id != jwtSID {
			t.Fatalf("Check(JWT) = %+v, %v", s, err)
		}
	}
	if _, err := k.Check(t.Context(), Credential{Token: sign(t, signingKey(t, "k1"), sessionClaims(nil))}); err == nil {
		t.Error("Check(forged JWT) = nil error, want 401")
	}
	if n := fake.WhoamiCalls(); n != 0 {
		t.Errorf("whoami calls = %d, want 0 in JWT mode", n)
	}
	// Session tokens still go to Ory.
	if _, err := k.Check(t.Context(), Credential{Token: tok}); err != nil {
		t.Fatal(err)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1 for an ory_st_ token", n)
	}
}
