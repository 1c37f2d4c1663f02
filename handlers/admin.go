package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/problem"
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
		page, ok := pageFrom(c)
		if !ok {
			return
		}
		req := ids.ListIdentities(c.Request.Context()).PageSize(page.size)
		if page.token != "" {
			req = req.PageToken(page.token)
		}
		list, resp, err := req.Execute()
		if err != nil {
			problem.Abort(c, pageProblem(resp, err))
			return
		}
		out := IdentityList{Identities: make([]Identity, 0, len(list)), NextPageToken: nextPageToken(resp)}
		for i := range list {
			out.Identities = append(out.Identities, identityOf(&list[i]))
		}
		c.JSON(http.StatusOK, out)
	}
}
