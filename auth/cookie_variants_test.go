package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// Ory reads one session cookie, so extra ory_session_* cookies beside a valid one
// change the cache key, not the answer. A signed-in caller must not be able to
// fill the cache with copies of their session and push other users out of it.
func TestCookieVariantsDoNotFillTheCache(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	alice := Credential{Token: fake.AddSession(fake.AddIdentity("alice@example.com"))}
	mallory := fake.AddSession(fake.AddIdentity("mallory@example.com"))
	k := newChecker(t, fake, Options{CacheTTL: time.Minute, CacheSize: 10})
	if _, err := k.Check(t.Context(), alice); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		cred := Credential{Cookie: fmt.Sprintf("ory_session_x%d=1; ory_kratos_session=%s", i, mallory)}
		if _, err := k.Check(t.Context(), cred); err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
	}
	if got := k.cache.sessions.Len(); got > 1 {
		t.Errorf("cache holds %d sessions, want only alice's: the variants were cached", got)
	}
	before := fake.WhoamiCalls()
	if _, err := k.Check(t.Context(), alice); err != nil {
		t.Fatal(err)
	}
	if n := fake.WhoamiCalls() - before; n != 0 {
		t.Errorf("alice's check made %d whoami calls, want 0: her cached session was pushed out", n)
	}
}
