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

// sessionCache is a bounded LRU of session check results with per-entry expiry.
type sessionCache struct {
	lru *lru.Cache[cacheKey, entry]
}

func newSessionCache(size int) *sessionCache {
	c, err := lru.New[cacheKey, entry](size)
	if err != nil {
		panic(err) // only for size <= 0, which the caller rules out
	}
	return &sessionCache{lru: c}
}

// get returns the live entry for k.
func (c *sessionCache) get(k cacheKey, now time.Time) (entry, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return entry{}, false
	}
	if !now.Before(e.expires) {
		c.lru.Remove(k)
		return entry{}, false
	}
	return e, true
}

func (c *sessionCache) add(k cacheKey, e entry) { c.lru.Add(k, e) }

// evict removes every cached session for which match is true. It walks the whole
// cache, which is fine for what calls it: revocations, not requests.
func (c *sessionCache) evict(match func(*client.Session) bool) int {
	n := 0
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && e.session != nil && match(e.session) {
			c.lru.Remove(k)
			n++
		}
	}
	return n
}
