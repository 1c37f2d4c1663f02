package metrics

import "github.com/prometheus/client_golang/prometheus"

// shared are the instruments of the Redis second level (REDIS_URL). Their label
// values are fixed lists: a value from elsewhere is counted as "other".
type shared struct {
	lookups     *prometheus.CounterVec
	revocations *prometheus.CounterVec
}

var (
	sharedResults     = []string{"hit", "miss", "coalesced", "fallback", "rejected"}
	revocationEvents  = []string{"published", "publish_failed", "received", "resubscribed"}
	sharedLookupsHelp = "Shared (Redis) session cache lookups after a local miss, by result: hit, miss, " +
		"coalesced (another replica's Ory call answered), fallback (Redis unreachable or slow: " +
		"asked Ory), rejected (an entry that failed its integrity check: asked Ory)."
)

func newShared(reg *prometheus.Registry) shared {
	s := shared{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "session_shared_cache_lookups_total",
			Help: sharedLookupsHelp,
		}, []string{"result"}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "session_revocations_shared_total",
			Help: "Revocations shared between replicas through Redis, by event: published, publish_failed, received, resubscribed (the local cache was dropped after a lost subscription).",
		}, []string{"event"}),
	}
	reg.MustRegister(s.lookups, s.revocations)
	return s
}

// SharedLookup records one lookup in the shared cache.
func (m *Metrics) SharedLookup(result string) {
	if m != nil {
		m.shared.lookups.WithLabelValues(bounded(result, sharedResults)).Inc()
	}
}

// SharedRevocation records one revocation event between replicas.
func (m *Metrics) SharedRevocation(event string) {
	if m != nil {
		m.shared.revocations.WithLabelValues(bounded(event, revocationEvents)).Inc()
	}
}

func bounded(v string, allowed []string) string {
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	return "other"
}
