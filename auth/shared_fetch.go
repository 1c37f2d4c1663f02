package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	client "github.com/ory/client-go"
	"github.com/redis/go-redis/v9"

	"github.com/example/ory-gin-starter/problem"
)

// sharedEntry is a cached answer as stored in Redis, sealed.
type sharedEntry struct {
	// Gen is the revocation count in Redis read before Ory was asked.
	Gen int64 `json:"g"`
	// Expires is when the answer stops being usable, in Unix milliseconds: never
	// later than the local cache would keep it.
	Expires int64           `json:"x"`
	Session *client.Session `json:"s,omitempty"`
	// Refusal is the detail of a 401.
	Refusal string `json:"r,omitempty"`
}

// lookup outcomes.
type sharedState int

const (
	sharedMiss     sharedState = iota
	sharedHit                  // e is the answer
	sharedRejected             // an entry that failed to open, or about a revoked session
	sharedDown                 // Redis is unreachable or slow
)

// fetch answers a local miss through the shared cache: an entry another replica
// stored; else one replica asks Ory (the one that claims the credential first)
// while the others wait for its entry; else, whenever Redis fails or the claim
// holder gives up, Ory directly. ctx bounds it all, Ory call included.
func (s *Shared) fetch(ctx context.Context, k *Checker, cred Credential, key cacheKey, gen uint64) (*client.Session, error) {
	result := "miss"
	defer func() { s.metrics.SharedLookup(result) }()
	e, st := s.lookup(ctx, key, k.now())
	switch st {
	case sharedHit:
		result = "hit"
		k.insert(gen, key, e)
		return e.session, e.err
	case sharedDown:
		result = "fallback"
		return k.askAndKeep(ctx, cred, key, gen)
	case sharedRejected:
		result = "rejected"
	}
	if s.beforeClaim != nil {
		s.beforeClaim()
	}
	claimed, wgen, err := s.claim(ctx, key, k.opts.Timeout)
	if err != nil {
		result = "fallback"
		return k.askAndKeep(ctx, cred, key, gen)
	}
	if claimed {
		// Another replica may have stored its answer, and let go of its claim,
		// since the lookup above: the claim alone does not say nobody has asked.
		if e, st := s.lookup(ctx, key, k.now()); st == sharedHit {
			s.release(ctx, key)
			result = "coalesced"
			k.insert(gen, key, e)
			return e.session, e.err
		}
	} else {
		wctx, cancel := waitBudget(ctx)
		e, st := s.wait(wctx, key, k.now)
		cancel()
		if st == sharedHit {
			result = "coalesced"
			k.insert(gen, key, e)
			return e.session, e.err
		}
		if st == sharedDown {
			result = "fallback"
		}
	}
	sess, err := k.ask(ctx, cred)
	if e, ok := k.cacheable(sess, err); ok {
		k.insert(gen, key, e)
		s.store(ctx, key, e, wgen, claimed)
	} else if claimed {
		s.release(ctx, key)
	}
	return sess, err
}

// lookup reads the entry of key and checks it was neither forged nor revoked.
func (s *Shared) lookup(ctx context.Context, key cacheKey, now time.Time) (entry, sharedState) {
	if !s.usable() {
		return entry{}, sharedDown
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	raw, err := s.rdb.Get(ctx, entryKey(key)).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		s.answered()
		return entry{}, sharedMiss
	case err != nil:
		s.failed("get", err)
		return entry{}, sharedDown
	}
	s.answered()
	return s.check(ctx, key, raw, now)
}

