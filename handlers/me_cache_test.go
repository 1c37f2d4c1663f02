package handlers_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/handlers"
	"github.com/example/ory-gin-starter/ory"
)

// identityReads counts the Admin API's GET /admin/identities/{id} requests.
func identityReads(fake *orytest.Server) (n int) {
	for _, r := range fake.AdminRequests() {
		if strings.HasPrefix(r, "GET /admin/identities/") && !strings.Contains(r, "/sessions") {
			n++
		}
	}
	return n
}

// TestMeCachedPerIdentity: GET /api/me reads an identity through the Admin API at
// most once per identity and TTL, however many of its sessions ask at once; a
// failure is not kept.
func TestMeCachedPerIdentity(t *testing.T) {
	t.Parallel()
	const ttl = 400 * time.Millisecond
	e := newEnv(t, envOptions{identityTTL: ttl})
	me, tok := e.user("me@example.com")
	second := e.session(me)
	other, otherTok := e.user("other@example.com")
	e.fake.SetFault(orytest.OnAdmin(orytest.Delay(100 * time.Millisecond))) // the burst overlaps

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			tk := []string{tok, second}[i%2]
			resp, body := e.do(t, "GET", "/api/me", tk)
			e.expect(t, resp, body, http.StatusOK)
			if got := apitest.Decode[handlers.Identity](t, body).ID; got != me {
				t.Errorf("GET /api/me id = %s, want %s", got, me)
			}
		})
	}
	wg.Wait()
	if n := identityReads(e.fake); n != 1 {
		t.Errorf("identity reads after a burst of one identity = %d, want 1", n)
	}
	resp, body := e.do(t, "GET", "/api/me", otherTok)
	e.expect(t, resp, body, http.StatusOK)
	if got := apitest.Decode[handlers.Identity](t, body).ID; got != other {
		t.Errorf("GET /api/me id = %s, want %s", got, other)
	}
	if n := identityReads(e.fake); n != 2 {
		t.Errorf("identity reads = %d, want 2: one per identity", n)
	}

	time.Sleep(ttl + 100*time.Millisecond)
	e.fake.SetFault(orytest.OnAdmin(orytest.Status(http.StatusInternalServerError)))
	resp, body = e.do(t, "GET", "/api/me", tok)
	e.expect(t, resp, body, http.StatusServiceUnavailable)
	e.fake.SetFault(nil)
	resp, body = e.do(t, "GET", "/api/me", tok)
	e.expect(t, resp, body, http.StatusOK)
	if n := identityReads(e.fake); n != 4 {
		t.Errorf("identity reads = %d, want 4: expired, then the failure is not kept", n)
	}
}

// TestIdentityCacheForget: a write through this service that calls Forget shows on
// the next read.
func TestIdentityCacheForget(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t, orytest.WithAPIKey(apiKey))
	admin := ory.New(ory.Config{PublicURL: fake.URL, AdminURL: fake.URL, APIKey: apiKey}).Admin
	c := handlers.NewIdentityCache(admin, time.Minute, time.Second)
	id := fake.AddIdentity("f@example.com")
	read := func() handlers.Identity {
		t.Helper()
		i, err := c.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	read()
	fake.SetRole(id, "admin") // as a write through this service would
	if got := read().MetadataPublic["role"]; got != nil || identityReads(fake) != 1 {
		t.Fatalf("within the TTL: role %v after %d reads, want the cached identity", got, identityReads(fake))
	}
	c.Forget(id)
	if got := read().MetadataPublic["role"]; got != "admin" || identityReads(fake) != 2 {
		t.Errorf("after Forget: role %v after %d reads, want a fresh read showing the write", got, identityReads(fake))
	}
}
