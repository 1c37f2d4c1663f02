package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/problem"
)

// Resource is the answer of GET /api/resource.
type Resource struct {
	Message         string     `json:"message"`
	IdentityID      string     `json:"identity_id"`
	SessionID       string     `json:"session_id"`
	AAL             string     `json:"aal,omitempty"`
	AuthenticatedAt *time.Time `json:"authenticated_at,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	Traits          any        `json:"traits,omitempty"`
}

// GetResource is the Express example's protected resource: who is calling, from the
// session alone. It makes no Ory call, so with the session cache it costs about as
// much as an unprotected route; /api/me shows an Admin API read.
func GetResource() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := mustSession(c)
		r := Resource{
			Message:         "Hello from a route protected by Ory.",
			IdentityID:      s.Identity.Id,
			SessionID:       s.Id,
			AuthenticatedAt: s.AuthenticatedAt,
			ExpiresAt:       s.ExpiresAt,
			Traits:          s.Identity.Traits,
		}
		if s.AuthenticatorAssuranceLevel != nil {
			r.AAL = string(*s.AuthenticatorAssuranceLevel)
		}
		c.JSON(http.StatusOK, r)
	}
}

// Identity is an identity as this API shows it: never credentials or admin metadata.
type Identity struct {
	ID             string         `json:"id"`
	SchemaID       string         `json:"schema_id"`
	State          string         `json:"state,omitempty"`
	Traits         any            `json:"traits"`
	MetadataPublic map[string]any `json:"metadata_public,omitempty"`
	CreatedAt      *time.Time     `json:"created_at,omitempty"`
	UpdatedAt      *time.Time     `json:"updated_at,omitempty"`
}

func identityOf(i *client.Identity) Identity {
	return Identity{
		ID:             i.Id,
		SchemaID:       i.SchemaId,
		State:          i.GetState(),
		Traits:         i.Traits,
		MetadataPublic: i.MetadataPublic,
		CreatedAt:      i.CreatedAt,
		UpdatedAt:      i.UpdatedAt,
	}
}

// GetMe answers the caller's identity as the Admin API (IdentityAPI.GetIdentity,
// with the project API key) shows it: the privileged read of Ory's Express
// example, through ids, which reuses it briefly per identity.
func GetMe(ids *IdentityCache) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := mustSession(c)
		i, err := ids.Get(c.Request.Context(), s.Identity.Id)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		c.JSON(http.StatusOK, i)
	}
}

// mustSession returns the session RequireSession stored. Routes using it are only
// registered behind RequireSession, so a missing session is a wiring bug.
func mustSession(c *gin.Context) *client.Session {
	s, ok := auth.SessionFrom(c)
	if !ok {
		panic("handler registered without auth.RequireSession")
	}
	return s
}
