package handlers

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

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

// ListMySessions answers the caller's sessions (IdentityAPI.ListIdentitySessions),
// one page at a time.
func ListMySessions(ids client.IdentityAPI) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := mustSession(c)
		page, ok := pageFrom(c)
		if !ok {
			return
		}
		req := ids.ListIdentitySessions(c.Request.Context(), s.Identity.Id).PageSize(page.size)
		if page.token != "" {
			req = req.PageToken(page.token)
		}
		list, resp, err := req.Execute()
		if err != nil {
			problem.Abort(c, pageProblem(resp, err))
			return
		}
		out := SessionList{Sessions: make([]Session, 0, len(list)), NextPageToken: nextPageToken(resp)}
		for i := range list {
			out.Sessions = append(out.Sessions, sessionOf(&list[i], s.Id))
		}
		c.JSON(http.StatusOK, out)
	}
}

// RevokeMySession revokes one of the caller's own sessions. Ownership is decided
// from the caller's own session list before anything else: no Admin API call ever
// names another identity's session, and such an id answers 404 exactly like one that
// does not exist, so other users' session ids can be neither revoked nor probed.
func RevokeMySession(ids client.IdentityAPI, checker *auth.Checker) gin.HandlerFunc {
	return func(c *gin.Context) {
		me := mustSession(c)
		id := strings.ToLower(c.Param("id"))
		if !isUUID(id) {
			problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "The session id must be a UUID."))
			return
		}
		ctx := c.Request.Context()
		mine, err := sessionIDs(ctx, ids, me.Identity.Id, false)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		if !slices.Contains(mine, id) {
			problem.Abort(c, problem.New(http.StatusNotFound, problem.CodeNotFound, ""))
			return
		}
		if resp, err := ids.DisableSession(ctx, id).Execute(); err != nil {
			problem.Abort(c, ory.AdminProblem(resp, err))
			return
		}
		checker.ForgetSession(id)
		c.Status(http.StatusNoContent)
	}
}

// Revoked is the answer of DELETE /api/me/sessions.
type Revoked struct {
	Revoked []string `json:"revoked"`
}

// RevokeMyOtherSessions signs the caller out everywhere else: it revokes every
// active session of the caller's identity except the one making the request.
func RevokeMyOtherSessions(ids client.IdentityAPI, checker *auth.Checker) gin.HandlerFunc {
	return func(c *gin.Context) {
		me := mustSession(c)
		ctx := c.Request.Context()
		active, err := sessionIDs(ctx, ids, me.Identity.Id, true)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		out := Revoked{Revoked: []string{}}
		for _, id := range active {
			if id == me.Id {
				continue
			}
			if resp, err := ids.DisableSession(ctx, id).Execute(); err != nil {
				// Evict what was revoked so far before answering.
				checker.ForgetIdentitySessions(me.Identity.Id, me.Id)
				problem.Abort(c, ory.AdminProblem(resp, err))
				return
			}
			out.Revoked = append(out.Revoked, id)
		}
		checker.ForgetIdentitySessions(me.Identity.Id, me.Id)
		c.JSON(http.StatusOK, out)
	}
}

// sessionIDs lists the ids of every session of identity (only the active ones when
// activeOnly), through all pages. Callers revoke after listing, never while paging:
// Kratos pages this list by offset, so revoking in between would skip sessions.
func sessionIDs(ctx context.Context, ids client.IdentityAPI, identity string, activeOnly bool) ([]string, error) {
	var out []string
	token := ""
	for {
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
		if token = nextPageToken(resp); token == "" {
			return out, nil
		}
	}
}

// isUUID reports whether s is a UUID in its canonical 8-4-4-4-12 hex form.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
