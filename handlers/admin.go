package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"
)

// IdentityList is the answer of GET /api/admin/identities.
type IdentityList struct {
	Identities    []Identity `json:"identities"`
	NextPageToken string     `json:"next_page_token,omitempty"`
}

// ListIdentities answers one page of all identities (IdentityAPI.ListIdentities).
// It is registered for admins only.
func ListIdentities(ids client.IdentityAPI) gin.HandlerFunc {
	return func(c *gin.Context) {
		list, next, ok := onePage(c, func(size int64, token string) ([]client.Identity, *http.Response, error) {
			req := ids.ListIdentities(c.Request.Context()).PageSize(size)
			if token != "" {
				req = req.PageToken(token)
			}
			return req.Execute()
		}, identityOf)
		if ok {
			c.JSON(http.StatusOK, IdentityList{Identities: list, NextPageToken: next})
		}
	}
}
