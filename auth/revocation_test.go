package auth

import (
	"net/http"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// jwtChecker returns a Checker that verifies JWTs signed by key, with its clock at
// now, and the clock.
func jwtChecker(t *testing.T, key jwk.Key, opts Options, now time.Time) (*Checker, *clock) {
	t.Helper()
	opts.JWT = newVerifier(t, newJWKSServer(t, key).URL, JWTConfig{})
	k := newChecker(t, orytest.New(t), opts)
	clk := &clock{t: now}
	k.now = clk.Now
	return k, clk
}

// jwtFor signs a session JWT for session sid of identity sub, issued at iat and
// valid for ttl.
func jwtFor(t *testing.T, key jwk.Key, sub, sid string, iat time.Time, ttl time.Duration) Credential {
	t.Helper()
	return Credential{Token: sign(t, key, sessionClaims(func(b *jwt.Builder) *jwt.Builder {
		return b.Subject(sub).Claim("sid", sid).IssuedAt(iat).Expiration(iat.Add(ttl))
	}))}
}

// A session revoked through this service stays refused in JWT mode: its JWTs,
// already verified (and cached) or not, get 401 until they expire.
func TestJWTRevokedSessionRefused(t *testing.T) {
	t.Parallel()
	for _, ttl := range []time.Duration{0, time.Hour} {
		t.Run("cache ttl "+ttl.String(), func(t *testing.T) {
			t.Parallel()
			key := signingKey(t, "k1")
			now := time.Now()
			k, _ := jwtChecker(t, key, Options{CacheTTL: ttl}, now)
			iat := now.Add(-time.Minute)
			revoked := jwtFor(t, key, jwtSub, "s-revoked", iat, 10*time.Minute)
			sibling := jwtFor(t, key, jwtSub, "s-sibling", iat, 10*time.Minute)
			for _, c := range []Credential{revoked, sibling} {
				if got := checkStatus(t, k, c); got != http.StatusOK {
					t.Fatalf("before revocation: status = %d, want %d", got, http.StatusOK)
				}
			}
			k.ForgetSession("s-revoked")
			for range 2 {
				if got := checkStatus(t, k, revoked); got != http.StatusUnauthorized {
					t.Errorf("revoked session's JWT: status = %d, want %d", got, http.StatusUnauthorized)
				}
			}
			// Another JWT of the same revoked session, minted before the revocation.
			if got := checkStatus(t, k, jwtFor(t, key, jwtSub, "s-revoked", iat.Add(time.Second), 10*time.Minute)); got != http.StatusUnauthorized {
				t.Errorf("another JWT of the revoked session: status = %d, want %d", got, http.StatusUnauthorized)
			}
			if got := checkStatus(t, k, sibling); got != http.StatusOK {
				t.Errorf("other session: status = %d, want %d", got, http.StatusOK)
			}
		})
	}
}

// Signing out everywhere else refuses the identity's other sessions' JWTs issued
// before it, keeps the current session's, and lets sessions made later in.
func TestJWTSignOutEverywhere(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	now := time.Now()
	// The service's clock runs a minute behind the tokens' iat for fresh tokens.
	k, _ := jwtChecker(t, key, Options{CacheTTL: time.Hour}, now.Add(-time.Minute))
	old := now.Add(-2 * time.Minute)
	keep := jwtFor(t, key, jwtSub, "s-keep", old, 10*time.Minute)
	other := jwtFor(t, key, jwtSub, "s-other", old, 10*time.Minute)
	stranger := jwtFor(t, key, "someone-else", "s-stranger", old, 10*time.Minute)
	for _, c := range []Credential{keep, other, stranger} {
		if got := checkStatus(t, k, c); got != http.StatusOK {
			t.Fatalf("before sign-out: status = %d, want %d", got, http.StatusOK)
		}
	}
	k.ForgetIdentitySessions(jwtSub, "s-keep")
	tests := []struct {
		name string
		cred Credential
		want int
	}{
		{"current session", keep, http.StatusOK},
		{"current session, a newer JWT", jwtFor(t, key, jwtSub, "s-keep", now, 10*time.Minute), http.StatusOK},
		{"other session", other, http.StatusUnauthorized},
		{"other session, another old JWT", jwtFor(t, key, jwtSub, "s-other2", old, 10*time.Minute), http.StatusUnauthorized},
		{"session signed in after", jwtFor(t, key, jwtSub, "s-new", now, 10*time.Minute), http.StatusOK},
		{"another identity", stranger, http.StatusOK},
	}
	for _, tt := range tests {
		if got := checkStatus(t, k, tt.cred); got != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, got, tt.want)
		}
	}
}

// Revocations are kept in a bounded store. Overflowing it must never let a
// revoked JWT back in: what no longer fits widens into coarser records (all of the
// identity's JWTs issued before, then everyone's), which only make holders of
// older JWTs fetch new ones.
func TestJWTRevocationsOverflowSoundly(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	now := time.Now()
	k, _ := jwtChecker(t, key, Options{}, now.Add(-time.Minute))
	k.revoked = newRevocations(2, k.opts.MaxJWTLifetime)
	old := now.Add(-2 * time.Minute)

	var revoked []Credential
	for i, sub := range []string{"i1", "i1", "i1", "i2", "i3", "i4", "i5"} {
		sid := "s" + string(rune('a'+i))
		revoked = append(revoked, jwtFor(t, key, sub, sid, old, 10*time.Minute))
		k.ForgetSession(sid)
	}
	for i, c := range revoked {
		if got := checkStatus(t, k, c); got != http.StatusUnauthorized {
			t.Errorf("revoked JWT %d: status = %d, want %d", i, got, http.StatusUnauthorized)
		}
	}
	if got := checkStatus(t, k, jwtFor(t, key, "i1", "s-fresh", now, 10*time.Minute)); got != http.StatusOK {
		t.Errorf("JWT issued after the revocations: status = %d, want %d", got, http.StatusOK)
	}
}

// A JWT must carry iat and live at most MaxJWTLifetime: revocations are kept that
// long, so a longer-lived token could outlive its revocation record.
func TestJWTLifetimeBounded(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "k1")
	now := time.Now()
	k, _ := jwtChecker(t, key, Options{MaxJWTLifetime: 30 * time.Minute}, now)
	noIAT := sessionClaims(nil)
	if err := noIAT.Remove(jwt.IssuedAtKey); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cred Credential
		want int
	}{
		{"at the limit", jwtFor(t, key, jwtSub, jwtSID, now, 30*time.Minute), http.StatusOK},
		{"over the limit", jwtFor(t, key, jwtSub, jwtSID, now, 30*time.Minute+time.Second), http.StatusUnauthorized},
		{"a day", jwtFor(t, key, jwtSub, jwtSID, now, 24*time.Hour), http.StatusUnauthorized},
		{"without iat", Credential{Token: sign(t, key, noIAT)}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if got := checkStatus(t, k, tt.cred); got != tt.want {
			t.Errorf("%s: status = %d, want %d", tt.name, got, tt.want)
		}
	}
	if d := NewChecker(nil, Options{}).opts.MaxJWTLifetime; d != time.Hour {
		t.Errorf("default MaxJWTLifetime = %s, want 1h", d)
	}
}
