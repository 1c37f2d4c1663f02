package auth

import client "github.com/ory/client-go"

// SecondFactorCredentials is the include_credential value of an Admin API
// identity read whose credentials HasSecondFactor is to judge: webauthn's config
// (public keys, and whether each is passwordless) is the only one needed. The
// others hold secrets, and their presence says enough.
var SecondFactorCredentials = []string{"webauthn"}

// HasSecondFactor reports whether credentials, as the Admin API lists them
// (IdentityAPI.GetIdentity with SecondFactorCredentials), include a second
// factor. whoami does not say, and Kratos keeps its own answer (available_aal)
// to itself, so this decides as Kratos does when it computes it
// (CountActiveMultiFactorCredentials): TOTP and lookup secrets count (Kratos
// removes the credential when they are unlinked), and so do WebAuthn keys that
// are not passwordless (a passwordless key is a first factor). The code method's
// MFA (methods.code.mfa_enabled) is a setting of the whole project, not of an
// identity: use StepUpAlways with it.
func HasSecondFactor(credentials map[string]client.IdentityCredentials) bool {
	for typ, c := range credentials {
		switch typ {
		case "totp", "lookup_secret":
			return true
		case "webauthn":
			keys, _ := c.Config["credentials"].([]any)
			for _, k := range keys {
				if m, ok := k.(map[string]any); ok && m["is_passwordless"] != true {
					return true
				}
			}
		}
	}
	return false
}
