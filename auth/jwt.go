package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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
	// Issuer must equal the iss claim, a trailing slash aside. Ory's tokenizer
	// sets its own public URL, written with a trailing slash.
	Issuer string
	// Audience must be in the aud claim. Ory sets no aud: the template's claims
	// mapper does, and so binds its tokens to the template. A token of another
	// template, or an OAuth2 ID token signed by the same keys, is refused.
	Audience string
	// Skew is the clock difference tolerated on exp, nbf and iat; zero
	// tolerates none. Every second of it lengthens the life of every token.
	Skew time.Duration
	// HTTPClient fetches the key set. Default: a client with a 10s timeout.
	// Redirects are followed to https:// URLs only.
	HTTPClient *http.Client
}

// minRefetch bounds how often an unknown key id can make the verifier refetch the
// key set, so a flood of forged tokens cannot turn into a flood of JWKS fetches.
const minRefetch = 30 * time.Second

// JWTVerifier verifies Ory session JWTs without calling Ory. Ory cannot recall a
// JWT it has issued: only revocations made through this service refuse one early
// (see Checker), so keep the template's ttl short.
type JWTVerifier struct {
	cfg    JWTConfig
	cache  *jwk.Cache // nil for a file:// key set
	static jwk.Set

	// checked is the last key set from the cache found usable, so that a
	// refreshed set is checked once, not on every request.
	checked atomic.Value

	mu        sync.Mutex
	lastFetch time.Time
	// refetchEvery is minRefetch; tests shorten it.
	refetchEvery time.Duration
}

// NewJWTVerifier returns a verifier for the key set at cfg.JWKSURL. It fetches the
// set once, so a wrong URL or an unusable key fails at start, and keeps it fresh
// until ctx is done: ctx must outlive every request that may verify a token.
func NewJWTVerifier(ctx context.Context, cfg JWTConfig) (*JWTVerifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("session JWTs need an issuer and an audience to check")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second, CheckRedirect: httpsOnly}
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
		if err := checkKeySet(v.static); err != nil {
			return nil, err
		}
		return v, nil
	}
	v.cache, err = jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		return nil, err
	}
	fetchCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err = v.cache.Register(fetchCtx, cfg.JWKSURL,
		jwk.WithHTTPClient(jwk.WrapHTTPClientDefaults(cfg.HTTPClient)),
		jwk.WithMinInterval(time.Minute), jwk.WithMaxInterval(15*time.Minute), jwk.WithWaitReady(true))
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	// lastFetch stays zero: the start-up fetch does not use up the first refetch,
	// so a key rotated in just after start is picked up at once.
	if _, err := v.keys(fetchCtx); err != nil {
		return nil, err
	}
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
	return []jwt.ParseOption{
		jwt.WithKeySet(set, jws.WithRequireKid(true)),
		jwt.WithValidate(true),
		jwt.WithAcceptableSkew(v.cfg.Skew),
		jwt.WithRequiredClaim("exp"),
		jwt.WithRequiredClaim("sid"),
		jwt.WithRequiredClaim("sub"),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithValidator(jwt.ValidatorFunc(v.checkIssuer)),
	}
}

func (v *JWTVerifier) checkIssuer(_ context.Context, t jwt.Token) error {
	// Only signed tokens get here, so iss is safe to name in the log: it tells an
	// operator which Ory signed a token this service was not configured for.
	iss, _ := t.Issuer()
	if strings.TrimSuffix(iss, "/") != strings.TrimSuffix(v.cfg.Issuer, "/") {
		return fmt.Errorf(`"iss" %q is not the configured issuer %q`, iss, v.cfg.Issuer)
	}
	return nil
}

func (v *JWTVerifier) keys(ctx context.Context) (jwk.Set, error) {
	if v.cache == nil {
		return v.static, nil
	}
	set, err := v.cache.Lookup(ctx, v.cfg.JWKSURL)
	if err != nil {
		return nil, err
	}
	if v.checked.Load() != set {
		if err := checkKeySet(set); err != nil {
			return nil, err
		}
		v.checked.Store(set)
	}
	return set, nil
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
	if _, err := v.cache.Refresh(ctx, v.cfg.JWKSURL); err != nil {
		return nil, fmt.Errorf("refetch key set: %w", err)
	}
	return v.keys(ctx)
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