// check opens a stored entry and checks it against the revocations recorded in Redis.
func (s *Shared) check(ctx context.Context, key cacheKey, raw []byte, now time.Time) (entry, sharedState) {
	var se sharedEntry
	plain, err := s.open(entryKey(key), raw)
	if err == nil {
		err = json.Unmarshal(plain, &se)
	}
	if err == nil && se.Session == nil && se.Refusal == "" {
		err = errors.New("neither a session nor a refusal")
	}
	if err != nil {
		// Only someone else writes what does not open: never trusted, asked again.
		s.warn("redis: a shared cache entry failed its integrity check; ignored", "err", err)
		return entry{}, sharedRejected
	}
	exp := time.UnixMilli(se.Expires)
	if !now.Before(exp) {
		return entry{}, sharedMiss
	}
	if se.Session == nil {
		return entry{err: problem.Unauthorized(se.Refusal), expires: exp}, sharedHit
	}
	if se.Session.Identity == nil {
		return entry{}, sharedRejected
	}
	revoked, err := s.revokedSince(ctx, se.Gen, se.Session.Id, se.Session.Identity.Id)
	switch {
	case err != nil:
		s.failed("get revocations", err)
		return entry{}, sharedDown
	case revoked:
		return entry{}, sharedRejected
	}
	return entry{session: se.Session, expires: exp}, sharedHit
}

// claim tries to become the replica that asks Ory about key, and reads the
// revocation count to store with the answer. The claim lapses after the Ory
// timeout, should its holder die.
func (s *Shared) claim(ctx context.Context, key cacheKey, oryTimeout time.Duration) (claimed bool, gen int64, err error) {
	if !s.usable() {
		return false, 0, errors.New("redis skipped")
	}
	ctx, cancel := s.bounded(ctx)
	defer cancel()
	var set *redis.BoolCmd
	var get *redis.StringCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		set = p.SetNX(ctx, claimKey(key), s.self, oryTimeout+s.timeout)
		get = p.Get(ctx, genKey)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		s.failed("claim", err)
		return false, 0, err
	}
	if gen, err = parseGen(get); err != nil {
		return false, 0, err
	}
	return set.Val(), gen, nil
}

// wait polls for the entry the claim holder stores, until the holder stores it,
// gives up (its claim is gone) or ctx ends.
func (s *Shared) wait(ctx context.Context, key cacheKey, now func() time.Time) (entry, sharedState) {
	t := time.NewTimer(pollFirst)
	defer t.Stop()
	for d := pollFirst; ; d = min(2*d, pollMax) {
		select {
		case <-ctx.Done():
			return entry{}, sharedMiss
		case <-t.C:
		}
		t.Reset(d)
		cctx, cancel := s.bounded(ctx)
		var get *redis.StringCmd
		var held *redis.IntCmd
		_, err := s.rdb.Pipelined(cctx, func(p redis.Pipeliner) error {
			get = p.Get(cctx, entryKey(key))
			held = p.Exists(cctx, claimKey(key))
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			cancel()
			s.failed("wait", err)
			return entry{}, sharedDown
		}
		if raw, err := get.Bytes(); err == nil {
			e, st := s.check(cctx, key, raw, now())
			cancel()
			return e, st
		}
		cancel()
		if held.Val() == 0 {
			return entry{}, sharedMiss
		}
	}
}

// store writes e for key, and releases the claim.
func (s *Shared) store(ctx context.Context, key cacheKey, e entry, gen int64, claimed bool) {
	ttl := time.Until(e.expires)
	if ttl <= 0 || !s.usable() {
		return
	}
	se := sharedEntry{Gen: gen, Expires: e.expires.UnixMilli(), Session: e.session}
	if e.err != nil {
		var p *problem.Problem
		if !errors.As(e.err, &p) {
			return
		}
		se.Refusal = p.Detail
	}
	plain, err := json.Marshal(se)
	if err != nil {
		return
	}
	ctx, cancel := s.bounded(context.WithoutCancel(ctx))
	defer cancel()
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, entryKey(key), s.seal(entryKey(key), plain), ttl)
		if claimed {
			p.Del(ctx, claimKey(key))
		}
		return nil
	})
	if err != nil {
		s.failed("store", err)
	}
}

// release gives up the claim without an answer to share (Ory failed), so the
// replicas waiting ask Ory themselves.
func (s *Shared) release(ctx context.Context, key cacheKey) {
	if !s.usable() {
		return
	}
	ctx, cancel := s.bounded(context.WithoutCancel(ctx))
	defer cancel()
	if err := s.rdb.Del(ctx, claimKey(key)).Err(); err != nil {
		s.failed("release", err)
	}
}

// parseGen reads a revocation count; none (a new or flushed Redis) is 0.
func parseGen(c *redis.StringCmd) (int64, error) {
	v, err := c.Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}
