// Package auth is the session gate: it extracts the caller's Ory credential, checks
// it with Ory (FrontendAPI toSession, i.e. GET /sessions/whoami) or locally for
// session JWTs, caches the answer, and hands the session to handlers.
package auth

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	client "github.com/ory/client-go"
	"golang.org/x/sync/singleflight"

	"github.com/example/ory-gin-starter/metrics"
	"github.com/example/ory-gin-starter/ory"
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
	// Metrics records Ory calls and cache lookups; nil records nothing.
	Metrics *metrics.Metrics
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
	// revocations counts evictions, so a whoami answer that was in flight while a
	// session was revoked is not put back into the cache.
	revocations atomic.Uint64
	now         func() time.Time
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
	k := &Checker{frontend: frontend, opts: opts, now: time.Now}
	if opts.CacheTTL > 0 {
		k.cache = newSessionCache(opts.CacheSize)
	}
	return k
}

// Check returns the active session cred stands for. Errors are *problem.Problem:
// 401 for no valid session, 403 when Ory wants a step up (AAL2), 429 when Ory rate
// limits, 503 when Ory is unreachable, slow or failing.
func (k *Checker) Check(ctx context.Context, cred Credential) (*client.Session, error) {
	if v := k.opts.JWT; v != nil && cred.Token != "" && v.Accepts(cred.Token) {
		k.opts.Metrics.CacheLookup("jwt")
		return k.verifyJWT(ctx, v, cred)
	}
	key := keyOf(cred)
	if k.cache != nil {
		if e, ok := k.cache.get(key, k.now()); ok {
			k.opts.Metrics.CacheLookup("hit")
			return e.session, e.err
		}
		k.opts.Metrics.CacheLookup("miss")
	}
	// Concurrent checks of one credential share one Ory call. The call is detached
	// from the first caller's context, so that caller leaving does not fail the
	// others; its own timeout still bounds it.
	miss := key // only the miss path's copy escapes into the closure
	ch := k.group.DoChan(string(miss[:]), func() (any, error) {
		return k.fetch(ctx, cred, miss)
	})
	select {
	case r := <-ch:
		s, _ := r.Val.(*client.Session)
		return s, r.Err
	case <-ctx.Done():
		return nil, problem.Unavailable(ctx.Err())
	}
}

// verifyJWT verifies a session JWT locally. With the cache on, a verified token is
// reused until its exp or CacheTTL, whichever comes first: the signature check
// (ECDSA P-256, ~80µs) would otherwise cost more than the rest of the request. The
// key is the hash of the whole signed token, so only the very bytes that verified
// can hit; refusals are not cached (a forged token costs a verification each time,
// as without the cache). A key removed from the key set stops admitting tokens
// already seen within CacheTTL, as with any cached session.
func (k *Checker) verifyJWT(ctx context.Context, v TokenVerifier, cred Credential) (*client.Session, error) {
	if k.cache == nil {
		return v.Verify(ctx, cred.Token)
	}
	key := keyOf(cred)
	now := k.now()
	if e, ok := k.cache.get(key, now); ok && e.err == nil {
		return e.session, nil
	}
	s, err := v.Verify(ctx, cred.Token)
	if err != nil {
		return nil, err
	}
	k.keep(key, s, now)
	return s, nil
}

// keep caches a valid session until CacheTTL has passed or the session expires,
// whichever comes first.
func (k *Checker) keep(key cacheKey, s *client.Session, now time.Time) {
	exp := now.Add(k.opts.CacheTTL)
	if s.ExpiresAt != nil && s.ExpiresAt.Before(exp) {
		exp = *s.ExpiresAt
	}
	k.cache.add(key, entry{session: s, expires: exp})
}

// fetch asks Ory and caches the answer when it is a session or a refusal.
func (k *Checker) fetch(ctx context.Context, cred Credential, key cacheKey) (*client.Session, error) {
	gen := k.revocations.Load()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.opts.Timeout)
	defer cancel()

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

	if k.cache == nil || k.revocations.Load() != gen {
		return s, err
	}
	now := k.now()
	switch {
	case err == nil:
		k.keep(key, s, now)
	case isStatus(err, http.StatusUnauthorized) && k.opts.DenyTTL > 0:
		k.cache.add(key, entry{err: err, expires: now.Add(k.opts.DenyTTL)})
	}
	// Everything else (403, 429, 503) is asked again next time: an outage is never cached.
	return s, err
}

// verdict turns Ory's answer into a usable session or a problem. A 200 is not
// enough: the session must be active, unexpired and belong to an identity.
func (k *Checker) verdict(s *client.Session, resp *http.Response, err error) (*client.Session, error) {
	if err != nil {
		return nil, ory.Problem(resp, err)
	}
	switch {
	case s == nil || s.Id == "":
		return nil, problem.Unavailable(errors.New("whoami answered 200 without a session"))
	case s.Active == nil || !*s.Active:
		return nil, problem.Unauthorized("The session is no longer active. Sign in again.")
	case s.ExpiresAt != nil && !k.now().Before(*s.ExpiresAt):
		return nil, problem.Unauthorized("The session has expired. Sign in again.")
	case s.Identity == nil || s.Identity.Id == "":
		// Ory strips the identity for restricted origins; without it nothing can be authorized.
		return nil, problem.Unavailable(errors.New("whoami answered a session without an identity"))
	}
	return s, nil
}

// ForgetSession drops cached answers for the session with this id, so its
// revocation takes effect on the next request.
func (k *Checker) ForgetSession(id string) {
	k.revocations.Add(1)
	if k.cache != nil {
		k.cache.evict(func(s *client.Session) bool { return s.Id == id })
	}
}

// ForgetIdentitySessions drops cached answers for every session of identity
// except the session with id keep.
func (k *Checker) ForgetIdentitySessions(identity, keep string) {
	k.revocations.Add(1)
	if k.cache != nil {
		k.cache.evict(func(s *client.Session) bool { return s.Identity.Id == identity && s.Id != keep })
	}
}

// outcome names a check's result for metrics.
func outcome(err error) string {
	var p *problem.Problem
	if err == nil {
		return "valid"
	} else if errors.As(err, &p) {
		switch p.Status {
		case http.StatusUnauthorized:
			return "unauthorized"
		case http.StatusForbidden:
			return "forbidden"
		case http.StatusTooManyRequests:
			return "rate_limited"
		}
	}
	return "unavailable"
}

func isStatus(err error, status int) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == status
}
