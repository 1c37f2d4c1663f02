package orytest

import (
	"context"
	"testing"

	client "github.com/ory/client-go"
)

// TestSecondFactorsAndStepUp: the Admin API lists an identity's credentials by
// type, with config only for the types include_credential names, and StepUp
// raises a session to aal2 under the same token.
func TestSecondFactorsAndStepUp(t *testing.T) {
	t.Parallel()
	s := New(t, WithAPIKey(testKey))
	c := apiClient(s.URL)
	id := s.AddIdentity("a@example.com")
	s.AddCredential(id, "totp", map[string]any{"totp_url": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP"})
	s.AddCredential(id, "webauthn", map[string]any{"credentials": []any{map[string]any{"is_passwordless": false}}})

	i, _, err := c.IdentityAPI.GetIdentity(adminCtx(), id).Execute()
	if err != nil {
		t.Fatalf("get identity: %v", err)
	}
	creds := i.GetCredentials()
	for _, typ := range []string{"password", "totp", "webauthn"} {
		if _, ok := creds[typ]; !ok {
			t.Errorf("credentials = %v, want %s", creds, typ)
		}
	}
	if creds["totp"].Config != nil || creds["webauthn"].Config != nil {
		t.Errorf("configs shown without include_credential: %+v", creds)
	}
	i, _, err = c.IdentityAPI.GetIdentity(adminCtx(), id).IncludeCredential([]string{"webauthn"}).Execute()
	if err != nil {
		t.Fatalf("get identity: %v", err)
	}
	if creds = i.GetCredentials(); creds["webauthn"].Config == nil || creds["totp"].Config != nil {
		t.Errorf("with include_credential=webauthn: %+v, want webauthn's config alone", creds)
	}

	tok := s.AddSession(id)
	aal := func() client.AuthenticatorAssuranceLevel {
		sess, _, err := c.FrontendAPI.ToSession(context.Background()).XSessionToken(tok).Execute()
		if err != nil {
			t.Fatalf("whoami: %v", err)
		}
		return sess.GetAuthenticatorAssuranceLevel()
	}
	if got := aal(); got != client.AUTHENTICATORASSURANCELEVEL_AAL1 {
		t.Fatalf("aal = %s, want aal1", got)
	}
	s.StepUp(tok)
	if got := aal(); got != client.AUTHENTICATORASSURANCELEVEL_AAL2 {
		t.Errorf("aal after StepUp = %s, want aal2", got)
	}
}
