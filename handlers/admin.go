package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/ory"
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

// Paging bounds. Ory's keyset pagination takes page_size and an opaque page_token.
const (
	defaultPageSize = 25
	maxPageSize     = 500
	maxPageToken    = 1024
)

type page struct {
	size  int64
	token string
}

// pageFrom reads page_size and page_token, answering 400 itself when they are bad.
func pageFrom(c *gin.Context) (page, bool) {
	p := page{size: defaultPageSize, token: c.Query("page_token")}
	if v := c.Query("page_size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxPageSize {
			problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "page_size must be a whole number from 1 to 500."))
			return page{}, false
		}
		p.size = n
	}
	if len(p.token) > maxPageToken || !isPlain(p.token) {
		problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "page_token is not a token this API gave out."))
		return page{}, false
	}
	return p, true
}

// pageProblem maps a failed list call: Ory's 400 there means the caller's page_token
// was bad, which is the caller's mistake, not an outage.
func pageProblem(resp *http.Response, err error) *problem.Problem {
	if resp != nil && resp.StatusCode == http.StatusBadRequest {
		return problem.New(http.StatusBadRequest, problem.CodeBadRequest, "page_token is not a token this API gave out.")
	}
	return ory.AdminProblem(resp, err)
}

// nextLink matches the rel="next" entry of an RFC 8288 Link header.
var nextLink = regexp.MustCompile(`<([^>]*)>\s*;\s*rel="?next"?`)

// nextPageToken returns the page_token of the rel="next" link Ory sends, or "".
func nextPageToken(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	for _, v := range resp.Header.Values("Link") {
		if m := nextLink.FindStringSubmatch(v); m != nil {
			if u, err := url.Parse(m[1]); err == nil {
				return u.Query().Get("page_token")
			}
		}
	}
	return ""
}
