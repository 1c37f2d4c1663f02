package telemetry

import (
	"strings"
	"testing"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		endpoint string // "" : off
		service  string // checked when on
		err      []string
	}{
		{name: "nothing set: off", env: nil},
		{name: "service name alone: off", env: map[string]string{"OTEL_SERVICE_NAME": "api"}},
		{
			name:     "base endpoint: on, traces path added",
			env:      map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"},
			endpoint: "http://collector:4318/v1/traces", service: DefaultServiceName,
		},
		{
			name:     "traces endpoint used as given, and wins",
			env:      map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://b/otlp/traces"},
			endpoint: "https://b/otlp/traces", service: DefaultServiceName,
		},
		{
			name:     "exporter otlp alone: the local collector",
			env:      map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": "api"},
			endpoint: "http://localhost:4318/v1/traces", service: "api",
		},
		{name: "exporter none wins over an endpoint", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}},
		{name: "SDK disabled wins", env: map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}},
		{
			name:     "SDK disabled other than true: on",
			env:      map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"},
			endpoint: "http://a:4318/v1/traces", service: DefaultServiceName,
		},
		{
			name:     "http/protobuf is the protocol",
			env:      map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"},
			endpoint: "http://a:4318/v1/traces", service: DefaultServiceName,
		},
		{name: "other exporters refused", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, err: []string{"OTEL_TRACES_EXPORTER: "}},
		{
			name: "grpc refused, each variable named",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
			err:  []string{"OTEL_EXPORTER_OTLP_PROTOCOL: ", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "},
		},
		{name: "endpoint not a URL", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4318"}, err: []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "}},
		{name: "protocol not checked when off", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := FromEnv(func(k string) string { return tt.env[k] })
			if len(tt.err) > 0 {
				if err == nil {
					t.Fatalf("FromEnv = %+v, nil error; want errors naming %q", c, tt.err)
				}
				lines := strings.Split(err.Error(), "\n")
				if len(lines) != len(tt.err) {
					t.Errorf("error = %q, want %d lines", err, len(tt.err))
				}
				for _, want := range tt.err {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error = %q, want it to name %q", err, want)
					}
				}
				if c.Enabled() {
					t.Errorf("config on error = %+v, want off", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if c.Endpoint != tt.endpoint {
				t.Errorf("endpoint = %q, want %q", c.Endpoint, tt.endpoint)
			}
			if c.Enabled() != (tt.endpoint != "") {
				t.Errorf("Enabled() = %v with endpoint %q", c.Enabled(), c.Endpoint)
			}
			if tt.endpoint != "" && c.ServiceName != tt.service {
				t.Errorf("service = %q, want %q", c.ServiceName, tt.service)
			}
		})
	}
}

// The start-up log line never shows what may be a collector credential.
func TestConfigStringHidesCredentials(t *testing.T) {
	t.Parallel()
	c := Config{Endpoint: "https://user:s3cret@collector.example.com/v1/traces?api_key=s3cret", ServiceName: "api"}
	got := c.String()
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "collector.example.com/v1/traces") {
		t.Errorf("String() = %q, want the host and path without the credential", got)
	}
	if got := (Config{}).String(); got != "off" {
		t.Errorf("off String() = %q, want off", got)
	}
}

func TestTemplate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/sessions/whoami": "/sessions/whoami",
		"/admin/identities/0b7e1c7a-9d6e-4a57-9a8c-2b1d3c4e5f60/sessions": "/admin/identities/{id}/sessions",
		"/admin/sessions/0B7E1C7A-9D6E-4A57-9A8C-2B1D3C4E5F60":            "/admin/sessions/{id}",
		"/admin/identities/not-an-id":                                     "/admin/identities/not-an-id",
	} {
		if got := Template(in); got != want {
			t.Errorf("Template(%q) = %q, want %q", in, got, want)
		}
	}
}

// The SDK reads OTEL_TRACES_SAMPLER trimmed and in any case; so does FromEnv when
// it decides whether a caller's trace is continued.
func TestIgnoreCallerTrace(t *testing.T) {
	t.Parallel()
	for sampler, want := range map[string]bool{
		"": false, "parentbased_always_on": false, "parentbased_traceidratio": false,
		"traceidratio": true, " TraceIdRatio ": true, "always_on": true, "ALWAYS_OFF": true,
	} {
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_SAMPLER": sampler}
		c, err := FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if c.IgnoreCallerTrace != want {
			t.Errorf("OTEL_TRACES_SAMPLER=%q: IgnoreCallerTrace = %v, want %v", sampler, c.IgnoreCallerTrace, want)
		}
	}
}
