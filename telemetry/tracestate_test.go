package telemetry_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A caller's tracestate rides in every span of its request and in every call to
// Ory. Up to 512 characters (what W3C asks to be propagated) it is kept; a longer
// one, up to 32 members of 256-character values, is the caller inflating each
// span by kilobytes, and is dropped.
func TestCallerTracestateIsBounded(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	long := make([]string, 32)
	for i := range long {
		long[i] = fmt.Sprintf("v%d=%s", i, strings.Repeat("x", 250))
	}
	for _, tt := range []struct {
		name, state, want string
	}{
		{"short kept", "vendor=abc,other=def", "vendor=abc,other=def"},
		{"long dropped", strings.Join(long, ","), ""},
	} {
		tok := s.fake.AddSession(s.fake.AddIdentity(strings.ReplaceAll(tt.name, " ", "") + "@example.com"))
		s.get("/api/resource", http.StatusOK, "Authorization", "Bearer "+tok,
			"Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "Tracestate", tt.state)
		var got string
		for _, r := range s.proxy.Requests() {
			if r.Path == "/sessions/whoami" {
				got = r.Header.Get("Tracestate")
			}
		}
		if got != tt.want {
			t.Errorf("%s: tracestate at Ory = %.60q (%d bytes), want %q", tt.name, got, len(got), tt.want)
		}
	}
}
