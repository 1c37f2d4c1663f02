package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"
	"golang.org/x/sync/errgroup"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// Session is a session as this API shows it.
type Session struct {
	ID              string     `json:"id"`
	Active          bool       `json:"active"`
	Current         bool       `json:"current"`
	AAL             string     `json:"aal,omitempty"`
	AuthenticatedAt *time.Time `json:"authenticated_at,omitempty"`
	IssuedAt        *time.Time `json:"issued_at,omitempty"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	Devices         []Device   `json:"devices"`
}

// Device is where a session was used.
type Device struct {
	IPAddress string `json:"ip_address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Location  string `json:"location,omitempty"`
}

func sessionOf(s *client.Session, current string) Session {
	v := Session{
		ID:              s.Id,
		Active:          s.GetActive(),
		Current:         s.Id == current,
		AuthenticatedAt: s.AuthenticatedAt,
		IssuedAt:        s.IssuedAt,
		ExpiresAt:       s.ExpiresAt,
		Devices:         make([]Device, 0, len(s.Devices)),
	}
	if s.AuthenticatorAssuranceLevel != nil {
		v.AAL = string(*s.AuthenticatorAssuranceLevel)
	}
	for _, d := range s.Devices {
		v.Devices = append(v.Devices, Device{IPAddress: d.GetIpAddress(), UserAgent: d.GetUserAgent(), Location: d.GetLocation()})
	}
	return v
}

// SessionList is the answer of GET /api/me/sessions.
type SessionList struct {
	Sessions      []Session `json:"sessions"`
	NextPageToken string    `json:"next_page_token,omitempty"`
}

