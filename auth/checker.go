// Package auth is the session gate: it extracts the caller's Ory credential, checks
// it with Ory (FrontendAPI toSession, i.e. GET /sessions/whoami) or locally for
// session JWTs, caches the answer, and hands the session to handlers.
package auth

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	client "github.com/ory/client-go"
	"golang.org/x/sync/singleflight"

	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/problem"
)

// Options tune a Checker. The zero value checks every request with Ory.
type Options struct {
	// Timeout bounds one Ory call; a hung Ory answers 503 after it. Default 5s.
	Timeout time.Duration
	// CacheTTL is how long a valid session is reused without asking Ory (never past
	// the session's expires_at). 0 disables the cache.
	CacheTTL time.Duration
	// DenyTTL is how long a refused credential (401) is remembered, so a flood of
	// bad tokens does not reach Ory. Used only when the cache is on.
	DenyTTL time.Duration
	// CacheSize bounds the cache in entries. Default 10,000.
	CacheSize int
	// JWT, when set, verifies session JWTs locally instead of calling Ory.
	JWT TokenVerifier
	// MaxJWTLifetime is the longest exp - iat a session JWT may have. Revocations
	// are remembered this long, so a longer-lived JWT could outlive its
	// revocation and is refused. Default 1h.
	MaxJWTLifetime time.Duration
	// Metrics records Ory calls and cache lookups; nil records nothing.
	Metrics *metrics.Metrics
	// Shared, when set, is the Redis cache behind this one and the channel that
	// carries revocations between replicas (shared.go). Run its Listen.
	Shared *Shared
	// Traced notes on the request's span how each check was answered
	// (CacheAttribute). Set it when tracing is on; off, checks never look for a span.
	Traced bool
}

// TokenVerifier verifies a session token locally and returns the session it stands for.
type TokenVerifier interface {
	// Accepts reports whether token is for this verifier (a JWT, not an ory_st_ token).
	Accepts(token string) bool
	// Verify returns the session of a valid token, or a *problem.Problem.
	Verify(ctx context.Context, token string) (*client.Session, error)
}

// Checker validates session credentials. It is safe for concurrent use.
type Checker struct {
	frontend client.FrontendAPI
	opts     Options
	cache    *sessionCache // nil when disabled
	group    singleflight.Group
	now      func() time.Time

	// mu makes a revocation (count, record, evict) and an insert (check the
	// count, add) atomic with respect to each other: an answer fetched before a
	// revocation is either cached before the eviction removes it, or not at all.
	mu sync.Mutex
	// gen counts revocations; written under mu, read without it on the way in.
	gen     atomic.Uint64
	revoked *revocations // JWT mode only
	// beforeInsert, when set by a test, runs under mu just before an answer is cached.
	beforeInsert func()
}

// NewChecker returns a Checker that calls Ory through frontend, which must not carry
// the project API key.
func NewChecker(frontend client.FrontendAPI, opts Options) *Checker {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 10_000
	}
	if opts.MaxJWTLifetime <= 0 {
		opts.MaxJWTLifetime = time.Hour
	}
	k := &Checker{frontend: frontend, opts: opts, now: time.Now}
	if opts.CacheTTL > 0 {
		k.cache = newSessionCache(opts.CacheSize)
	}
	if opts.JWT != nil {
		k.revoked = newRevocations(revocationsSize, opts.MaxJWTLifetime)
	}
	return k
}

// Check returns the active session cred stands for. Errors are *problem.Problem:
// 401 for no valid session, 403 when Ory wants a step up (AAL2), 429 when Ory rate
// limits, 503 when Ory is unreachable, slow or failing.
func (k *Checker) Check(ctx context.Context, cred Credential) (*client.Session, error) {
	if k.verifiesLocally(cred) {
		k.opts.Metrics.CacheLookup("jwt")
		k.note(ctx, "jwt")
		return k.verifyJWT(ctx, k.opts.JWT, cred)
	}
	if !cacheable(cred) {
		k.opts.Metrics.CacheLookup("miss")
		k.note(ctx, "miss")
		return k.askAlone(ctx, cred)
	}
	key := keyOf(cred)
	if k.cache != nil {
		if e, ok := k.cache.get(key, k.now()); ok {
			k.opts.Metrics.CacheLookup("hit")
			k.note(ctx, cachedOutcome(e))
			return e.session, e.err
		}
		k.opts.Metrics.CacheLookup("miss")
	}
	// Concurrent checks of one credential share one Ory call. The call is detached
	// from the first caller's context, so that caller leaving does not fail the
	// others; its own timeout still bounds it. The revocation count is part of the
	// key: a check that begins after a revocation never joins a call begun before
	// it, whose answer may be about the session as it was.
	gen := k.gen.Load()
	miss := key // only the miss path's copy escapes into the closure
	// asked is set by the check whose call this is, before its answer is sent on
	// the channel; the others joined it.
	asked := false
	ch := k.group.DoChan(flightKey(gen, miss), func() (any, error) {
		asked = true
		return k.fetch(ctx, cred, miss, gen)
	})
	select {
	case r := <-ch:
		k.note(ctx, flightOutcome(asked))
		s, _ := r.Val.(*client.Session)
		return s, r.Err
	case <-ctx.Done():
		return nil, problem.Unavailable(ctx.Err())
	}
}

