//go:build e2e

package main

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
)

// otherTemplate adds the tokenizer template jwt_other to a test Kratos: the same
// keys as jwt_example, and a claims mapper that names its own template in aud, as
// kratos/tokenizer.claims.jsonnet does for jwt_example. Kratos merges a JSON
// value of this variable over kratos.yml's templates.
func otherTemplate(t *testing.T) kratostest.Option {
	t.Helper()
	mapper := "local c = std.extVar('claims'); { claims: c { aud: ['jwt_other'] } }"
	templates, err := json.Marshal(map[string]any{"jwt_other": map[string]string{
		"jwks_url":          "file://dev-only.jwks.json",
		"claims_mapper_url": "base64://" + base64.StdEncoding.EncodeToString([]byte(mapper)),
		"ttl":               "10m",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return kratostest.WithEnv("SESSION_WHOAMI_TOKENIZER_TEMPLATES=" + string(templates))
}

// jwtOf returns the session JWT of template for the session token, and its claims.
func jwtOf(t *testing.T, k *kratostest.Kratos, sessionToken, template string) (string, map[string]any) {
	t.Helper()
	s, err := k.Whoami(oryflow.Credentials{SessionToken: sessionToken}, template)
	if err != nil || s.Tokenized == "" {
		t.Fatalf("whoami tokenize_as=%s: %v (token %q)", template, err, s.Tokenized)
	}
	return s.Tokenized, k.VerifyJWT(t, s.Tokenized)
}

// TestE2EJWTTemplateBinding runs the service with only ORY_JWKS_URL and
// ORY_JWT_TEMPLATE set: a JWT of that template from this Kratos is accepted; one
// signed by the same keys for another template, or by another Kratos sharing the
// keys (another iss), is refused with 401.
func TestE2EJWTTemplateBinding(t *testing.T) {
	k := kratostest.Start(t, otherTemplate(t))
	svc := startService(t, k, map[string]string{
		"ORY_JWKS_URL":     "file://" + k.PublicJWKSPath(),
		"ORY_JWT_TEMPLATE": kratostest.TokenizerTemplate,
	})
	u := k.Register(t, k.NewEmail(), password)

	mine, claims := jwtOf(t, k, u.SessionToken, kratostest.TokenizerTemplate)
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != kratostest.TokenizerTemplate {
		t.Errorf("aud of a %s token = %v, want [%s]", kratostest.TokenizerTemplate, claims["aud"], kratostest.TokenizerTemplate)
	}
	if iss, _ := claims["iss"].(string); strings.TrimSuffix(iss, "/") != k.PublicURL() {
		t.Errorf("iss = %v, want %s/", claims["iss"], k.PublicURL())
	}
	r := apitest.Decode[resourceBody](t, svc.expect(t, 200, "GET", "/api/resource", bearer(mine)...))
	if r.IdentityID != u.IdentityID || r.SessionID != u.SessionID {
		t.Errorf("resource = %+v, want identity %s session %s", r, u.IdentityID, u.SessionID)
	}

	other, _ := jwtOf(t, k, u.SessionToken, "jwt_other")
	svc.expect(t, 401, "GET", "/api/resource", bearer(other)...)

	// Another Kratos with the same keys (a staging copy, say): its tokens name
	// itself as iss.
	k2 := kratostest.Start(t)
	u2 := k2.Register(t, k2.NewEmail(), password)
	foreign, _ := jwtOf(t, k2, u2.SessionToken, kratostest.TokenizerTemplate)
	svc.expect(t, 401, "GET", "/api/resource", bearer(foreign)...)

	// The refusals were the claims, not the keys: the service still takes its own.
	svc.expect(t, 200, "GET", "/api/resource", bearer(mine)...)
}
