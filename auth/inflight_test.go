package auth

import (
	"net/http"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// A check that begins after a revocation never joins an Ory call that began
// before it: that call may answer for the session as it was before, and the
// request after the revocation (a DELETE that has already returned 204) must not
// pass on it.
func TestCheckAfterRevocationAsksOryItself(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"no cache", Options{}},
		{"cache", Options{CacheTTL: time.Hour, DenyTTL: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := orytest.New(t)
			tok := fake.AddSession(fake.AddIdentity("a@example.com"))
			entered, release := make(chan struct{}, 2), make(chan struct{})
			fake.SetFault(orytest.OnWhoami(func(_ http.ResponseWriter, r *http.Request) bool {
				select {
				case entered <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return false
			}))
			opts := tt.opts
			opts.Timeout = 10 * time.Second
			k := newChecker(t, fake, opts)
			cred := Credential{Token: tok}

			check := func() <-chan error {
				done := make(chan error, 1)
				go func() {
					_, err := k.Check(t.Context(), cred)
					done <- err
				}()
				return done
			}
			a := check()
			<-entered // A's whoami is in flight
			k.ForgetSession(fake.SessionID(tok))
			b := check()
			select {
			case <-entered: // B asked Ory itself
			case <-time.After(time.Second): // B joined A's call (or never came)
			}
			close(release)
			<-a
			<-b
			if n := fake.WhoamiCalls(); n != 2 {
				t.Errorf("whoami calls = %d, want 2 (a check after a revocation must not share a call begun before it)", n)
			}
		})
	}
}
