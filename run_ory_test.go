package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// TestRunOnOryNetwork: the service started with a slug and a custom domain (the
// fake, in Ory Network mode) says so at start, passes Ory Network's
// x-ratelimit-reset on as Retry-After, counts the 429 in its metrics, and stays
// ready while Ory limits it.
func TestRunOnOryNetwork(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t, orytest.WithAPIKey(unitKey), orytest.Network(orytest.NoLimits()))
	tok := fake.AddSession(fake.AddIdentity("net@example.com"))
	svc := startRun(t, map[string]string{
		"ORY_PROJECT_SLUG": "p1",
		"ORY_SDK_URL":      fake.URL,
		"ORY_ADMIN_URL":    fake.URL,
		"ORY_API_KEY":      unitKey,
	})
	if logs := svc.Logs.String(); !strings.Contains(logs, "ory=network slug=p1 ") {
		t.Errorf("the start-up line does not say ory=network slug=p1:\n%.600s", logs)
	}

	fake.SetFault(fake.RateLimited(20))
	status, body, h := svc.call(t, http.MethodGet, "/api/resource", bearer(tok)...)
	if status != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want %d; %s", status, http.StatusTooManyRequests, body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 20 || ra > 60 {
		t.Errorf("Retry-After = %q, want 20..60 from x-ratelimit-reset", h.Get("Retry-After"))
	}
	// The first /readyz probe of this service meets the limit on both APIs.
	if ready := string(svc.expect(t, http.StatusOK, http.MethodGet, "/readyz")); strings.Count(ready, "rate_limited") != 2 {
		t.Errorf("/readyz = %s, want both checks rate_limited", ready)
	}
	metrics := string(svc.expect(t, http.StatusOK, http.MethodGet, "/metrics"))
	if !strings.Contains(metrics, `ory_rate_limited_total{api="frontend"}`) || !strings.Contains(metrics, `ory_rate_limited_total{api="admin"}`) {
		t.Errorf("the metrics do not count Ory's 429s by API:\n%s", grepLines(metrics, "ory_rate_limited"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
