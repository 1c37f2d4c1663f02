package orytest

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	client "github.com/ory/client-go"
)

const testKey = "ory_apikey_orytest"

func apiClient(url string) *client.APIClient {
	cfg := client.NewConfiguration()
	cfg.Servers = client.ServerConfigurations{{URL: url}}
	return client.NewAPIClient(cfg)
}

func adminCtx() context.Context {
	return context.WithValue(context.Background(), client.ContextAccessToken, testKey)
}

// TestClientGoDecodes proves client-go decodes what the fake sends, on every route.
func TestClientGoDecodes(t *testing.T) {
	t.Parallel()
	s := New(t, WithAPIKey(testKey))
	c := apiClient(s.URL)
	id := s.AddIdentity("a@example.com")
	tok := s.AddSession(id, AAL("aal2"))
	sid := s.SessionID(tok)

	sess, resp, err := c.FrontendAPI.ToSession(context.Background()).XSessionToken(tok).Execute()
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if resp.StatusCode != http.StatusOK || sess.Id != sid || sess.Identity.Id != id || !sess.GetActive() {
		t.Fatalf("whoami = %d %+v, want 200 session %s of %s", resp.StatusCode, sess, sid, id)
	}
	if got := sess.GetAuthenticatorAssuranceLevel(); got != client.AUTHENTICATORASSURANCELEVEL_AAL2 {
		t.Errorf("aal = %q, want aal2", got)
	}
	if sess.Identity.MetadataAdmin != nil || sess.Identity.Credentials != nil {
		t.Errorf("whoami identity shows admin data: %+v", sess.Identity)
	}

	// Cookie path.
	if _, resp, err = c.FrontendAPI.ToSession(context.Background()).Cookie("ory_kratos_session=" + tok).Execute(); err != nil {
		t.Fatalf("whoami by cookie: %v (%v)", err, resp)
	}

	i, _, err := c.IdentityAPI.GetIdentity(adminCtx(), id).Execute()
	if err != nil {
		t.Fatalf("get identity: %v", err)
	}
	if i.MetadataAdmin == nil || i.Credentials == nil {
		t.Errorf("admin identity lacks admin data: %+v", i)
	}
	got, _, err := c.IdentityAPI.GetSession(adminCtx(), sid).Expand([]string{"identity"}).Execute()
	if err != nil || got.Identity == nil || got.Identity.Id != id {
		t.Fatalf("get session = %+v, %v", got, err)
	}
	list, _, err := c.IdentityAPI.ListIdentitySessions(adminCtx(), id).Active(true).Execute()
	if err != nil || len(list) != 1 {
		t.Fatalf("list sessions = %d, %v; want 1", len(list), err)
	}
	if resp, err := c.IdentityAPI.DisableSession(adminCtx(), sid).Execute(); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("disable session: %v %v", resp, err)
	}
	if s.SessionActive(sid) {
		t.Error("session still active after DELETE")
	}
	_, resp, err = c.FrontendAPI.ToSession(context.Background()).XSessionToken(tok).Execute()
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami after disable = %v, %v; want 401", resp, err)
	}
	if n := s.WhoamiCallsWithKey(); n != 0 {
		t.Errorf("WhoamiCallsWithKey = %d, want 0", n)
	}
	if a, k := s.AdminCalls(), s.AdminCallsWithKey(); a != 4 || k != 4 {
		t.Errorf("admin calls = %d (with key %d), want 4 (4)", a, k)
	}
}

func TestAdminRequiresKey(t *testing.T) {
	t.Parallel()
	s := New(t, WithAPIKey(testKey))
	_, resp, err := apiClient(s.URL).IdentityAPI.GetIdentity(context.Background(), NewID()).Execute()
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %v, want 401", resp)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := New(t)
	c := apiClient(s.URL)
	for range 5 {
		s.AddIdentity("x@example.com")
	}
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		req := c.IdentityAPI.ListIdentities(context.Background()).PageSize(2)
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := req.Execute()
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range list {
			seen[i.Id] = true
		}
		token = nextToken(t, resp.Header.Get("Link"))
		if token == "" {
			break
		}
	}
	if len(seen) != 5 {
		t.Errorf("saw %d identities, want 5", len(seen))
	}
	_, resp, _ := c.IdentityAPI.ListIdentities(context.Background()).PageToken("garbage!").Execute()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad token status = %d, want 400", resp.StatusCode)
	}
}

// nextToken returns the page_token of the rel="next" entry of a Link header.
func nextToken(t *testing.T, link string) string {
	t.Helper()
	for part := range strings.SplitSeq(link, ",") {
		target, params, _ := strings.Cut(part, ";")
		if !strings.Contains(params, `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			t.Fatalf("Link %q: %v", link, err)
		}
		return u.Query().Get("page_token")
	}
	return ""
}

func TestHangEndsWithClient(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.SetFault(s.Hang())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := apiClient(s.URL).FrontendAPI.ToSession(ctx).Execute()
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("hang: err = %v after %v", err, time.Since(start))
	}
}

// TestConcurrentUse checks every concurrent call gets its own session, not another
// caller's.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := New(t)
	c := apiClient(s.URL)
	id := s.AddIdentity("c@example.com")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tok := s.AddSession(id)
			sess, resp, err := c.FrontendAPI.ToSession(context.Background()).XSessionToken(tok).Execute()
			s.SetFault(nil)
			switch {
			case err != nil:
				t.Errorf("call %d: whoami: %v", i, err)
			case resp.StatusCode != http.StatusOK:
				t.Errorf("call %d: status = %d, want %d", i, resp.StatusCode, http.StatusOK)
			case sess.Id != s.SessionID(tok) || sess.Identity == nil || sess.Identity.Id != id:
				t.Errorf("call %d: session %s, want %s of identity %s", i, sess.Id, s.SessionID(tok), id)
			}
		})
	}
	wg.Wait()
	if n := s.WhoamiCalls(); n != 20 {
		t.Errorf("WhoamiCalls = %d, want 20", n)
	}
}
