package auth

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// CacheAttribute is the attribute of the request's span that says how its session
// check was answered:
//
//	hit        a session from the cache, no Ory call
//	refused    a refusal (401) from the cache, no Ory call
//	miss       this request asked Ory (its whoami call is a child span)
//	coalesced  this request shared the whoami call of another one in flight
//	jwt        a session JWT verified locally
const CacheAttribute = "auth.session_cache"

// note sets CacheAttribute on the span in ctx, when the Checker is traced and
// the span records.
func (k *Checker) note(ctx context.Context, outcome string) {
	if !k.opts.Traced {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String(CacheAttribute, outcome))
	}
}

func cachedOutcome(e entry) string {
	if e.err != nil {
		return "refused"
	}
	return "hit"
}

func flightOutcome(asked bool) string {
	if asked {
		return "miss"
	}
	return "coalesced"
}
