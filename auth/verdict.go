package auth

import (
	"errors"
	"net/http"

	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// verdict turns Ory's answer into a usable session or a problem. A 200 is not
// enough: the session must be active, unexpired and belong to an identity.
func (k *Checker) verdict(s *client.Session, resp *http.Response, err error) (*client.Session, error) {
	if err != nil {
		return nil, ory.SessionProblem(resp, err)
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
