package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/example/ory-gin-starter/metrics"
)

// The shared cache (REDIS_URL) is a second level behind each replica's own cache,
// and the channel that carries revocations to every replica. It is never needed
// for an answer and never trusted for one:
//   - every Redis call has a short bound, and after a failure Redis is left alone
//     for a while (retryAfter): a request then goes on as without Redis, to the
//     replica's own cache and Ory;
//   - what the service writes is sealed (AES-256-GCM with a key from the
//     environment, bound to the Redis key it is stored under), so an entry written,
//     changed or moved by anyone else fails to open and counts as a miss: a Redis
//     reachable by others can slow the service down, never let a session in;
//   - a revocation bumps a revocation count in Redis and records, per session and
//     per identity, the count it was made at; an entry written from an Ory answer
//     begun before that count is not served (shared_revoke.go).

// MinSharedKeyLen is the shortest key SharedOptions accepts: 32 bytes, the
// strength of the AES-256 key derived from it.
const MinSharedKeyLen = 32

// Bounds of the shared cache.
const (
	defaultSharedTimeout = 10 * time.Millisecond
	// retryAfter is how long Redis is skipped after tripAfter failed calls in a
	// row: one slow call falls back alone, a dead or hung Redis costs each
	// request nothing.
	retryAfter = time.Second
	tripAfter  = 3
	// pollFirst and pollMax space the checks of a replica waiting for another
	// replica's Ory call to fill the shared entry.
	pollFirst, pollMax        = 2 * time.Millisecond, 20 * time.Millisecond
	keyPrefix                 = "ory-gin:"
	genKey                    = keyPrefix + "gen"
	revocationChannel         = keyPrefix + "revocations"
	dialTimeout, minIdleConns = 5 * time.Second, 4
	// warnEvery limits the warnings about Redis to one per this interval.
	warnEvery = 10 * time.Second
)

// SharedOptions configure the shared cache.
type SharedOptions struct {
	// URL is the Redis URL: redis://[user:password@]host:port/db, or rediss:// for TLS.
	URL string
	// Key seals every entry and message; at least MinSharedKeyLen bytes, the same
	// on every replica.
	Key []byte
	// Timeout bounds each Redis call on the way of a request. Default 10ms.
	Timeout time.Duration
	Logger  *slog.Logger
	Metrics *metrics.Metrics
}

// Shared is the Redis second level of the session cache and the revocation
// channel between replicas. Pass it in Options.Shared and run Listen.
type Shared struct {
	rdb, sub *redis.Client // sub: the subscription, outside the request path's tight bounds
	aead     cipher.AEAD
	timeout  time.Duration
	log      *slog.Logger
	metrics  *metrics.Metrics
	self     string // this replica, to skip its own messages

	downUntil  atomic.Int64 // unix nanoseconds; Redis is skipped until then
	failures   atomic.Int32 // failed calls in a row
	lastWarn   atomic.Int64
	subscribed atomic.Int64 // subscriptions made, for tests to wait on

	mu      sync.Mutex
	pending []sharedRevocation // revocations that could not be published yet

	beforeClaim func() // tests: runs between a missed lookup and the claim
}

// NewShared connects lazily: Redis need not be up when the service starts.
func NewShared(o SharedOptions) (*Shared, error) {
	if len(o.Key) < MinSharedKeyLen {
		return nil, fmt.Errorf("shared cache key: %d bytes, want at least %d", len(o.Key), MinSharedKeyLen)
	}
	ropts, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultSharedTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// A derived key: the one in the environment may be any string of enough length.
	mac := hmac.New(sha256.New, o.Key)
	mac.Write([]byte("ory-gin-starter shared session cache"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	subOpts := *ropts
	ropts.ReadTimeout, ropts.WriteTimeout, ropts.PoolTimeout = o.Timeout, o.Timeout, o.Timeout
	// Connections are made ahead, off the requests' way (a TLS handshake takes
	// longer than a request may wait): a request finding none idle dials within
	// its own bound, and falls back if that is too short.
	ropts.DialTimeout = max(o.Timeout, dialTimeout)
	ropts.MinIdleConns = max(ropts.MinIdleConns, minIdleConns)
	ropts.ContextTimeoutEnabled = true
	ropts.MaxRetries = -1 // a failed call falls back to Ory; retrying would only add latency
	ropts.DisableIdentity = true
	subOpts.DisableIdentity = true
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Shared{
		rdb: redis.NewClient(ropts), sub: redis.NewClient(&subOpts),
		aead: aead, timeout: o.Timeout, log: o.Logger, metrics: o.Metrics, self: hex.EncodeToString(id[:]),
	}, nil
}

// Close closes the connections to Redis.
func (s *Shared) Close() error { return errors.Join(s.rdb.Close(), s.sub.Close()) }

// usable reports whether Redis is worth asking now.
func (s *Shared) usable() bool { return time.Now().UnixNano() >= s.downUntil.Load() }

// failed notes a failed Redis call: after tripAfter in a row Redis is skipped for
// retryAfter. Failures are logged at most once per warnEvery.
func (s *Shared) failed(what string, err error) {
	if s.failures.Add(1) >= tripAfter {
		s.failures.Store(0)
		s.downUntil.Store(time.Now().Add(retryAfter).UnixNano())
	}
	s.warn("redis unavailable: using the local cache and Ory", "op", what, "err", err)
}

// answered notes a Redis call that worked.
func (s *Shared) answered() {
	if s.failures.Load() != 0 {
		s.failures.Store(0)
	}
}

func (s *Shared) warn(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := s.lastWarn.Load()
	if now-last >= int64(warnEvery) && s.lastWarn.CompareAndSwap(last, now) {
		s.log.Warn(msg, args...)
	}
}

// bounded is ctx with the per-call bound.
func (s *Shared) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// seal encrypts and authenticates plain for the Redis key or channel ad.
func (s *Shared) seal(ad string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(ad))
}

// open returns what seal sealed for ad, or an error for anything else.
func (s *Shared) open(ad string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], []byte(ad))
}

func entryKey(k cacheKey) string { return keyPrefix + "e:" + hex.EncodeToString(k[:]) }
func claimKey(k cacheKey) string { return keyPrefix + "c:" + hex.EncodeToString(k[:]) }
