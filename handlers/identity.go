package handlers

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	client "github.com/ory/client-go"
	"golang.org/x/sync/singleflight"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// DefaultIdentityTTL is how long an identity read through the Admin API for a
// caller is reused. Ory Network's Admin API buckets are small and shared by the
// whole project, so a page that asks for /api/me a few times, or many users
// arriving at once, must not spend one call each; a change made elsewhere (the
// user's settings flow, the Ory console) shows within this time.
const DefaultIdentityTTL = 10 * time.Second

const identityCacheSize = 10_000

// IdentityCache reads identities through the Admin API (IdentityAPI.GetIdentity)
// for callers: each identity at most once per TTL, and concurrent reads of one
// identity share one call. Failures are not kept. A handler that changes an
// identity through this service calls Forget, so the change shows at once. It is
// safe for concurrent use.
type IdentityCache struct {
	ids     client.IdentityAPI
	ttl     time.Duration
	timeout time.Duration
	cache   *lru.Cache[string, cachedIdentity]
	group   singleflight.Group

	// mu makes Forget (count, evict) and an insert (check the count, add)
	// atomic, so a read that started before a write is never cached after it.
	mu  sync.Mutex
	gen atomic.Uint64
}

type cachedIdentity struct {
	identity     Identity
	secondFactor bool
	expires      time.Time
}

// NewIdentityCache returns an IdentityCache over ids that keeps identities for ttl
// (0: DefaultIdentityTTL) and bounds one Admin API call by timeout.
func NewIdentityCache(ids client.IdentityAPI, ttl, timeout time.Duration) *IdentityCache {
	if ttl <= 0 {
		ttl = DefaultIdentityTTL
	}
	c, _ := lru.New[string, cachedIdentity](identityCacheSize) // only fails for size <= 0
	return &IdentityCache{ids: ids, ttl: ttl, timeout: timeout, cache: c}
}

// Get returns the identity with id. Errors are *problem.Problem.
func (r *IdentityCache) Get(ctx context.Context, id string) (Identity, error) {
	e, err := r.get(ctx, id)
	return e.identity, err
}

// HasSecondFactor reports whether the identity with id has a second factor set
// up (auth.HasSecondFactor), from the same read as Get: the step-up routes and
// /api/me share one Admin API call per identity. Errors are *problem.Problem.
func (r *IdentityCache) HasSecondFactor(ctx context.Context, id string) (bool, error) {
	e, err := r.get(ctx, id)
	var p *problem.Problem
	if errors.As(err, &p) && p.Status == http.StatusNotFound {
		return false, problem.Unauthorized("The session's identity no longer exists. Sign in again.")
	}
	return e.secondFactor, err
}

func (r *IdentityCache) get(ctx context.Context, id string) (cachedIdentity, error) {
	if e, ok := r.cache.Get(id); ok && time.Now().Before(e.expires) {
		return e, nil
	}
	gen := r.gen.Load()
	// The shared call is detached from the first caller's context, so that caller
	// leaving does not fail the others; timeout still bounds it.
	ch := r.group.DoChan(id, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		i, resp, err := r.ids.GetIdentity(ctx, id).IncludeCredential(auth.SecondFactorCredentials).Execute()
		if err != nil {
			return nil, ory.AdminProblem(resp, err)
		}
		v := cachedIdentity{identity: identityOf(i), secondFactor: auth.HasSecondFactor(i.GetCredentials()), expires: time.Now().Add(r.ttl)}
		r.mu.Lock()
		if r.gen.Load() == gen {
			r.cache.Add(id, v)
		}
		r.mu.Unlock()
		return v, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return cachedIdentity{}, res.Err
		}
		return res.Val.(cachedIdentity), nil
	case <-ctx.Done():
		return cachedIdentity{}, problem.Unavailable(ctx.Err())
	}
}

// Forget drops what is cached or being read for the identity with id.
func (r *IdentityCache) Forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen.Add(1)
	r.cache.Remove(id)
	r.group.Forget(id)
}
