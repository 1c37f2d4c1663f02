package auth

import (
	"net/http"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
	"github.com/example/ory-gin-starter/dev/redistest"
)

// With the shared cache on, a step up counts at once too: asking Ory again must
// not stop at the aal1 entry Redis holds, and the aal2 answer replaces it, so
// another replica sees the step up without a second whoami.
func TestRequireAALSeesStepUpThroughSharedCache(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	a, _ := replica(t, fake, rd, Options{})
	b, _ := replica(t, fake, rd, Options{})
	id := fake.AddIdentity("totp@example.com")
	tok := fake.AddSession(id)
	ea := stepUpEngine(a, NewStepUp(StepUpConfig{PublicURL: fake.URL}, a, factorsOf{id: true}))
	eb := stepUpEngine(b, NewStepUp(StepUpConfig{PublicURL: fake.URL}, b, factorsOf{id: true}))

	if w := get(protected(a, ""), tok); w.Code != http.StatusOK { // aal1, now in Redis
		t.Fatalf("status = %d, want %d", w.Code, http.StatusOK)
	}
	if w := get(ea, tok); w.Code != http.StatusForbidden {
		t.Fatalf("before the step up: status = %d, want %d", w.Code, http.StatusForbidden)
	}
	fake.StepUp(tok)
	if w := get(ea, tok); w.Code != http.StatusOK || w.Body.String() != `{"aal":"aal2"}` {
		t.Fatalf("after the step up: status = %d, body %s; want %d with aal2", w.Code, w.Body, http.StatusOK)
	}
	before := fake.WhoamiCalls()
	if w := get(eb, tok); w.Code != http.StatusOK || w.Body.String() != `{"aal":"aal2"}` {
		t.Fatalf("other replica after the step up: status = %d, body %s; want %d with aal2", w.Code, w.Body, http.StatusOK)
	}
	if n := fake.WhoamiCalls() - before; n != 0 {
		t.Errorf("whoami calls on the other replica once Redis holds the aal2 session = %d, want 0", n)
	}
}

// A claim whose holder never answers (a replica that died mid-call, or whose
// store failed) must not cost the replicas waiting on it their whole Ory bound:
// they give up waiting in time to ask Ory themselves, never answering 503.
func TestSharedAbandonedClaimStillAnswered(t *testing.T) {
	t.Parallel()
	fake, rd := orytest.New(t), redistest.Start(t)
	b, _ := replica(t, fake, rd, Options{Timeout: 2 * time.Second})
	tok := Credential{Token: fake.AddSession(fake.AddIdentity("orphan@example.com"))}
	if _, err := rd.Do("SET", claimKey(keyOf(tok)), "a-dead-replica", "PX", "60000"); err != nil {
		t.Fatal(err)
	}
	if got := checkStatus(t, b, tok); got != http.StatusOK {
		t.Fatalf("status = %d, want %d", got, http.StatusOK)
	}
}
