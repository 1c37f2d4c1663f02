package auth

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/dev/orytest"
)

// prefixVerifier takes "jwt." plus a session token as a session JWT standing for
// that token's session: enough to send a request down the JWT path.
type prefixVerifier struct{ k *Checker }

func (prefixVerifier) Accepts(tok string) bool { return strings.HasPrefix(tok, "jwt.") }

func (v prefixVerifier) Verify(ctx context.Context, tok string) (*client.Session, error) {
	s, err := v.k.Check(ctx, Credential{Token: strings.TrimPrefix(tok, "jwt.")})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cp := *s
	cp.IssuedAt, cp.ExpiresAt = &now, ptr(now.Add(time.Minute))
	return &cp, nil
}

func ptr[T any](v T) *T { return &v }

// TestOryCredential: handlers get the very credential the gate checked, and none
// for a session JWT, which Ory's FrontendAPI does not accept.
func TestOryCredential(t *testing.T) {
	t.Parallel()
	fake := orytest.New(t)
	tok := fake.AddSession(fake.AddIdentity("a@example.com"))
	plain := newChecker(t, fake, Options{})
	k := newChecker(t, fake, Options{JWT: prefixVerifier{plain}})

	r := gin.New()
	show := func(c *gin.Context) {
		cred, ok := OryCredential(c)
		c.JSON(http.StatusOK, gin.H{"ok": ok, "token": cred.Token, "cookie": cred.Cookie})
	}
	r.GET("/open", show)
	r.GET("/p", RequireSession(k), show)

	tests := []struct {
		name, path string
		header     http.Header
		want       string
	}{
		{"token", "/p", http.Header{"Authorization": {"Bearer " + tok}}, fmt.Sprintf(`{"cookie":"","ok":true,"token":%q}`, tok)},
		{"cookie, others dropped", "/p", http.Header{"Cookie": {"theme=dark; ory_kratos_session=" + tok}},
			fmt.Sprintf(`{"cookie":"ory_kratos_session=%s","ok":true,"token":""}`, tok)},
		{"session JWT", "/p", http.Header{"Authorization": {"Bearer jwt." + tok}}, `{"cookie":"","ok":false,"token":""}`},
		{"unprotected", "/open", http.Header{"Authorization": {"Bearer " + tok}}, `{"cookie":"","ok":false,"token":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Header = tt.header
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want %d; body %s", w.Code, http.StatusOK, w.Body)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.want {
				t.Errorf("body = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestCredentialNeverPrinted: a credential that reaches a log line or an error
// message by mistake shows nothing of its secret.
func TestCredentialNeverPrinted(t *testing.T) {
	t.Parallel()
	const secret = "ory_st_secretsecretsecretsecretsecre"
	for _, cred := range []Credential{{Token: secret}, {Cookie: "ory_kratos_session=" + secret}} {
		var b strings.Builder
		slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "cred", cred)
		for _, s := range []string{fmt.Sprint(cred), fmt.Sprintf("%+v", cred), fmt.Sprintf("%#v", cred), b.String()} {
			if strings.Contains(s, "secret") {
				t.Errorf("printed credential shows the secret: %s", s)
			}
		}
	}
}
