package ory_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/example/ory-gin-starter/ory"
)

// TestRateLimitedIsReported: every 429 Ory answers is reported with the API that
// answered, whatever the route or client call made it.
func TestRateLimitedIsReported(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Reset", "3")
		http.Error(w, `{"error":{"code":429,"status":"Too Many Requests","message":"slow down"}}`, http.StatusTooManyRequests)
	}))
	defer srv.Close()
	var mu sync.Mutex
	got := map[string]int{}
	c := ory.New(ory.Config{PublicURL: srv.URL, AdminURL: srv.URL, APIKey: key, RateLimited: func(api string) {
		mu.Lock()
		defer mu.Unlock()
		got[api]++
	}})
	_, resp, err := c.Frontend.ToSession(t.Context()).XSessionToken("ory_st_x").Execute()
	if p := ory.SessionProblem(resp, err); p.Status != http.StatusTooManyRequests || p.RetryAfter < 3 || p.RetryAfter > 60 {
		t.Errorf("SessionProblem: status = %d, Retry-After %d; want 429 with 3..60", p.Status, p.RetryAfter)
	}
	_, resp, err = c.Admin.GetIdentity(t.Context(), "x").Execute()
	if p := ory.AdminProblem(resp, err); p.Status != http.StatusTooManyRequests || p.RetryAfter < 3 {
		t.Errorf("AdminProblem: status = %d, Retry-After %d; want 429 with 3..60", p.Status, p.RetryAfter)
	}
	_, _, _ = c.Admin.ListIdentities(t.Context()).Execute()
	mu.Lock()
	defer mu.Unlock()
	if got["frontend"] != 1 || got["admin"] != 2 || len(got) != 2 {
		t.Errorf("reported %v, want frontend 1, admin 2", got)
	}
}
