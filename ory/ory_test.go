package ory_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/ory"
)

const key = "ory_apikey_orytest0123456789"

// recorder is an Ory stand-in that answers 404 to everything and records the
// Authorization and X-Session-Token headers each path received.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string][]string // "METHOD /path" -> Authorization + X-Session-Token values
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{seen: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.seen[req.Method+" "+req.URL.Path] = append(r.seen[req.Method+" "+req.URL.Path],
			req.Header.Get("Authorization")+"|"+req.Header.Get("X-Session-Token"))
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":404,"message":"Unable to locate the resource"}}`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) headers() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for k, v := range r.seen {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// TestEveryAdminCallCarriesTheKey calls the Admin API the way handlers do, with a
// plain request context: the key is on the admin client itself, so no call can go
// without it, and the frontend client never carries it.
func TestEveryAdminCallCarriesTheKey(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	c := ory.New(ory.Config{PublicURL: srv.URL, AdminURL: srv.URL, APIKey: key, Timeout: time.Second})
	ctx := t.Context()
	id := "00000000-0000-0000-0000-000000000000"
	admin := c.Admin
	_, _, _ = admin.GetIdentity(ctx, id).Execute()
	_, _, _ = admin.ListIdentities(ctx).PageSize(2).Execute()
	_, _, _ = admin.ListIdentitySessions(ctx, id).Active(true).Execute()
	_, _ = admin.DisableSession(ctx, id).Execute()
	_, _, _ = admin.GetSession(ctx, id).Execute()
	_, _ = admin.DeleteIdentity(ctx, id).Execute()
	_, _, _ = c.Frontend.ToSession(ctx).XSessionToken("ory_st_user").Execute()
	_, _, _ = c.Frontend.ListMySessions(ctx).XSessionToken("ory_st_user").Execute()

	got := srv.headers()
	if len(got) != 8 {
		t.Fatalf("calls seen = %v, want 8 paths", got)
	}
	for call, values := range got {
		for _, v := range values {
			auth, _, _ := strings.Cut(v, "|")
			admin := strings.Contains(call, "/admin/")
			switch {
			case admin && auth != "Bearer "+key:
				t.Errorf("%s: Authorization = %q, want the API key", call, auth)
			case !admin && strings.Contains(v, key):
				t.Errorf("%s carries the API key", call)
			}
		}
	}
}

// TestNoKeyNoAuthorization: without a key (self-hosted Kratos), admin calls send no
// Authorization header at all.
func TestNoKeyNoAuthorization(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	c := ory.New(ory.Config{PublicURL: srv.URL, AdminURL: srv.URL, Timeout: time.Second})
	_, _, _ = c.Admin.GetIdentity(t.Context(), "x").Execute()
	for call, values := range srv.headers() {
		if values[0] != "|" {
			t.Errorf("%s: headers %q, want no Authorization", call, values[0])
		}
	}
}

// TestRedirectsAreNotFollowed: a redirect from Ory means a misconfigured URL (such
// as ORY_SDK_URL naming Kratos's admin port). Following it would carry the session
// token to whatever host it names, and the API key to any path of the same host.
// It is answered 503, with the Location in the log cause but never its query.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	elsewhere := newRecorder(t, nil)
	redirecting := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/moved/") {
			w.WriteHeader(http.StatusOK)
			return
		}
		target := "/moved" + r.URL.Path + "?flow=secret-query"
		if r.URL.Path == "/sessions/whoami" {
			target = elsewhere.URL + r.URL.Path + "?flow=secret-query"
		}
		http.Redirect(w, r, target, http.StatusTemporaryRedirect)
	})
	c := ory.New(ory.Config{PublicURL: redirecting.URL, AdminURL: redirecting.URL, APIKey: key, Timeout: time.Second})

	_, resp, err := c.Frontend.ToSession(t.Context()).XSessionToken("ory_st_user").Execute()
	if resp == nil || resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("whoami: response %v, %v; want the 307 itself", resp, err)
	}
	p := ory.SessionProblem(resp, err)
	if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Error(), elsewhere.URL+"/sessions/whoami") || strings.Contains(p.Error(), "secret-query") {
		t.Errorf("whoami redirect: problem %d %q; want 503 naming the Location without its query", p.Status, p.Error())
	}

	_, resp, err = c.Admin.GetIdentity(t.Context(), "x").Execute()
	if resp == nil || resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("admin: response %v, %v; want the 307 itself", resp, err)
	}
	if p := ory.AdminProblem(resp, err); p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Error(), "/moved/admin/identities/x") {
		t.Errorf("admin redirect: problem %d %q; want 503 naming the Location", p.Status, p.Error())
	}

	if got := elsewhere.headers(); len(got) != 0 {
		t.Errorf("the redirect target received %v", got)
	}
	for call := range redirecting.headers() {
		if strings.HasPrefix(call, "GET /moved/") {
			t.Errorf("the redirect was followed: %s", call)
		}
	}
}

// TestProblems: only Ory's verdicts on a session reach the caller; everything else
// is an outage (503), and the Admin API's refusals of the key are too.
func TestProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status         int
		session, admin int
	}{
		{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusServiceUnavailable},
		{http.StatusForbidden, http.StatusServiceUnavailable, http.StatusServiceUnavailable}, // no error id: not a step up
		{http.StatusNotFound, http.StatusServiceUnavailable, http.StatusNotFound},
		{http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusTooManyRequests},
		{http.StatusFound, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{http.StatusPermanentRedirect, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{"Location": {"https://elsewhere.example/x"}}}
			if got := ory.SessionProblem(resp, nil).Status; got != tt.session {
				t.Errorf("SessionProblem: status = %d, want %d", got, tt.session)
			}
			if got := ory.AdminProblem(resp, nil).Status; got != tt.admin {
				t.Errorf("AdminProblem: status = %d, want %d", got, tt.admin)
			}
		})
	}
	if p := ory.SessionProblem(nil, http.ErrHandlerTimeout); p.Status != http.StatusServiceUnavailable {
		t.Errorf("transport error: status = %d, want %d", p.Status, http.StatusServiceUnavailable)
	}
}
