// Package telemetry is the service's OpenTelemetry tracing: off unless the standard
// OTEL_* variables ask for it (see FromEnv), then a server span per request
// (otelgin) and a client span per Ory call (otelhttp) carrying the W3C trace
// context to Ory, exported over OTLP/HTTP. Nothing here is global: the provider is
// handed to the instrumentation explicitly, and a nil *Tracing is tracing off,
// whose methods add nothing to the request path.
package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// MaxAttributeLength is the most bytes a span attribute keeps when
// OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (or OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT)
// does not say: the path, Host and User-Agent of a request are the caller's, up
// to the server's 64 KiB of headers, and unbounded they would fill the span queue
// and make export batches a collector refuses.
const MaxAttributeLength = 1024

// Tracing records spans through one provider. A nil *Tracing is tracing off.
type Tracing struct {
	provider *sdktrace.TracerProvider
	// Only the W3C trace context is propagated: baggage from callers is theirs,
	// not something to forward to Ory.
	propagator propagation.TextMapPropagator
	// ignoreCaller: the server span does not continue a caller's traceparent.
	ignoreCaller bool
}

// Start returns the tracing cfg asks for: nil when it is off. Spans are batched
// and posted to cfg.Endpoint; the exporter reads its other settings (headers,
// timeout, compression, TLS) and the SDK its sampler and batching from the
// standard OTEL_* variables of the process environment.
func Start(ctx context.Context, cfg Config) (*Tracing, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(cfg.ServiceName)))
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	// NewSpanLimits reads the OTEL_*_LIMIT variables; only the length, unlimited
	// by default, gets a bound of ours when neither variable sets one.
	limits := sdktrace.NewSpanLimits()
	if os.Getenv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") == "" && os.Getenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT") == "" {
		limits.AttributeValueLengthLimit = MaxAttributeLength
	}
	t := New(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithRawSpanLimits(limits)))
	t.ignoreCaller = cfg.IgnoreCallerTrace
	return t, nil
}

// New returns tracing through provider, which Shutdown shuts down. Tests pass one
// that records into memory.
func New(provider *sdktrace.TracerProvider) *Tracing {
	return &Tracing{provider: provider, propagator: propagation.TraceContext{}}
}

// Shutdown flushes the spans not yet exported and stops the exporter, within
// ctx's deadline. It is a no-op when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.provider.Shutdown(ctx)
}

// Server returns the middleware that makes a server span of each request, named
// for its route pattern ("GET /api/me/sessions/:id"), or nil when tracing is off.
// The span carries the path but never the query, and no header: credentials
// stay out of traces. Probes (/healthz, /readyz, /metrics) are not traced: they
// would be most of the traces and say nothing.
func (t *Tracing) Server() gin.HandlerFunc {
	if t == nil {
		return nil
	}
	var incoming propagation.TextMapPropagator = callerContext{t.propagator}
	if t.ignoreCaller {
		incoming = propagation.NewCompositeTextMapPropagator() // extracts nothing
	}
	return otelgin.Middleware("",
		otelgin.WithTracerProvider(t.provider),
		otelgin.WithPropagators(incoming),
		otelgin.WithMeterProvider(noop.NewMeterProvider()),
		otelgin.WithGinFilter(func(c *gin.Context) bool {
			switch c.FullPath() {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
	)
}

// Client wraps next, the transport of the Ory client for api ("frontend" or
// "admin"), so that each call is a client span of the request that made it,
// named "GET /admin/identities/{id}", and Ory receives the traceparent header.
// Calls made outside a traced request (readiness probes) are not traced. next
// adds the API key after the span has read the request, so no span can hold it.
// Off, next is returned as it is.
func (t *Tracing) Client(api string, next http.RoundTripper) http.RoundTripper {
	if t == nil {
		return next
	}
	return otelhttp.NewTransport(next,
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return trace.SpanFromContext(r.Context()).SpanContext().IsValid()
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return r.Method + " " + Template(r.URL.Path)
		}),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("ory.api", api))),
	)
}

// Template replaces the ids in an Ory API path with {id}, so that span names
// stay few: "/admin/identities/{id}/sessions".
func Template(path string) string {
	if !strings.ContainsRune(path, '-') {
		return path
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if len(p) == 36 && uuid.Validate(p) == nil { // the canonical form Ory uses
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
