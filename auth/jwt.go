package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/problem"
)

// JWTConfig configures local verification of Ory session JWTs (session-to-JWT:
// whoami with tokenize_as).
type JWTConfig struct {
	// JWKSURL serves the public keys of the tokenizer template: https://... (cached,
	// refreshed, and refetched when a token names a key it does not know, so key
	// rotation needs no restart) or file://... (read once).
	JWKSURL string
	// Issuer, when set, must equal the iss claim (Ory sets its public URL).
	Issuer string
	// Audience, when set, must be in the aud claim.
	Audience string
	// Skew is the clock difference tolerated on exp, nbf and iat. Default 30s.
	Skew time.Duration
	// HTTPClient fetches the key set. Default: a client with a 10s timeout.
	HTTPClient *http.Client
}

// minRefetch bounds how often an unknown key id can make the verifier refetch the
// key set, so a flood of forged tokens cannot turn into a flood of JWKS fetches.
const minRefetch = 30 * time.Second

// JWTVerifier verifies Ory session JWTs without calling Ory. A JWT cannot be revoked
// before it expires: keep the template's ttl short.
type JWTVerifier struct {
	cfg    JWTConfig
	cache  *jwk.Cache // nil for a file:// key set
	static jwk.Set

	mu        sync.Mutex
	lastFetch time.Time
	// refetchEvery is minRefetch; tests shorten it.
	refetchEvery time.Duration
}

// NewJWTVerifier returns a verifier for the key set at cfg.JWKSURL. It fetches the
// set once, so a wrong URL fails at start, and keeps it fresh until ctx is done.
func NewJWTVerifier(ctx context.Context, cfg JWTConfig) (*JWTVerifier, error) {
	if cfg.Skew == 0 {
		cfg.Skew = 30 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	v := &JWTVerifier{cfg: cfg, refetchEvery: minRefetch}
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "file" {
		v.static, err = jwk.ReadFile(u.Host + u.Path)
		if err != nil {
			return nil, fmt.Errorf("read key set: %w", err)
		}
		return v, nil
	}
	v.cache, err = jwk.NewCache(ctx, httprc.NewClient(httprc.WithHTTPClient(cfg.HTTPClient)))
	if err != nil {
		return nil, err
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err = v.cache.Register(fetchCtx, cfg.JWKSURL,
		jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(15*time.Minute), jwk.WithWaitReady(true))
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	v.lastFetch = time.Now()
	return v, nil
}

// Accepts reports whether token is shaped like a JWT (ory_st_ tokens are not).
func (v *JWTVerifier) Accepts(token string) bool {
	return strings.HasPrefix(token, "eyJ") && strings.Count(token, ".") == 2
}

// Verify checks the token's signature, exp/nbf/iat (with skew), iss and aud as
// configured, and that it names a session (sid) and identity (sub).
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*client.Session, error) {
	set, err := v.keys(ctx)
	if err != nil {
		return nil, problem.Unavailable(err)
	}
	t, err := jwt.ParseString(token, v.options(set)...)
	if err != nil && v.refetchable(token, set) {
		// The token names a key this verifier has not seen: the keys may have
		// rotated. Refetch (rate limited) and try once more.
		if set, err = v.refetch(ctx); err != nil {
			return nil, problem.Unavailable(err)
		}
		t, err = jwt.ParseString(token, v.options(set)...)
	}
	if err != nil {
		p := problem.Unauthorized("The session JWT is invalid or expired.")
		p.Cause = err
		return nil, p
	}
	return sessionFromClaims(t)
}

func (v *JWTVerifier) options(set jwk.Set) []jwt.ParseOption {
	opts := []jwt.ParseOption{
		jwt.WithKeySet(set, jws.WithRequireKid(true)),
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(v.cfg.Skew),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sid"),
		jwt.WithRequiredClaim("sub"),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	if v.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(v.cfg.Audience))
	}
	return opts
}

func (v *JWTVerifier) keys(ctx context.Context) (jwk.Set, error) {
	if v.cache == nil {
		return v.static, nil
	}
	return v.cache.Lookup(ctx, v.cfg.JWKSURL)
}

// refetchable reports whether token's key id is missing from set and a refetch is
// allowed now.
func (v *JWTVerifier) refetchable(token string, set jwk.Set) bool {
	if v.cache == nil {
		return false
	}
	msg, err := jws.ParseString(token)
	if err != nil || len(msg.Signatures()) != 1 {
		return false
	}
	kid, ok := msg.Signatures()[0].ProtectedHeaders().KeyID()
	if !ok {
		return false
	}
	if _, known := set.LookupKeyID(kid); known {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if time.Since(v.lastFetch) < v.refetchEvery {
		return false
	}
	v.lastFetch = time.Now()
	return true
}

func (v *JWTVerifier) refetch(ctx context.Context) (jwk.Set, error) {
	set, err := v.cache.Refresh(ctx, v.cfg.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("refetch key set: %w", err)
	}
	return set, nil
}

// sessionFromClaims builds the session a verified token stands for. The claims
// mapper (kratos/tokenizer.claims.jsonnet) adds aal, email and metadata_public, so roles work as with whoami.
func sessionFromClaims(t jwt.Token) (*client.Session, error) {
	sub, _ := t.Subject()
	exp, _ := t.Expiration()
	var sid string
	if err := t.Get("sid", &sid); err != nil || sid == "" || sub == "" {
		return nil, problem.Unauthorized("The session JWT names no session.")
	}
	active := true
	s := &client.Session{
		Id:        sid,
		Active:    &active,
		ExpiresAt: &exp,
		Identity:  &client.Identity{Id: sub},
	}
	if iat, ok := t.IssuedAt(); ok {
		s.IssuedAt = &iat
	}
	var aal string
	if t.Get("aal", &aal) == nil && aal != "" {
		level := client.AuthenticatorAssuranceLevel(aal)
		s.AuthenticatorAssuranceLevel = &level
	}
	var meta map[string]any
	if t.Get("metadata_public", &meta) == nil {
		s.Identity.MetadataPublic = meta
	}
	var traits map[string]any
	var email string
	if t.Get("traits", &traits) == nil {
		s.Identity.Traits = traits
	} else if t.Get("email", &email) == nil {
		s.Identity.Traits = map[string]any{"email": email}
	}
	return s, nil
}

var _ TokenVerifier = (*JWTVerifier)(nil)
