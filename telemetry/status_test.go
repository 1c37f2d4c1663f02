package telemetry_test

import (
	"net/http"
	"testing"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// A 4xx is the caller's doing, not the server's: its span's status stays unset
// (as OpenTelemetry's HTTP conventions say) and holds no exception event, or every
// anonymous scanner would fill error dashboards and every "keep the errors"
// sampling policy with its 401s and 404s. A 5xx is an error, with its cause.
func TestOnlyServerFailuresAreSpanErrors(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	tok := s.fake.AddSession(s.fake.AddIdentity("a@example.com"))
	for _, tt := range []struct {
		path, name string
		status     int
		header     []string
	}{
		{"/api/resource", "GET /api/resource", http.StatusUnauthorized, nil},
		{"/no/such/route", "GET", http.StatusNotFound, nil},
	} {
		span := serverSpan(t, s.get(tt.path, tt.status, tt.header...), tt.name)
		if span.Status != "" || len(span.Events) != 0 {
			t.Errorf("GET %s (%d): status %q, events %+v; want no error", tt.path, tt.status, span.Status, span.Events)
		}
	}

	s.fake.SetFault(orytest.Status(http.StatusInternalServerError))
	span := serverSpan(t, s.get("/api/resource", http.StatusServiceUnavailable, "Authorization", "Bearer "+tok), "GET /api/resource")
	if span.Status == "" || len(span.Events) == 0 {
		t.Errorf("503: status %q, events %+v; want the error and its cause", span.Status, span.Events)
	}
}
