package auth

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	client "github.com/ory/client-go"
)

// A session JWT verifies locally until it expires, so a revocation through this
// service is only honoured in JWT mode if the service remembers it for as long as
// a JWT minted before it can still verify: at most the longest accepted lifetime
// (Options.MaxJWTLifetime), plus room for the verifier's clock skew and for clocks
// that differ between Ory and this service.
const (
	revocationSlack = 5 * time.Minute
	// iatSlack widens "issued at or before T" for an Ory clock slightly ahead of
	// this service's; a session signed in this close after a sign-out everywhere
	// has to fetch its JWT once more.
	iatSlack = 5 * time.Second
	// revocationsSize bounds each of the two record sets.
	revocationsSize = 100_000
)

// ForgetSession drops cached answers for the session with this id, so its
// revocation takes effect on the next request; in JWT mode its JWTs are refused
// from now on.
func (k *Checker) ForgetSession(id string) {
	k.forgetSession(id)
	k.opts.Shared.publish(sharedRevocation{Session: id}, k.markerTTL())
}

func (k *Checker) forgetSession(id string) {
	k.forget(func(r *revocations, now time.Time) { r.session(id, now) },
		func(s *client.Session) bool { return s.Id == id }, nil)
}

// ForgetIdentitySessions drops cached answers for every session of identity
// except the session with id keep; in JWT mode the JWTs of those sessions issued
// until now are refused from now on.
func (k *Checker) ForgetIdentitySessions(identity, keep string) {
	k.forgetIdentitySessions(identity, keep)
	k.opts.Shared.publish(sharedRevocation{Identity: identity, Keep: keep}, k.markerTTL())
}

func (k *Checker) forgetIdentitySessions(identity, keep string) {
	k.forget(func(r *revocations, now time.Time) { r.identity(identity, keep, now) },
		func(s *client.Session) bool { return s.Identity.Id == identity && s.Id != keep }, nil)
}

// forget counts a revocation, records it (JWT mode) and evicts what it revokes
// (or, with refusal set, caches refusal for it), all under mu, so no insert can
// slip in between.
func (k *Checker) forget(record func(*revocations, time.Time), match func(*client.Session) bool, refusal error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen.Add(1)
	if k.revoked != nil {
		record(k.revoked, k.now())
	}
	switch {
	case k.cache != nil && refusal != nil:
		k.cache.refuse(match, refusal)
	case k.cache != nil:
		k.cache.evict(match)
	}
}

// purge drops every cached session, for a replica that may have missed
// revocations published by others.
func (k *Checker) purge() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen.Add(1)
	if k.cache != nil {
		k.cache.sessions.Purge()
	}
}

// markerTTL is how long Redis records a revocation: as long as a shared entry
// from an Ory answer begun before it can live.
func (k *Checker) markerTTL() time.Duration {
	return k.opts.CacheTTL + k.opts.Timeout + time.Minute
}

// revocations remembers sessions revoked through this service, for JWT mode. It is
// bounded, and overflowing it never lets a revoked JWT back in: a record that no
// longer fits, while still needed, becomes a refusal of every JWT issued up to its
// time (everyone). That costs holders of older JWTs a fresh one from Ory, nothing
// more. It is not safe for concurrent use: the Checker's lock guards it.
type revocations struct {
	sessions   *simplelru.LRU[string, time.Time]       // session id -> revoked at
	identities *simplelru.LRU[string, identitySignOut] // identity id -> its sign-outs
	everyone   time.Time                               // JWTs issued up to this are refused
	size       int
	retention  time.Duration
}

// identitySignOut refuses the identity's JWTs issued up to all, and those of its
// sessions other than keep issued up to others.
type identitySignOut struct {
	all, others time.Time
	keep        string
}

func newRevocations(size int, maxLifetime time.Duration) *revocations {
	s, err := simplelru.NewLRU[string, time.Time](size, nil)
	if err != nil {
		panic(err) // only for size <= 0
	}
	i, _ := simplelru.NewLRU[string, identitySignOut](size, nil)
	return &revocations{sessions: s, identities: i, size: size, retention: maxLifetime + revocationSlack}
}

// session records that session id was revoked at now.
func (r *revocations) session(id string, now time.Time) {
	if !r.sessions.Contains(id) && r.sessions.Len() >= r.size {
		_, at, _ := r.sessions.RemoveOldest()
		r.widen(at, now)
	}
	r.sessions.Add(id, now)
}

// identity records that every session of identity but keep was revoked at now.
func (r *revocations) identity(identity, keep string, now time.Time) {
	rec, ok := r.identities.Get(identity)
	if !ok && r.identities.Len() >= r.size {
		_, old, _ := r.identities.RemoveOldest()
		r.widen(later(old.all, old.others), now)
	}
	if ok && rec.keep != keep && !rec.others.IsZero() {
		// Two sign-outs that kept different sessions: the older one now applies
		// to every session, the kept one included. Coarser, never weaker.
		rec.all = later(rec.all, rec.others)
	}
	rec.others, rec.keep = now, keep
	r.identities.Add(identity, rec)
}

// widen refuses every JWT issued up to at, for a record dropped while a JWT it
// refuses could still verify.
func (r *revocations) widen(at, now time.Time) {
	if now.Sub(at) < r.retention {
		r.everyone = later(r.everyone, at)
	}
}

// refuses reports whether the verified JWT session s was revoked through this
// service. s.IssuedAt is the JWT's iat, which the Checker requires.
func (r *revocations) refuses(s *client.Session) bool {
	iat := *s.IssuedAt
	upTo := func(t time.Time) bool { return !t.IsZero() && !iat.After(t.Add(iatSlack)) }
	if upTo(r.everyone) || r.sessions.Contains(s.Id) {
		return true
	}
	if s.Identity == nil {
		return true // nothing to match identity-wide revocations against
	}
	rec, ok := r.identities.Peek(s.Identity.Id)
	return ok && (upTo(rec.all) || s.Id != rec.keep && upTo(rec.others))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