// listByAdmin answers one page of the caller's active sessions through the Admin API
// (IdentityAPI.ListIdentitySessions), for callers with no Ory credential. A page
// without the caller's own session does not show that it is still active, so
// Ory is asked about that session then.
func listByAdmin(c *gin.Context, ids client.IdentityAPI, checker *auth.Checker, me *client.Session) {
	ctx := c.Request.Context()
	list, next, ok := onePage(c, func(size int64, token string) ([]client.Session, *http.Response, error) {
		req := ids.ListIdentitySessions(ctx, me.Identity.Id).Active(true).PageSize(size)
		if token != "" {
			req = req.PageToken(token)
		}
		return req.Execute()
	}, func(s *client.Session) Session { return sessionOf(s, me.Id) })
	if !ok {
		return
	}
	if !slices.ContainsFunc(list, func(s Session) bool { return s.Current }) {
		if err := stillActive(ctx, ids, checker, me); err != nil {
			problem.Abort(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, SessionList{Sessions: list, NextPageToken: next})
}

// A session JWT still verifies after its session was revoked in Ory (elsewhere,
// not through this service), and the Admin API acts with the project's key, not
// with the caller's credential. So before the Admin API lists or revokes anything
// for a JWT caller, Ory must have the caller's own session as active: otherwise a
// stolen JWT could read the owner's devices or sign the owner out everywhere
// until it expires.

// stillActive asks the Admin API about the caller's own session: nil when it is
// active, 401 (and the JWT refused from now on) when it is not or is unknown.
func stillActive(ctx context.Context, ids client.IdentityAPI, checker *auth.Checker, me *client.Session) error {
	s, resp, err := ids.GetSession(ctx, me.Id).Execute()
	if err != nil {
		if p := ory.AdminProblem(resp, err); p.Status != http.StatusNotFound {
			return p
		}
		return sessionEnded(checker, me)
	}
	if !s.GetActive() || s.ExpiresAt != nil && !s.ExpiresAt.After(time.Now()) {
		return sessionEnded(checker, me)
	}
	return nil
}

// sessionEnded forgets the caller's session, whose JWT is then refused, and is
// the 401 to answer.
func sessionEnded(checker *auth.Checker, me *client.Session) *problem.Problem {
	checker.ForgetSession(me.Id)
	return problem.Unauthorized("The session is no longer active. Sign in again.")
}

// Bounds of the routes that make many Ory calls for one request. The deadline
// stays below the server's write timeout, so the answer (a 503 when it passes) is
// always written; revocations run a few at a time, which keeps the answer quick
// without a burst against Ory's per-project rate limits.
const (
	DefaultBulkTimeout = 10 * time.Second
	revokeConcurrency  = 4
)

// revokeByAdmin revokes one of the caller's own sessions through the Admin API.
// Ownership is decided from the caller's own session list before anything else
// (which must hold the caller's session, see stillActive): no Admin API call ever names another identity's session, and such an id answers
// 404 exactly like one that does not exist, so other users' session ids can be
// neither revoked nor probed.
func revokeByAdmin(ctx context.Context, c *gin.Context, ids client.IdentityAPI, checker *auth.Checker, me *client.Session, id string) {
	mine, err := sessionIDs(ctx, ids, me.Identity.Id, true)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	if !slices.Contains(mine, me.Id) {
		problem.Abort(c, sessionEnded(checker, me))
		return
	}
	if !slices.Contains(mine, id) {
		problem.Abort(c, problem.New(http.StatusNotFound, problem.CodeNotFound, ""))
		return
	}
	disableByAdmin(ctx, c, ids, checker, id)
}

// disableByAdmin disables a session the caller owns and answers 204.
func disableByAdmin(ctx context.Context, c *gin.Context, ids client.IdentityAPI, checker *auth.Checker, id string) {
	if resp, err := ids.DisableSession(ctx, id).Execute(); err != nil {
		problem.Abort(c, ory.AdminProblem(resp, err))
		return
	}
	checker.ForgetSession(id)
	c.Status(http.StatusNoContent)
}

// Revoked is the answer of DELETE /api/me/sessions.
type Revoked struct {
	Revoked []string `json:"revoked"`
}

// revokeOthersByAdmin signs the caller out everywhere else through the Admin
// API: it revokes every active session of the caller's identity except the one
// making the request, a few at a time, and answers the ids it revoked. It answers
// all or a problem: when Ory fails part way or ctx ends, the problem says how
// many were revoked, and a retry revokes the rest. A caller whose own session is
// not among the active ones revokes nothing (see stillActive).
func revokeOthersByAdmin(ctx context.Context, c *gin.Context, ids client.IdentityAPI, checker *auth.Checker, me *client.Session) {
	active, err := sessionIDs(ctx, ids, me.Identity.Id, true)
	if err != nil {
		problem.Abort(c, err)
		return
	}
	if !slices.Contains(active, me.Id) {
		problem.Abort(c, sessionEnded(checker, me))
		return
	}
	others := slices.DeleteFunc(active, func(id string) bool { return id == me.Id })
	revoked, err := revokeAll(ctx, ids, others)
	// Evict what was revoked before answering, also after a failure: those
	// sessions are gone in Ory and must not pass from the cache.
	checker.ForgetIdentitySessions(me.Identity.Id, me.Id)
	if err != nil {
		var p *problem.Problem
		if !errors.As(err, &p) {
			p = problem.Unavailable(err)
		}
		p.Detail = strings.TrimSpace(fmt.Sprintf("%s %d of %d other sessions were revoked; try again to revoke the rest.", p.Detail, len(revoked), len(others)))
		problem.Abort(c, p)
		return
	}
	slices.Sort(revoked)
	c.JSON(http.StatusOK, Revoked{Revoked: revoked})
}

// revokeAll disables the sessions, revokeConcurrency at a time, and returns those
// it disabled. The first failure stops the rest.
func revokeAll(ctx context.Context, ids client.IdentityAPI, sessions []string) ([]string, error) {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(revokeConcurrency)
	var mu sync.Mutex
	revoked := make([]string, 0, len(sessions))
	for _, id := range sessions {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if resp, err := ids.DisableSession(ctx, id).Execute(); err != nil {
				return ory.AdminProblem(resp, err)
			}
			mu.Lock()
			revoked = append(revoked, id)
			mu.Unlock()
			return nil
		})
	}
	err := g.Wait()
	return revoked, err
}

// sessionIDs lists the ids of every session of identity (only the active ones when
// activeOnly), through all pages. Callers revoke after listing, never while paging:
// Kratos pages this list by offset, so revoking in between would skip sessions.
func sessionIDs(ctx context.Context, ids client.IdentityAPI, identity string, activeOnly bool) ([]string, error) {
	var out []string
	err := allPages(func(token string) (*http.Response, error) {
		req := ids.ListIdentitySessions(ctx, identity).PageSize(maxPageSize)
		if activeOnly {
			req = req.Active(true)
		}
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := req.Execute()
		if err != nil {
			return nil, ory.AdminProblem(resp, err)
		}
		for _, s := range list {
			out = append(out, s.Id)
		}
		return resp, nil
	})
	return out, err
}

func orDefault(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return DefaultBulkTimeout
	}
	return timeout
}
