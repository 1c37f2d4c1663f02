package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	m.Run()
}

// TestAbort holds the one error writer to its promises: the cause is logged (kept
// on the Gin context), never sent, and 401/429/503 carry the headers clients need.
func TestAbort(t *testing.T) {
	t.Parallel()
	const secret = "dial tcp 10.1.2.3:4434: ory_apikey_internal refused"
	cause := errors.New(secret)
	rateLimited := New(http.StatusTooManyRequests, CodeRateLimited, "Slow down.")
	rateLimited.RetryAfter = 7
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantAuth   string
		wantRetry  string
	}{
		{"unauthorized", Unauthorized("Sign in."), http.StatusUnauthorized, CodeUnauthorized, `Bearer realm="api"`, ""},
		{"unavailable", Unavailable(cause), http.StatusServiceUnavailable, CodeOryUnavailable, "", "1"},
		{"wrapped unavailable", fmt.Errorf("get identity: %w", Unavailable(cause)), http.StatusServiceUnavailable, CodeOryUnavailable, "", "1"},
		{"rate limited", rateLimited, http.StatusTooManyRequests, CodeRateLimited, "", "7"},
		{"not a problem", cause, http.StatusInternalServerError, CodeInternal, "", ""},
		{"forbidden", New(http.StatusForbidden, CodeForbidden, ""), http.StatusForbidden, CodeForbidden, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest(http.MethodGet, "/api/me", nil)

			Abort(c, tt.err)

			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if !c.IsAborted() {
				t.Error("the handler chain was not aborted")
			}
			if got := w.Header().Get("Content-Type"); got != ContentType {
				t.Errorf("Content-Type = %q, want %q", got, ContentType)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuth)
			}
			if got := w.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if body["code"] != tt.wantCode || body["status"] != float64(tt.wantStatus) || body["type"] != "about:blank" || body["instance"] != "/api/me" {
				t.Errorf("body = %v, want code %q, status %d, type about:blank, instance /api/me", body, tt.wantCode, tt.wantStatus)
			}
			if strings.Contains(w.Body.String(), "10.1.2.3") || strings.Contains(w.Body.String(), "ory_apikey") {
				t.Errorf("body sends the cause: %s", w.Body)
			}
			for k := range body {
				switch k {
				case "type", "title", "status", "code", "detail", "instance", "redirect_browser_to", "checks":
				default:
					t.Errorf("body has member %q, not in the Problem schema: %s", k, w.Body)
				}
			}
			if len(c.Errors) != 1 || !errors.Is(c.Errors.Last().Err, tt.err) {
				t.Errorf("errors on the context = %v, want %v for the request log", c.Errors, tt.err)
			}
		})
	}
}
