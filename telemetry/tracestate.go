package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// maxTraceState is the longest caller's tracestate kept: what W3C Trace Context
// asks every participant to propagate.
const maxTraceState = 512

// callerContext extracts a caller's W3C trace context, dropping a tracestate
// longer than maxTraceState: it would ride in every span of the request and in
// every call to Ory, kilobytes of the caller's choosing each time.
type callerContext struct{ propagation.TextMapPropagator }

func (p callerContext) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	ctx = p.TextMapPropagator.Extract(ctx, carrier)
	sc := trace.SpanContextFromContext(ctx)
	if len(sc.TraceState().String()) > maxTraceState {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc.WithTraceState(trace.TraceState{}))
	}
	return ctx
}
