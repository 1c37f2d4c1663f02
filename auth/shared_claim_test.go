package auth

import (
	"context"
	"testing"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/redistest"
)

// A replica that missed the entry, then claimed the credential just after another
// replica stored its answer and let go of its claim, must use that answer rather
// than ask Ory again: the claim alone does not say nobody has asked.
func TestClaimAfterAnotherReplicaStoredUsesItsAnswer(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	c, sc := replica(t, fake, rd, Options{})
	cred := Credential{Token: fake.AddSession(fake.AddIdentity("carol@example.com"))}
	// Between c's missed lookup and its claim, a asks Ory, stores and releases.
	sc.beforeClaim = func() {
		if _, err := a.Check(context.Background(), cred); err != nil {
			t.Errorf("replica a: %v", err)
		}
	}
	if _, err := c.Check(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if n := fake.WhoamiCalls(); n != 1 {
		t.Errorf("whoami calls = %d, want 1: the claimer asked Ory although the answer was stored", n)
	}
}
