package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// verdict turns Ory's answer into a usable session or a problem. A 200 is not
// enough: the session must be active, unexpired and belong to an identity.
func (k *Checker) verdict(s *client.Session, resp *http.Response, err error) (*client.Session, error) {
	if err != nil {
		return nil, refusal(resp, err)
	}
	switch {
	case s == nil || s.Id == "":
		return nil, problem.Unavailable(errors.New("whoami answered 200 without a session"))
	case s.Active == nil || !*s.Active:
		return nil, problem.Unauthorized("The session is no longer active. Sign in again.")
	case s.ExpiresAt != nil && !k.now().Before(*s.ExpiresAt):
		return nil, problem.Unauthorized("The session has expired. Sign in again.")
	case s.Identity == nil || s.Identity.Id == "":
		// Ory strips the identity for restricted origins; without it nothing can be authorized.
		return nil, problem.Unavailable(errors.New("whoami answered a session without an identity"))
	}
	return s, nil
}

// refusal maps a failed whoami call. Only 401, a 403 asking for a step up
// (session_aal2_required and the like) and 429 are answers about the session;
// anything else, a 404 included, means Ory is down or ORY_SDK_URL points at the
// wrong place (a bogus path, the admin port, a wrong slug): 503, so the operator
// sees an outage and clients keep their sessions.
func refusal(resp *http.Response, err error) error {
	p := ory.Problem(resp, err)
	switch {
	case p.Status == http.StatusUnauthorized, p.Status == http.StatusTooManyRequests,
		p.Status == http.StatusServiceUnavailable,
		p.Status == http.StatusForbidden && strings.HasPrefix(p.Code, "session_"):
		return p
	}
	return problem.Unavailable(fmt.Errorf("whoami answered %d, which is no session answer (check ORY_SDK_URL): %w", resp.StatusCode, err))
}

// outcome names a check's result for metrics.
func outcome(err error) string {
	var p *problem.Problem
	if err == nil {
		return "valid"
	} else if errors.As(err, &p) {
		switch p.Status {
		case http.StatusUnauthorized:
			return "unauthorized"
		case http.StatusForbidden:
			return "forbidden"
		case http.StatusTooManyRequests:
			return "rate_limited"
		}
	}
	return "unavailable"
}

func isStatus(err error, status int) bool {
	var p *problem.Problem
	return errors.As(err, &p) && p.Status == status
}
