package ory

import (
	"net/http"
	"testing"
	"time"
)

// TestRetryDelay: Retry-After wins when Ory (or a proxy) sends it; Ory Network
// sends x-ratelimit-reset instead, which is used with a bounded spread on top; the
// caller is always told 1..60 seconds.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	low := func(int) int { return 0 }
	high := func(n int) int { return n - 1 }
	tests := []struct {
		name   string
		header http.Header
		lo, hi int // with the smallest and the largest spread
	}{
		{"nothing", http.Header{}, 1, 1},
		{"retry-after", http.Header{"Retry-After": {"7"}}, 7, 7},
		{"retry-after wins over reset", http.Header{"Retry-After": {"3"}, "X-Ratelimit-Reset": {"40"}}, 3, 3},
		{"retry-after bounded", http.Header{"Retry-After": {"3600"}}, 60, 60},
		{"bad retry-after, reset used", http.Header{"Retry-After": {"soon"}, "X-Ratelimit-Reset": {"4"}}, 4, 5},
		{"reset of one second", http.Header{"X-Ratelimit-Reset": {"1"}}, 1, 2},
		{"reset of a window", http.Header{"X-Ratelimit-Reset": {"40"}}, 40, 50},
		{"reset of zero", http.Header{"X-Ratelimit-Reset": {"0"}}, 1, 2},
		{"reset beyond the bound", http.Header{"X-Ratelimit-Reset": {"600"}}, 60, 60},
		{"negative reset", http.Header{"X-Ratelimit-Reset": {"-5"}}, 1, 1},
		{"bad reset", http.Header{"X-Ratelimit-Reset": {"1.5"}}, 1, 1},
		{"only limit and remaining", http.Header{"X-Ratelimit-Limit": {"10, 10;w=1, 300;w=60"}, "X-Ratelimit-Remaining": {"0"}}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := retryDelay(tt.header, low); got != tt.lo {
				t.Errorf("retryDelay(smallest spread) = %d, want %d", got, tt.lo)
			}
			if got := retryDelay(tt.header, high); got != tt.hi {
				t.Errorf("retryDelay(largest spread) = %d, want %d", got, tt.hi)
			}
			for range 200 {
				if got := RetryDelay(tt.header); got < tt.lo || got > tt.hi {
					t.Fatalf("RetryDelay() = %d, want %d..%d", got, tt.lo, tt.hi)
				}
			}
		})
	}
}

// TestRetryAfterDate: Retry-After may be an HTTP date.
func TestRetryAfterDate(t *testing.T) {
	t.Parallel()
	h := http.Header{"Retry-After": {time.Now().Add(20 * time.Second).UTC().Format(http.TimeFormat)}}
	if got := RetryDelay(h); got < 18 || got > 20 {
		t.Errorf("RetryDelay(a date 20s ahead) = %d, want 18..20", got)
	}
}

// TestRateLimitSpreads: callers limited at the same moment are not all told the
// same second, or they come back together and are limited again.
func TestRateLimitSpreads(t *testing.T) {
	t.Parallel()
	h := http.Header{"X-Ratelimit-Reset": {"20"}}
	seen := map[int]bool{}
	for range 500 {
		seen[RetryDelay(h)] = true
	}
	if len(seen) < 3 {
		t.Errorf("500 delays took %d values, want a spread", len(seen))
	}
}
