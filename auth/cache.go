package auth

import (
	"crypto/sha256"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	client "github.com/ory/client-go"
)

// cacheKey is the SHA-256 of a credential: the cache never holds a raw token or cookie.
type cacheKey [sha256.Size]byte

func keyOf(c Credential) cacheKey {
	kind, v := byte('t'), c.Token
	if v == "" {
		kind, v = 'c', c.Cookie
	}
	// A stack buffer keeps the hot path free of allocations for credentials of
	// usual size (tokens, JWTs, a session cookie); longer ones spill to the heap.
	var buf [512]byte
	b := append(append(buf[:0], kind, ':'), v...)
	return sha256.Sum256(b)
}

// entry is a cached answer: a valid session, or a refusal (err set).
type entry struct {
	session *client.Session
	err     error
	expires time.Time
}

// sessionCache holds check results with per-entry expiry in two bounded LRUs.
// Refusals are cheap for anyone to create (any made-up token is one), so they get
// their own, smaller bound: a flood of bogus credentials can push out other
// refusals, never a valid session.
type sessionCache struct {
	sessions *lru.Cache[cacheKey, entry]
	refusals *lru.Cache[cacheKey, entry]
}

// newSessionCache bounds sessions to size entries and refusals to a tenth of it.
func newSessionCache(size int) *sessionCache {
	return &sessionCache{sessions: newLRU(size), refusals: newLRU(max(size/10, 1))}
}

func newLRU(size int) *lru.Cache[cacheKey, entry] {
	c, err := lru.New[cacheKey, entry](size)
	if err != nil {
		panic(err) // only for size <= 0, which the callers rule out
	}
	return c
}

// get returns the live entry for k.
func (c *sessionCache) get(k cacheKey, now time.Time) (entry, bool) {
	for _, l := range [...]*lru.Cache[cacheKey, entry]{c.sessions, c.refusals} {
		e, ok := l.Get(k)
		if !ok {
			continue
		}
		if now.Before(e.expires) {
			return e, true
		}
		l.Remove(k)
	}
	return entry{}, false
}

// add stores e, replacing any answer of the other kind for k.
func (c *sessionCache) add(k cacheKey, e entry) {
	if e.err != nil {
		c.sessions.Remove(k)
		c.refusals.Add(k, e)
		return
	}
	c.refusals.Remove(k)
	c.sessions.Add(k, e)
}

// evict removes every cached session for which match is true. It walks the whole
// cache, which is fine for what calls it: revocations, not requests.
func (c *sessionCache) evict(match func(*client.Session) bool) int {
	n := 0
	for _, k := range c.sessions.Keys() {
		if e, ok := c.sessions.Peek(k); ok && match(e.session) {
			c.sessions.Remove(k)
			n++
		}
	}
	return n
}

// refuse turns every cached session for which match is true into a refusal with
// err, until the session's entry would have expired: for sessions known to be
// revoked for good, whose next check needs no Ory call.
func (c *sessionCache) refuse(match func(*client.Session) bool, err error) {
	for _, k := range c.sessions.Keys() {
		if e, ok := c.sessions.Peek(k); ok && match(e.session) {
			c.sessions.Remove(k)
			c.refusals.Add(k, entry{err: err, expires: e.expires})
		}
	}
}
