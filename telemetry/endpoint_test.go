package telemetry

import (
	"strings"
	"testing"
)

// The OTLP exporter sends to the endpoint's scheme, host and path only: a user
// and password or a query (?api_key=...) in the URL is dropped without a word,
// and the collector answers every export with 401. Such an endpoint is refused at
// start, pointing at OTEL_EXPORTER_OTLP_HEADERS, and never echoed.
func TestEndpointWithCredentialsIsRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		for _, url := range []string{
			"https://user:s3cret@collector.example.com:4318",
			"https://collector.example.com:4318/v1/traces?api_key=s3cret",
		} {
			_, err := FromEnv(func(k string) string {
				if k == name {
					return url
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name+": ") || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_HEADERS") {
				t.Errorf("%s=%s: error = %v, want one naming %s and pointing at OTEL_EXPORTER_OTLP_HEADERS", name, url, err, name)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error %q repeats the credential", name, err)
			}
		}
	}
}
