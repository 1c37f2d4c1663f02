package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/problem"
)

// protected returns an engine with GET /p behind RequireSession (and RequireRole
// when role is set) answering the stored session's id, and GET /open unprotected.
func protected(k *Checker, role string) *gin.Engine {
	r := gin.New()
	r.GET("/open", func(c *gin.Context) {
		_, ok := SessionFrom(c)
		c.JSON(http.StatusOK, gin.H{"has_session": ok})
	})
	chain := []gin.HandlerFunc{RequireSession(k)}
	if role != "" {
		chain = append(chain, RequireRole(role))
	}
	chain = append(chain, func(c *gin.Context) {
		s, ok := SessionFrom(c)
		if !ok {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, gin.H{"session_id": s.Id})
	})
	r.GET("/p", chain...)
	return r
}

func TestRequireSession(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	id := fake.AddIdentity("a@example.com")
	tok := fake.AddSession(id)
	sid := fake.SessionID(tok)

	tests := []struct {
		name       string
		header     http.Header
		fault      orytest.Fault
		wantStatus int
		wantCode   string
		wantCalls  int64 // whoami calls this request makes
	}{
		{"no credential", nil, nil, 401, problem.CodeUnauthorized, 0},
		{"api key", http.Header{"Authorization": {"Bearer ory_apikey_123"}}, nil, 401, problem.CodeUnauthorized, 0},
		{"pat", http.Header{"X-Session-Token": {"ory_pat_123"}}, nil, 401, problem.CodeUnauthorized, 0},
		{"oversized", http.Header{"Authorization": {"Bearer " + strings.Repeat("a", 5000)}}, nil, 401, problem.CodeUnauthorized, 0},
		{"non-ory cookie only", http.Header{"Cookie": {"session=abc"}}, nil, 401, problem.CodeUnauthorized, 0},
		{"unknown token", http.Header{"Authorization": {"Bearer ory_st_unknown"}}, nil, 401, problem.CodeUnauthorized, 1},
		{"valid token", http.Header{"Authorization": {"Bearer " + tok}}, nil, 200, "", 1},
		{"valid cookie", http.Header{"Cookie": {"a=b; ory_kratos_session=" + tok}}, nil, 200, "", 1},
		{"ory down", http.Header{"X-Session-Token": {tok}}, orytest.Status(500), 503, problem.CodeOryUnavailable, 1},
		{"aal2", http.Header{"X-Session-Token": {tok}}, orytest.AAL2Required("http://x/aal2"), 403, problem.CodeAAL2Required, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: the cases share the fake (its fault and call counter).
			fake.SetFault(tt.fault)
			defer fake.SetFault(nil)
			k := newChecker(t, fake, Options{Timeout: time.Second})
			before := fake.WhoamiCalls()

			req := httptest.NewRequest(http.MethodGet, "/p", nil)
			for name, vs := range tt.header {
				req.Header[name] = vs
			}
			w := httptest.NewRecorder()
			protected(k, "").ServeHTTP(w, req)

			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.wantStatus, w.Body)
			}
			if got := fake.WhoamiCalls() - before; got != tt.wantCalls {
				t.Errorf("whoami calls = %d, want %d", got, tt.wantCalls)
			}
			if tt.wantStatus == http.StatusOK {
				var body struct {
					SessionID string `json:"session_id"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.SessionID != sid {
					t.Errorf("body = %s, want session_id %s", w.Body, sid)
				}
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != problem.ContentType {
				t.Errorf("Content-Type = %q, want %q", ct, problem.ContentType)
			}
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Errorf("body = %s, want code %q and status %d", w.Body, tt.wantCode, tt.wantStatus)
			}
			if www := w.Header().Get("WWW-Authenticate"); (tt.wantStatus == 401) != strings.HasPrefix(www, "Bearer") {
				t.Errorf("WWW-Authenticate = %q with status %d", www, w.Code)
			}
		})
	}
}

func TestSessionFromUnprotected(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	protected(nil, "").ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/open", nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"has_session":false`) {
		t.Errorf("GET /open = %d %s, want 200 without a session", w.Code, w.Body)
	}
}

func TestRequireRole(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	admin, user := fake.AddIdentity("admin@example.com"), fake.AddIdentity("user@example.com")
	fake.SetRole(admin, "admin")
	other := fake.AddIdentity("other@example.com")
	fake.SetRole(other, "support")
	k := newChecker(t, fake, Options{CacheTTL: time.Minute})
	engine := protected(k, "admin")

	tests := []struct {
		name     string
		identity string
		want     int
	}{
		{"admin", admin, http.StatusOK},
		{"no role", user, http.StatusForbidden},
		{"other role", other, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodGet, "/p", nil)
			req.Header.Set("Authorization", "Bearer "+fake.AddSession(tt.identity))
			w := httptest.NewRecorder()
			engine.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if tt.want == http.StatusForbidden && !strings.Contains(w.Body.String(), `"code":"forbidden"`) {
				t.Errorf("body = %s, want code forbidden", w.Body)
			}
		})
	}

	t.Run("without RequireSession", func(t *testing.T) {
		t.Parallel()
		r := gin.New()
		r.GET("/x", RequireRole("admin"), func(c *gin.Context) { c.Status(http.StatusOK) })
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/x", nil))
		if w.Code != http.StatusForbidden {
			t.Errorf("status = %d, want %d", w.Code, http.StatusForbidden)
		}
	})
}
