package telemetry_test

import (
	"net/http"
	"testing"
)

// Any caller can send X-Forwarded-For; with Gin's default of trusting every peer as
// a proxy, the request span's client.address would be whatever the caller wrote,
// and a trace read after an incident would name an address of the attacker's
// choosing. The span says the peer the connection came from.
func TestClientAddressIsNotTheCallersClaim(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	spans := s.get("/api/resource", http.StatusUnauthorized, "X-Forwarded-For", "203.0.113.9", "X-Real-Ip", "203.0.113.10")
	root := serverSpan(t, spans, "GET /api/resource")
	if got := root.Attrs["client.address"]; got != "127.0.0.1" {
		t.Errorf("client.address = %q, want the peer 127.0.0.1", got)
	}
}
