package kratostest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// signWithDevKey makes an ES256 JWT with the committed local-dev private key, as
// Kratos's tokenizer does.
func signWithDevKey(t *testing.T, dir string, claims map[string]any) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "dev-only.jwks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, X, Y, D string } `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("private jwks: %v", err)
	}
	k := set.Keys[0]
	dec := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return new(big.Int).SetBytes(b)
	}
	priv := &ecdsa.PrivateKey{PublicKey: ecdsa.PublicKey{Curve: elliptic.P256(), X: dec(k.X), Y: dec(k.Y)}, D: dec(k.D)}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]any{"alg": "ES256", "kid": k.Kid, "typ": "JWT"}) + "." + enc(claims)
	h := sha256.Sum256([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestDevJWKSAndVerify(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "kratos")
	pub := filepath.Join(dir, "dev-only.jwks.public.json")
	now := time.Unix(1_800_000_000, 0)
	good := signWithDevKey(t, dir, map[string]any{"sub": "i1", "sid": "s1", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})

	claims, err := verifyES256(good, pub, now)
	if err != nil || claims["sub"] != "i1" || claims["sid"] != "s1" {
		t.Fatalf("verify good token: %v, %v", claims, err)
	}
	if _, err := verifyES256(good, pub, now.Add(11*time.Minute)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired: %v", err)
	}
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","exp":1900000000}`)) + "." + parts[2]
	if _, err := verifyES256(tampered, pub, now); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := verifyES256("a.b", pub, now); err == nil {
		t.Fatal("malformed token verified")
	}

	// The public file is exactly the private file without "d".
	rawPriv, _ := os.ReadFile(filepath.Join(dir, "dev-only.jwks.json"))
	rawPub, _ := os.ReadFile(pub)
	var a, b struct{ Keys []map[string]string }
	_ = json.Unmarshal(rawPriv, &a)
	_ = json.Unmarshal(rawPub, &b)
	if _, ok := b.Keys[0]["d"]; ok {
		t.Fatal("public JWKS contains the private key")
	}
	delete(a.Keys[0], "d")
	if len(a.Keys[0]) != len(b.Keys[0]) {
		t.Fatalf("public/private JWKS differ: %v vs %v", a.Keys[0], b.Keys[0])
	}
	for k, v := range a.Keys[0] {
		if b.Keys[0][k] != v {
			t.Fatalf("public/private JWKS differ in %s", k)
		}
	}
}

func TestStartWithoutBinary(t *testing.T) {
	t.Setenv("KRATOS_BIN", filepath.Join(t.TempDir(), "missing"))
	_, err := Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "make kratos") {
		t.Fatalf("err = %v", err)
	}
}

func TestKratosEnvIsIsolated(t *testing.T) {
	t.Setenv("DSN", "postgres://should-not-leak")
	t.Setenv("SESSION_LIFESPAN", "1s")
	env := strings.Join(kratosEnv("memory", 1, 2, "http://127.0.0.1:1", "http://127.0.0.1:2", []string{"LOG_LEVEL=debug"}), "\n")
	if strings.Contains(env, "should-not-leak") || strings.Contains(env, "SESSION_LIFESPAN") {
		t.Fatalf("caller env leaked:\n%s", env)
	}
	for _, want := range []string{"DSN=memory", "SERVE_PUBLIC_PORT=1", "SERVE_ADMIN_BASE_URL=http://127.0.0.1:2/", "HASHERS_BCRYPT_COST=4", "SERVE_PUBLIC_HOST=127.0.0.1"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("env lacks %s", want)
		}
	}
	if !strings.HasSuffix(env, "LOG_LEVEL=debug") {
		t.Error("extra env must come last (it wins)")
	}
}
