// Package problem is the service's one error shape: RFC 9457 problem details
// (application/problem+json), and the one place that turns errors into HTTP responses.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// ContentType is the media type of every error response.
const ContentType = "application/problem+json"

// Codes are stable, machine-readable names for each kind of problem. Clients branch
// on these, never on Title or Detail.
const (
	CodeUnauthorized     = "unauthorized"
	CodeAAL2Required     = "session_aal2_required"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeBadRequest       = "bad_request"
	CodeRateLimited      = "rate_limited"
	CodeOryUnavailable   = "ory_unavailable"
	CodeInternal         = "internal_error"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "request_too_large"
	// CodeEmailDomainBlocked refuses a sign-up (or a new email) in an Ory webhook.
	CodeEmailDomainBlocked = "email_domain_blocked"
)

// Problem is an error that knows its HTTP response. Cause is logged, never sent.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
	// RedirectBrowserTo passes Ory's hint on where a browser completes a step,
	// such as a second factor.
	RedirectBrowserTo string `json:"redirect_browser_to,omitempty"`
	// Checks names what failed, on readiness problems.
	Checks map[string]string `json:"checks,omitempty"`
	// Messages are Ory UI messages, on a webhook's refusal: Ory shows them to the
	// user in its self-service flow.
	Messages any `json:"messages,omitempty"`
	// RetryAfter, in seconds, is sent as the Retry-After header on 429 and 503.
	RetryAfter int `json:"-"`
	// Cause is the internal error behind the problem, for the log only.
	Cause error `json:"-"`
}

// Error reports the problem and its cause for logs.
func (p *Problem) Error() string {
	if p.Cause != nil {
		return p.Code + ": " + p.Cause.Error()
	}
	return p.Code
}

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Cause }

// New returns a problem with the standard title for its status.
func New(status int, code, detail string) *Problem {
	return &Problem{Status: status, Code: code, Title: http.StatusText(status), Detail: detail}
}

// Unauthorized is the answer to a missing, invalid, expired or revoked session.
func Unauthorized(detail string) *Problem {
	return New(http.StatusUnauthorized, CodeUnauthorized, detail)
}

// Unavailable is the answer when Ory cannot be reached or fails: fail closed.
func Unavailable(cause error) *Problem {
	p := New(http.StatusServiceUnavailable, CodeOryUnavailable, "The identity service is unavailable. Try again shortly.")
	p.RetryAfter = 1
	p.Cause = cause
	return p
}

// body is the JSON document sent; type and instance are RFC 9457 members.
type body struct {
	Type     string `json:"type"`
	Instance string `json:"instance,omitempty"`
	*Problem
}

// Abort writes err as a problem response and stops the handler chain. Errors that are
// not a *Problem become a 500 without their text. The error is recorded on the Gin
// context so the request log can show the cause.
func Abort(c *gin.Context, err error) {
	var p *Problem
	if !errors.As(err, &p) {
		p = New(http.StatusInternalServerError, CodeInternal, "")
		p.Cause = err
	}
	_ = c.Error(err)
	h := c.Writer.Header()
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="api"`)
	}
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	c.Render(p.Status, problemJSON{body{Type: "about:blank", Instance: c.Request.URL.Path, Problem: p}})
	c.Abort()
}

// problemJSON renders like gin's JSON but with the problem media type.
type problemJSON struct{ v any }

func (r problemJSON) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return json.NewEncoder(w).Encode(r.v)
}

func (r problemJSON) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", ContentType)
}
