package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// Paging bounds. Ory's keyset pagination takes page_size and an opaque page_token.
// maxPages bounds a walk through every page (at maxPageSize each) done for one
// request: past it, Ory is misbehaving or the list is too long to act on at once.
const (
	defaultPageSize = 25
	maxPageSize     = 500
	maxPageToken    = 1024
	maxPages        = 20
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

// onePage answers the page the caller asked for (page_size, page_token): fetch asks
// Ory for it, show turns each item into what this API shows. It answers the problem
// itself, and returns ok false, when the query is bad or Ory fails.
func onePage[T, V any](c *gin.Context, fetch func(size int64, token string) ([]T, *http.Response, error), show func(*T) V) (items []V, next string, ok bool) {
	p, ok := pageFrom(c)
	if !ok {
		return nil, "", false
	}
	list, resp, err := fetch(p.size, p.token)
	if err != nil {
		problem.Abort(c, pageProblem(resp, err))
		return nil, "", false
	}
	items = make([]V, 0, len(list))
	for i := range list {
		items = append(items, show(&list[i]))
	}
	return items, nextPageToken(resp), true
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

// allPages calls fetch for the first page (token "") and then for each next page,
// until Ory names none. It fails (503) when Ory names a token it named before or
// after maxPages: a list that never ends must not keep a request calling Ory. fetch
// returns the response whose Link header names the next page.
func allPages(fetch func(token string) (*http.Response, error)) error {
	seen := map[string]bool{}
	token := ""
	for range maxPages {
		resp, err := fetch(token)
		if err != nil {
			return err
		}
		if token = nextPageToken(resp); token == "" {
			return nil
		}
		if seen[token] {
			return problem.Unavailable(fmt.Errorf("ory named page token %.32q twice after %d pages", token, len(seen)))
		}
		seen[token] = true
	}
	return problem.Unavailable(fmt.Errorf("ory listed more than %d pages", maxPages))
}
