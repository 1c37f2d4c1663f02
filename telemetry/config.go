package telemetry

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// DefaultServiceName is the service.name traces carry when OTEL_SERVICE_NAME is unset.
const DefaultServiceName = "ory-gin-starter"

// defaultEndpoint is where the OTLP/HTTP exporter sends traces when
// OTEL_TRACES_EXPORTER=otlp names no endpoint: a collector on this host.
const defaultEndpoint = "http://localhost:4318/v1/traces"

// Config is the tracing configuration. The zero value is tracing off.
type Config struct {
	// Endpoint is the OTLP/HTTP URL traces are posted to; empty: tracing is off.
	Endpoint string
	// ServiceName is the service.name resource attribute.
	ServiceName string
	// IgnoreCallerTrace: a caller's traceparent is not continued, each request
	// starts its own trace. Set when OTEL_TRACES_SAMPLER names a sampler that
	// ignores parents: a ratio over trace ids the caller chose would be theirs.
	IgnoreCallerTrace bool
}

// Enabled reports whether traces are recorded and exported.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// String describes the configuration for the start-up log. The endpoint is shown
// without user info or query, where a collector's credential could be.
func (c Config) String() string {
	if !c.Enabled() {
		return "off"
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return "on"
	}
	return fmt.Sprintf("on endpoint=%s://%s%s service=%s", u.Scheme, u.Host, u.EscapedPath(), c.ServiceName)
}

// FromEnv reads the standard OpenTelemetry variables through getenv and returns
// every problem at once, one line each naming the variable. Tracing is on when
// the OTLP exporter is asked for, by OTEL_TRACES_EXPORTER=otlp or by an endpoint
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT), unless
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. Off is the default, so a
// service nobody configured for tracing sends nothing anywhere.
func FromEnv(getenv func(string) string) (Config, error) {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	c := Config{ServiceName: DefaultServiceName}
	if v := strings.TrimSpace(getenv("OTEL_SERVICE_NAME")); v != "" {
		c.ServiceName = v
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_SAMPLER"))) {
	case "always_on", "always_off", "traceidratio":
		c.IgnoreCallerTrace = true
	}

	traces, base := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	on := traces != "" || base != ""
	switch v := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); v {
	case "":
	case "otlp":
		on = true
	case "none":
		on = false
	default:
		bad("OTEL_TRACES_EXPORTER", "%q is not supported: otlp or none", v)
	}
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		on = false
	}
	if !on {
		return Config{}, errors.Join(errs...)
	}

	// Only OTLP over HTTP with protobuf is built in: gRPC would add a second
	// network stack for one exporter.
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := getenv(name); v != "" && v != "http/protobuf" {
			bad(name, "%q is not supported: http/protobuf (OTLP over HTTP)", v)
		}
	}
	// The signal's own endpoint is used as given; the base endpoint gets the
	// traces path, as the OTLP exporter specification says.
	switch {
	case traces != "":
		c.Endpoint = checkEndpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces, bad)
	case base != "":
		c.Endpoint = checkEndpoint("OTEL_EXPORTER_OTLP_ENDPOINT", base, bad)
		if c.Endpoint != "" {
			c.Endpoint = strings.TrimRight(c.Endpoint, "/") + "/v1/traces"
		}
	default:
		c.Endpoint = defaultEndpoint
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

func checkEndpoint(name, raw string, bad func(string, string, ...any)) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The value itself is not repeated: it may carry a collector's credential.
		bad(name, "is not an http(s) URL like http://localhost:4318")
		return ""
	}
	if u.User != nil || u.RawQuery != "" {
		// The exporter would drop them and get 401s: say where they go instead.
		bad(name, "has a user or query, which the exporter does not send: put the collector's credential in OTEL_EXPORTER_OTLP_HEADERS")
		return ""
	}
	return raw
}
