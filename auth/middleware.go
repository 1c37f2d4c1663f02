package auth

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/problem"
)

type (
	sessionKey    struct{}
	credentialKey struct{}
)

// RequireSession is middleware that lets a request through only with a valid Ory
// session, which handlers then read with SessionFrom. Credentials that cannot be
// valid are refused here, without a call to Ory.
func RequireSession(k *Checker) gin.HandlerFunc {
	return func(c *gin.Context) {
		cred, err := CredentialFrom(c.Request)
		if err != nil {
			detail := "Send an Ory session token (Authorization: Bearer ory_st_...) or the Ory session cookie."
			if errors.Is(err, ErrMalformedCredential) {
				detail = "The session credential is malformed. API keys are not session tokens."
			}
			problem.Abort(c, problem.Unauthorized(detail))
			return
		}
		s, err := k.Check(c.Request.Context(), cred)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		c.Set(sessionKey{}, s)
		if !k.verifiesLocally(cred) {
			c.Set(credentialKey{}, cred)
		}
		c.Next()
	}
}

// SessionFrom returns the session RequireSession stored; ok is false on unprotected
// routes. The session may be shared with other requests: treat it as read-only.
func SessionFrom(c *gin.Context) (s *client.Session, ok bool) {
	v, ok := c.Get(sessionKey{})
	if !ok {
		return nil, false
	}
	s, ok = v.(*client.Session)
	return s, ok
}

// OryCredential returns the credential RequireSession checked with Ory, so a
// handler can act as the caller through Ory's FrontendAPI (the caller's own
// sessions, checked by Ory, on its public rate limits) instead of with the API
// key. ok is false on unprotected routes and for a session JWT, which the
// FrontendAPI does not accept: such callers need the Admin API.
func OryCredential(c *gin.Context) (cred Credential, ok bool) {
	v, ok := c.Get(credentialKey{})
	if !ok {
		return Credential{}, false
	}
	cred, ok = v.(Credential)
	return cred, ok
}

// RequireRole is middleware, after RequireSession, that admits only identities whose
// metadata_public.role is role (set through the Admin API, so users cannot grant it
// to themselves). Everyone else gets 403.
func RequireRole(role string) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, ok := SessionFrom(c)
		if !ok || s.Identity == nil || s.Identity.MetadataPublic["role"] != role {
			problem.Abort(c, problem.New(http.StatusForbidden, problem.CodeForbidden, "This route is for identities with the "+role+" role."))
			return
		}
		c.Next()
	}
}
