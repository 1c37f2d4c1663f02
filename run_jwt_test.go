package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/servicetest"
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

func (s *service) status(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/resource", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := s.Client.Do(req)
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

// TestRunJWTGracefulShutdown: a request in flight at the signal that needs the key
// set refetched (its token names a key rotated in since start) still gets its
// answer, and run returns nil well before SHUTDOWN_TIMEOUT: the key set outlives
// the signal until the server has shut down.
func TestRunJWTGracefulShutdown(t *testing.T) {
	t.Parallel()
	const shutdownWait = 3 * time.Second
	old, rotated := newJWTKeys(t), newJWTKeys(t)
	_ = rotated.key.Set(jwk.KeyIDKey, "run-test-2")
	both := jwk.NewSet()
	for _, k := range []jwk.Key{old.key, rotated.key} {
		pub, err := jwk.PublicKeyOf(k)
		if err != nil {
			t.Fatal(err)
		}
		_ = both.AddKey(pub)
	}
	bothJSON, err := json.Marshal(both)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu        sync.Mutex
		body      = old.jwks
		refetched = make(chan struct{}) // closed when the refetch has reached the key server
		release   = make(chan struct{}) // closed to let the refetch answer
		fetches   int
		once      sync.Once
	)
	jwks := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		first := fetches == 1
		b := body
		mu.Unlock()
		if !first {
			once.Do(func() { close(refetched) })
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(jwks.Close)

	ctx := context.WithValue(context.Background(), jwksClientKey{}, jwks.Client())
	svc := &service{Service: servicetest.StartContext(t, ctx, run, map[string]string{
		"ORY_JWKS_URL": jwks.URL + "/.well-known/jwks.json", "ORY_JWT_TEMPLATE": "jwt_example",
		"SHUTDOWN_TIMEOUT": shutdownWait.String(),
	})}
	if got := svc.status(t, old.token(t, nil)); got != http.StatusOK {
		t.Fatalf("status before shutdown = %d, want %d\nlogs: %s", got, http.StatusOK, svc.Logs)
	}

	mu.Lock()
	body = bothJSON
	mu.Unlock()
	results := svc.slowCalls([]string{rotated.token(t, nil)})
	select {
	case <-refetched:
	case <-time.After(5 * time.Second):
		t.Fatal("a token of a new key did not make the service refetch the key set")
	}
	start := time.Now()
	svc.Cancel()
	for !strings.Contains(svc.Logs.String(), `"msg":"shutting down"`) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("no shutting down line:\n%s", svc.Logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // what runs on the signal's context has stopped by now
	close(release)

	select {
	case r := <-results:
		if r.err != nil || r.status != http.StatusOK {
			t.Errorf("request in flight at the signal: status %d, error %v; want 200", r.status, r.err)
		}
	case <-time.After(shutdownWait + 2*time.Second):
		t.Fatal("request in flight at the signal never answered")
	}
	switch err := svc.Wait(shutdownWait + 2*time.Second); {
	case errors.Is(err, servicetest.ErrStillRunning):
		t.Fatal("run did not return within SHUTDOWN_TIMEOUT")
	case err != nil:
		t.Errorf("run() = %v, want nil", err)
	case time.Since(start) > shutdownWait/2:
		t.Errorf("run returned %s after cancel, want well within SHUTDOWN_TIMEOUT %s", time.Since(start), shutdownWait)
	}
}
