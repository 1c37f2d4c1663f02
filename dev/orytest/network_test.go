package orytest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestNetworkBuckets: in Network mode a bucket refuses requests past its limit
// with Ory Network's headers and body (no Retry-After), until its window resets;
// other buckets are not touched.
func TestNetworkBuckets(t *testing.T) {
	t.Parallel()
	clk := orytest.NewClock()
	s := orytest.New(t, orytest.Network(
		orytest.Limits(map[string]orytest.Limit{"get-identity": {Sustained: 3}}),
		orytest.Windows(time.Second, 400*time.Millisecond), orytest.WithClock(clk)))
	id := s.AddIdentity("n@example.com")
	for i := range 3 {
		resp, body := get(t, s.URL+"/admin/identities/"+id)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d: status = %d, want %d; %s", i, resp.StatusCode, http.StatusOK, body)
		}
		if got, want := resp.Header.Get("X-Ratelimit-Remaining"), []string{"2", "1", "0"}[i]; got != want {
			t.Errorf("call %d: x-ratelimit-remaining = %q, want %q", i, got, want)
		}
	}
	resp, body := get(t, s.URL+"/admin/identities/"+id)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status = %d, want %d", resp.StatusCode, http.StatusTooManyRequests)
	}
	h := resp.Header
	if h.Get("Retry-After") != "" || h.Get("X-Ratelimit-Reset") != "1" || h.Get("X-Ratelimit-Remaining") != "0" || !strings.Contains(h.Get("X-Ratelimit-Limit"), "3;w=1") {
		t.Errorf("headers = %v, want x-ratelimit-* (reset 1, remaining 0, limit 3;w=1) and no Retry-After", h)
	}
	var doc struct {
		Error struct {
			Code    int    `json:"code"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Error.Code != 429 || doc.Error.Status != "Too Many Requests" || doc.Error.Message == "" {
		t.Errorf("body = %s, want Ory Network's error document", body)
	}
	if got := s.RateLimitedCalls(); got != 1 {
		t.Errorf("RateLimitedCalls() = %d, want 1", got)
	}
	if resp, body := get(t, s.URL+"/admin/identities"); resp.StatusCode != http.StatusOK {
		t.Errorf("another bucket: status = %d, want %d; %s", resp.StatusCode, http.StatusOK, body)
	}
	clk.Advance(399 * time.Millisecond)
	if resp, _ := get(t, s.URL+"/admin/identities/"+id); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("before the window ends: status = %d, want %d", resp.StatusCode, http.StatusTooManyRequests)
	}
	clk.Advance(time.Millisecond)
	if resp, body := get(t, s.URL+"/admin/identities/"+id); resp.StatusCode != http.StatusOK {
		t.Errorf("after the window: status = %d, want %d; %s", resp.StatusCode, http.StatusOK, body)
	}
}

// TestRateLimitedByMode: the 429 fault speaks the mode's headers.
func TestRateLimitedByMode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		opts  []orytest.Option
		want  map[string]string
		never string
	}{
		{"self-hosted", nil, map[string]string{"Retry-After": "7"}, "X-Ratelimit-Reset"},
		{"ory network", []orytest.Option{orytest.Network()}, map[string]string{"X-Ratelimit-Reset": "7", "X-Ratelimit-Remaining": "0"}, "Retry-After"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := orytest.New(t, tt.opts...)
			s.SetFault(s.RateLimited(7))
			resp, _ := get(t, s.URL+"/sessions/whoami")
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status = %d, want %d", resp.StatusCode, http.StatusTooManyRequests)
			}
			for k, v := range tt.want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if v := resp.Header.Get(tt.never); v != "" {
				t.Errorf("%s = %q, want none", tt.never, v)
			}
		})
	}
}

// TestSelfHostedHasNoBuckets: without Network, nothing is limited and no
// x-ratelimit-* header is sent, as with self-hosted Kratos.
func TestSelfHostedHasNoBuckets(t *testing.T) {
	t.Parallel()
	s := orytest.New(t)
	for range 30 {
		resp, _ := get(t, s.URL+"/admin/identities")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Ratelimit-Limit") != "" {
			t.Fatalf("status = %d, x-ratelimit-limit %q; want 200 without it", resp.StatusCode, resp.Header.Get("X-Ratelimit-Limit"))
		}
	}
}
