package handlers

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/auth"
	"github.com/example/ory-gin-starter/ory"
	"github.com/example/ory-gin-starter/problem"
)

// The caller's own sessions. A caller that sent an Ory session token or cookie
// acts through Ory's FrontendAPI with that very credential (auth.OryCredential):
// Ory checks that the sessions are the caller's, the calls count against the
// project's public rate limits rather than its small Admin API buckets, and
// signing out everywhere else is one call. A caller that sent a session JWT has no
// credential the FrontendAPI accepts and goes through the Admin API (sessions.go).

// ListMySessions answers the caller's active sessions, the current one first,
// page_size at a time.
func ListMySessions(fe client.FrontendAPI, ids client.IdentityAPI, checker *auth.Checker, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		me := mustSession(c)
		cred, ok := auth.OryCredential(c)
		if !ok {
			listByAdmin(c, ids, checker, me)
			return
		}
		p, ok := pageFrom(c)
		if !ok {
			return
		}
		// The FrontendAPI's pages leave out the current session, so this route
		// pages the whole list itself: its page_token is an offset into it.
		from := 0
		if p.token != "" {
			n, err := strconv.Atoi(p.token)
			if err != nil || n < 0 {
				problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "page_token is not a token this API gave out."))
				return
			}
			from = n
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), orDefault(timeout))
		defer cancel()
		all, err := mySessions(ctx, fe, checker, cred, me)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		from = min(from, len(all))
		to := min(from+int(p.size), len(all))
		out := SessionList{Sessions: make([]Session, 0, to-from)}
		for i := range all[from:to] {
			out.Sessions = append(out.Sessions, sessionOf(&all[from+i], me.Id))
		}
		if to < len(all) {
			out.NextPageToken = strconv.Itoa(to)
		}
		c.JSON(http.StatusOK, out)
	}
}

// RevokeMySession revokes one of the caller's own sessions. Another identity's
// session answers 404, exactly like one that does not exist, so other users'
// session ids can be neither revoked nor probed. The current session may be
// revoked too; the next request with it is 401.
func RevokeMySession(fe client.FrontendAPI, ids client.IdentityAPI, checker *auth.Checker, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		me := mustSession(c)
		id := strings.ToLower(c.Param("id"))
		if !isUUID(id) {
			problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "The session id must be a UUID."))
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), orDefault(timeout))
		defer cancel()
		cred, ok := auth.OryCredential(c)
		switch {
		case !ok:
			revokeByAdmin(ctx, c, ids, checker, me, id)
			return
		case id == me.Id:
			// The FrontendAPI refuses the current session (its answer is the
			// logout flow, which needs a browser for cookies). Its owner is
			// known, so one Admin API call does it.
			disableByAdmin(ctx, c, ids, checker, id)
			return
		}
		// Ory answers 204 to any id here, and disables only the caller's own
		// sessions: the list tells an id of the caller's from one that is not.
		mine, err := mySessions(ctx, fe, checker, cred, me)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		if !slices.ContainsFunc(mine, func(s client.Session) bool { return s.Id == id }) {
			problem.Abort(c, problem.New(http.StatusNotFound, problem.CodeNotFound, ""))
			return
		}
		call, done := context.WithTimeout(ctx, checker.Timeout())
		defer done()
		if resp, err := withCredential(fe.DisableMySession(call, id), cred).Execute(); err != nil {
			problem.Abort(c, selfServiceProblem(checker, me, resp, err))
			return
		}
		checker.ForgetSession(id)
		c.Status(http.StatusNoContent)
	}
}

// RevokeMyOtherSessions signs the caller out everywhere else: every session of
// the caller's identity but the current one is revoked. It answers the ids of
// those that were active.
func RevokeMyOtherSessions(fe client.FrontendAPI, ids client.IdentityAPI, checker *auth.Checker, timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		me := mustSession(c)
		ctx, cancel := context.WithTimeout(c.Request.Context(), orDefault(timeout))
		defer cancel()
		cred, ok := auth.OryCredential(c)
		if !ok {
			revokeOthersByAdmin(ctx, c, ids, checker, me)
			return
		}
		// Ory's answer is only a count, which includes sessions that had ended
		// already; the list before says which active sessions this revokes.
		mine, err := mySessions(ctx, fe, checker, cred, me)
		if err != nil {
			problem.Abort(c, err)
			return
		}
		call, done := context.WithTimeout(ctx, checker.Timeout())
		defer done()
		_, resp, err := withCredential(fe.DisableMyOtherSessions(call), cred).Execute()
		// Evict also after a failure: Ory may have revoked them all the same.
		checker.ForgetIdentitySessions(me.Identity.Id, me.Id)
		if err != nil {
			problem.Abort(c, selfServiceProblem(checker, me, resp, err))
			return
		}
		revoked := make([]string, 0, len(mine))
		for _, s := range mine[1:] {
			revoked = append(revoked, s.Id)
		}
		slices.Sort(revoked)
		c.JSON(http.StatusOK, Revoked{Revoked: revoked})
	}
}

// mySessions lists the caller's active sessions with the caller's credential,
// through every page: the current one first (from the checked session, as Ory's
// list leaves it out), then the others, each once. Ory has been seen to repeat
// pages, and Kratos names a next page after an empty one: a session listed again
// is skipped, and a page token named again or a page with nothing new ends the
// list. More than maxPages pages is an outage.
func mySessions(ctx context.Context, fe client.FrontendAPI, checker *auth.Checker, cred auth.Credential, me *client.Session) ([]client.Session, error) {
	out := []client.Session{*me}
	seen := map[string]bool{me.Id: true}
	tokens := map[string]bool{}
	token := ""
	for range maxPages {
		call, cancel := context.WithTimeout(ctx, checker.Timeout())
		req := fe.ListMySessions(call).PageSize(maxPageSize)
		if token != "" {
			req = req.PageToken(token)
		}
		list, resp, err := withCredential(req, cred).Execute()
		cancel()
		if err != nil {
			return nil, selfServiceProblem(checker, me, resp, err)
		}
		added := 0
		for _, s := range list {
			if !seen[s.Id] {
				seen[s.Id] = true
				out = append(out, s)
				added++
			}
		}
		if token = nextPageToken(resp); token == "" || tokens[token] || added == 0 {
			return out, nil
		}
		tokens[token] = true
	}
	return nil, problem.Unavailable(fmt.Errorf("ory listed more than %d pages of the caller's sessions", maxPages))
}

// selfServiceProblem maps a failed FrontendAPI call made with the caller's
// credential as the session check does: Ory refusing the credential now is 401
// (and the cached session goes), anything but a verdict on the session is 503.
func selfServiceProblem(checker *auth.Checker, me *client.Session, resp *http.Response, err error) *problem.Problem {
	p := ory.SessionProblem(resp, err)
	if p.Status == http.StatusUnauthorized {
		checker.ForgetSession(me.Id)
	}
	return p
}

// credentialed is a FrontendAPI request that can carry the caller's credential.
type credentialed[R any] interface {
	XSessionToken(string) R
	Cookie(string) R
}

// withCredential sets the caller's credential on req: its token, else its Ory
// cookies (only those, as the session check sent them).
func withCredential[R credentialed[R]](req R, cred auth.Credential) R {
	if cred.Token != "" {
		return req.XSessionToken(cred.Token)
	}
	return req.Cookie(cred.Cookie)
}