// flightKey is the singleflight key of a check of the credential with key begun
// at revocation count gen.
func flightKey(gen uint64, key cacheKey) string {
	var b [8 + len(cacheKey{})]byte
	binary.BigEndian.PutUint64(b[:8], gen)
	copy(b[8:], key[:])
	return string(b[:])
}

// verifiesLocally reports whether cred is a session JWT this Checker verifies
// itself rather than asking Ory.
func (k *Checker) verifiesLocally(cred Credential) bool {
	v := k.opts.JWT
	return v != nil && cred.Token != "" && v.Accepts(cred.Token)
}

// Timeout is the bound of one Ory call made with a caller's credential.
func (k *Checker) Timeout() time.Duration { return k.opts.Timeout }

// verifyJWT verifies a session JWT locally. With the cache on, a verified token is
// reused until its exp or CacheTTL, whichever comes first: the signature check
// would otherwise cost more than the rest of the request. The key is the hash of
// the whole signed token, so only the very bytes that verified can hit; refusals
// are not cached (a forged token costs a verification each time, as without the
// cache). A key removed from the key set stops admitting tokens already seen
// within CacheTTL, as with any cached session. Sessions revoked through this
// service are refused (revocation.go); their cached tokens were evicted then.
func (k *Checker) verifyJWT(ctx context.Context, v TokenVerifier, cred Credential) (*client.Session, error) {
	var key cacheKey
	if k.cache != nil {
		key = keyOf(cred)
		if e, ok := k.cache.get(key, k.now()); ok && e.err == nil {
			return e.session, nil
		}
	}
	gen := k.gen.Load()
	s, err := v.Verify(ctx, cred.Token)
	if err != nil {
		return nil, err
	}
	if s.IssuedAt == nil || s.ExpiresAt == nil || s.ExpiresAt.Sub(*s.IssuedAt) > k.opts.MaxJWTLifetime {
		p := problem.Unauthorized("The session JWT must carry iat and live at most as long as this service accepts.")
		p.Cause = fmt.Errorf("session JWT lifetime over %s, or no iat or exp", k.opts.MaxJWTLifetime)
		return nil, p
	}
	k.mu.Lock()
	revoked := k.revoked.refuses(s)
	k.mu.Unlock()
	if revoked {
		return nil, problem.Unauthorized("The session has been revoked. Sign in again.")
	}
	if k.cache != nil {
		k.keep(gen, key, s)
	}
	return s, nil
}

// keep caches a valid session until CacheTTL has passed or the session expires,
// whichever comes first.
func (k *Checker) keep(gen uint64, key cacheKey, s *client.Session) {
	e, _ := k.cacheable(s, nil)
	k.insert(gen, key, e)
}

// cacheable is the cache entry for an answer of Ory, if it is one to cache: a
// session until CacheTTL has passed or it expires, whichever comes first; a
// refusal (401) for DenyTTL. Everything else (403, 429, 503) is asked again next
// time: an outage is never cached.
func (k *Checker) cacheable(s *client.Session, err error) (entry, bool) {
	now := k.now()
	switch {
	case err == nil:
		exp := now.Add(k.opts.CacheTTL)
		if s.ExpiresAt != nil && s.ExpiresAt.Before(exp) {
			exp = *s.ExpiresAt
		}
		return entry{session: s, expires: exp}, true
	case isStatus(err, http.StatusUnauthorized) && k.opts.DenyTTL > 0:
		return entry{err: err, expires: now.Add(k.opts.DenyTTL)}, true
	}
	return entry{}, false
}

// insert caches e unless a session was revoked since gen was read: the answer
// may then be about a revoked session.
func (k *Checker) insert(gen uint64, key cacheKey, e entry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen.Load() != gen {
		return
	}
	if k.beforeInsert != nil {
		k.beforeInsert()
	}
	k.cache.add(key, e)
}

// fetch asks Ory (through the shared cache, when there is one) and caches the
// answer when it is a session or a refusal, unless a session was revoked since
// gen was read.
func (k *Checker) fetch(ctx context.Context, cred Credential, key cacheKey, gen uint64) (*client.Session, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.Timeout)
	defer cancel()
	if k.cache != nil && k.opts.Shared != nil {
		return k.opts.Shared.fetch(ctx, k, cred, key, gen)
	}
	return k.askAndKeep(ctx, cred, key, gen)
}

// askAndKeep asks Ory and caches the answer locally.
func (k *Checker) askAndKeep(ctx context.Context, cred Credential, key cacheKey, gen uint64) (*client.Session, error) {
	s, err := k.ask(ctx, cred)
	if k.cache != nil {
		if e, ok := k.cacheable(s, err); ok {
			k.insert(gen, key, e)
		}
	}
	return s, err
}

// askAlone asks Ory about cred within the Ory timeout, sharing and keeping nothing.
func (k *Checker) askAlone(ctx context.Context, cred Credential) (*client.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, k.opts.Timeout)
	defer cancel()
	return k.ask(ctx, cred)
}

// ask calls whoami with cred.
func (k *Checker) ask(ctx context.Context, cred Credential) (*client.Session, error) {
	req := k.frontend.ToSession(ctx)
	if cred.Token != "" {
		req = req.XSessionToken(cred.Token)
	} else {
		req = req.Cookie(cred.Cookie)
	}
	start := time.Now()
	s, resp, err := req.Execute()
	s, err = k.verdict(s, resp, err)
	k.opts.Metrics.OryCall(outcome(err), time.Since(start))
	return s, err
}
