package auth

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	client "github.com/ory/client-go"
	"github.com/redis/go-redis/v9"

	"github.com/example/ory-gin-starter/problem"
)

// Revocations between replicas. A revocation through any replica is published on
// a Redis channel; every other replica evicts the session (and, in JWT mode,
// records it) as if it had been revoked there. Published in the same script: the
// revocation count goes up, and the session (or the identity's sign-out) records
// the count, so that a shared entry written from an Ory answer begun before the
// revocation is refused by every replica, whichever it reads first.
//
// Pub/sub delivers to whoever is subscribed at the time. A replica that lost its
// subscription drops its local cache when it subscribes again (it may have missed
// revocations), and a revocation that could not be published is published again
// once Redis answers.

// maxPending bounds the revocations kept for publishing after an outage.
const maxPending = 1000

// revokeScript bumps the revocation count (starting a new or flushed Redis at the
// current time in microseconds, so the count never goes back), records it for the
// session (KEYS[2] = ...:rs:<session>) or for the identity's sign-out
// (...:ri:<identity>: "all|others|keep", the counts up to which every session, or
// every session but keep, was revoked), and publishes the message.
var revokeScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], string.format('%d', t[1] * 1000000 + t[2]))
end
local g = redis.call('INCR', KEYS[1])
if ARGV[1] == 's' then
  redis.call('SET', KEYS[2], string.format('%d', g), 'PX', ARGV[3])
else
  local all, others, keep = 0, 0, ''
  local v = redis.call('GET', KEYS[2])
  if v then
    local a, o, k = string.match(v, '^(%d+)|(%d+)|(.*)$')
    if a then all, others, keep = tonumber(a), tonumber(o), k end
  end
  if others > 0 and keep ~= ARGV[2] then all = math.max(all, others) end
  redis.call('SET', KEYS[2], string.format('%d|%d|%s', all, g, ARGV[2]), 'PX', ARGV[3])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return g
`)

func sessionMarker(id string) string  { return keyPrefix + "rs:" + id }
func identityMarker(id string) string { return keyPrefix + "ri:" + id }

// sharedRevocation is a published revocation: a session, or every session of an
// identity but Keep.
type sharedRevocation struct {
	From     string `json:"f"`
	Session  string `json:"s,omitempty"`
	Identity string `json:"i,omitempty"`
	Keep     string `json:"k,omitempty"`
}

// revokedSince reports whether a revocation recorded in Redis for the session, or
// its identity, came after the count gen was read.
func (s *Shared) revokedSince(ctx context.Context, gen int64, session, identity string) (bool, error) {
	vals, err := s.rdb.MGet(ctx, sessionMarker(session), identityMarker(identity)).Result()
	if err != nil {
		return false, err
	}
	if v, ok := vals[0].(string); ok {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n > gen {
			return true, nil
		}
	}
	if v, ok := vals[1].(string); ok {
		f := strings.SplitN(v, "|", 3)
		if len(f) != 3 {
			return true, nil
		}
		all, err1 := strconv.ParseInt(f[0], 10, 64)
		others, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || all > gen || others > gen && session != f[2] {
			return true, nil
		}
	}
	return false, nil
}

// publish records and publishes a revocation made here. It waits longer than a
// lookup may: a revocation is rare, and the sooner the others see it the better.
// On failure it is kept for the next subscription.
func (s *Shared) publish(r sharedRevocation, markerTTL time.Duration) {
	if s == nil {
		return
	}
	r.From = s.self
	ctx, cancel := context.WithTimeout(context.Background(), max(10*s.timeout, 250*time.Millisecond))
	defer cancel()
	if err := s.send(ctx, r, markerTTL); err != nil {
		s.metrics.SharedRevocation("publish_failed")
		s.failed("publish revocation", err)
		s.mu.Lock()
		if len(s.pending) < maxPending {
			s.pending = append(s.pending, r)
		}
		s.mu.Unlock()
		return
	}
	s.metrics.SharedRevocation("published")
}

func (s *Shared) send(ctx context.Context, r sharedRevocation, markerTTL time.Duration) error {
	msg, err := json.Marshal(r)
	if err != nil {
		return err
	}
	kind, marker := "s", sessionMarker(r.Session)
	if r.Session == "" {
		kind, marker = "i", identityMarker(r.Identity)
	}
	sealed := s.seal(revocationChannel, msg)
	return revokeScript.Run(ctx, s.rdb, []string{genKey, marker},
		kind, r.Keep, markerTTL.Milliseconds(), revocationChannel, sealed).Err()
}

// Listen applies the revocations other replicas publish to k, until ctx is done.
// The returned channel is closed once the first subscription is in place.
func (s *Shared) Listen(ctx context.Context, k *Checker) <-chan struct{} {
	ready := make(chan struct{})
	ps := s.sub.Subscribe(ctx, revocationChannel)
	ch := ps.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(time.Second))
	go func() {
		defer ps.Close()
		retry := time.NewTicker(retryAfter)
		defer retry.Stop()
		first := true
		for {
			select {
			case <-ctx.Done():
				return
			case <-retry.C:
				s.republish(k)
			case m, ok := <-ch:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *redis.Subscription:
					if m.Kind != "subscribe" {
						continue
					}
					// Revocations published while this replica was not
					// subscribed never reach it: what it cached may be revoked.
					k.purge()
					s.subscribed.Add(1)
					if first {
						first = false
						close(ready)
					} else {
						s.metrics.SharedRevocation("resubscribed")
						s.log.Info("redis: subscribed again to revocations; local session cache dropped")
					}
					s.republish(k)
				case *redis.Message:
					s.apply(k, m.Payload)
				}
			}
		}
	}()
	return ready
}

// apply applies a revocation another replica published.
func (s *Shared) apply(k *Checker, payload string) {
	plain, err := s.open(revocationChannel, []byte(payload))
	var r sharedRevocation
	if err == nil {
		err = json.Unmarshal(plain, &r)
	}
	if err == nil && r.Session == "" && r.Identity == "" {
		err = errors.New("names no session and no identity")
	}
	if err != nil {
		s.warn("redis: a revocation message failed its integrity check; ignored", "err", err)
		return
	}
	if r.From == s.self {
		return
	}
	s.metrics.SharedRevocation("received")
	if r.Session != "" {
		// Every single-session revocation is of a session Ory has ended for
		// good (revoked, or found inactive): its cached credentials are refused
		// here at once, without asking Ory again.
		id := r.Session
		k.forget(func(rv *revocations, now time.Time) { rv.session(id, now) },
			func(s *client.Session) bool { return s.Id == id },
			problem.Unauthorized("The session has been revoked. Sign in again."))
	} else {
		k.forgetIdentitySessions(r.Identity, r.Keep)
	}
}

// republish sends the revocations that could not be published before.
func (s *Shared) republish(k *Checker) {
	if !s.usable() {
		return
	}
	s.mu.Lock()
	todo := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, r := range todo {
		s.publish(r, k.markerTTL())
	}
}
