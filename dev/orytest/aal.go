package orytest

import "slices"

// Second factors and assurance levels, as Kratos keeps them: an identity's
// credentials beyond the password (the Admin API lists every type, and shows a
// type's config only when include_credential names it), and a session's
// authenticator_assurance_level, which Kratos raises in place, under the same
// token, when the session completes a second factor.

// AddCredential gives the identity a credential of type typ ("totp",
// "lookup_secret", "webauthn", ...) with config, as enrolling through the
// settings flow would.
func (s *Server) AddCredential(identityID, typ string, config map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.identities[identityID]
	if i == nil {
		panic("orytest: AddCredential for unknown identity " + identityID)
	}
	if i.credentials == nil {
		i.credentials = map[string]map[string]any{}
	}
	i.credentials[typ] = config
}

// StepUp raises the session of token to aal2 in place, as Kratos does when it
// completes a login flow with aal=aal2 (or a TOTP enrolment): the token, the
// cookie and the session id stay the same.
func (s *Server) StepUp(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[s.tokens[token]]
	if ss == nil {
		panic("orytest: StepUp of an unknown token")
	}
	ss.aal = "aal2"
}

// addCredentials adds i's other credentials to v, without their config unless
// include names their type. Callers hold s.mu.
func (s *Server) addCredentials(v *identityJSON, i *identity, include []string) {
	for typ, conf := range i.credentials {
		c := map[string]any{
			"type": typ, "identifiers": []string{i.id}, "version": 0,
			"created_at": i.created, "updated_at": i.created,
		}
		if slices.Contains(include, typ) {
			c["config"] = conf
		}
		v.Credentials[typ] = c
	}
}
