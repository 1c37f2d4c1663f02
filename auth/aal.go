package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/problem"
)

// StepUpMode says which sessions the routes behind RequireAAL admit.
type StepUpMode string

const (
	// StepUpWhenAvailable asks for the route's level from identities that have a
	// second factor set up, as Kratos's own highest_available does; an identity
	// with none passes at aal1, so nobody is locked out.
	StepUpWhenAvailable StepUpMode = "when-available"
	// StepUpAlways asks for the level from everyone: an identity without a second
	// factor must set one up first.
	StepUpAlways StepUpMode = "always"
	// StepUpOff admits every valid session.
	StepUpOff StepUpMode = "off"
)

// ParseStepUpMode reads a StepUpMode; "" is StepUpWhenAvailable.
func ParseStepUpMode(v string) (StepUpMode, error) {
	switch m := StepUpMode(v); m {
	case "":
		return StepUpWhenAvailable, nil
	case StepUpWhenAvailable, StepUpAlways, StepUpOff:
		return m, nil
	}
	return "", fmt.Errorf("%q is not when-available, always or off", v)
}

// StepUpConfig configures a StepUp.
type StepUpConfig struct {
	// Mode is the rule; "" is StepUpWhenAvailable.
	Mode StepUpMode
	// PublicURL is Ory's public URL: the refusal points at its browser login flow.
	PublicURL string
	// ReturnTo is where Ory sends the browser after the second factor; "" leaves
	// it to Ory's default. It must be one of Ory's allowed return URLs.
	ReturnTo string
	// Origins are the browser origins allowed to call with credentials: a caller
	// from one of them is sent back there instead.
	Origins []string
}

// SecondFactors tells whether an identity has a second factor set up.
type SecondFactors interface {
	HasSecondFactor(ctx context.Context, identityID string) (bool, error)
}

// StepUp decides, for RequireAAL, which sessions pass and what the others are told.
type StepUp struct {
	cfg     StepUpConfig
	checker *Checker
	factors SecondFactors
	login   *url.URL
}

// NewStepUp returns the StepUp of cfg. checker asks Ory again about a session
// below a route's level; factors is asked only in StepUpWhenAvailable mode.
func NewStepUp(cfg StepUpConfig, checker *Checker, factors SecondFactors) *StepUp {
	if cfg.Mode == "" {
		cfg.Mode = StepUpWhenAvailable
	}
	login, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/") + "/self-service/login/browser")
	if err != nil {
		login = &url.URL{Path: "/self-service/login/browser"}
	}
	return &StepUp{cfg: cfg, checker: checker, factors: factors, login: login}
}

// aalRank orders assurance levels; a missing or unknown one ranks lowest.
func aalRank(level string) int {
	switch level {
	case "aal1":
		return 1
	case "aal2":
		return 2
	case "aal3":
		return 3
	}
	return 0
}

// RequireAAL is middleware, after RequireSession, for routes that need a second
// factor: a session below level (aal2) is refused with 403 session_aal2_required
// and a redirect_browser_to that starts Ory's login flow at that level, unless the
// StepUp's mode lets it through. Kratos raises a session's level in place, under
// the same token, so a cached session below the level is checked with Ory once
// more before the refusal: a step up counts at once, not when the cache expires.
func RequireAAL(su *StepUp, level string) gin.HandlerFunc {
	// Ory has one level above a first factor to step up to; its refusal code names it.
	if level != "aal2" {
		panic("auth: RequireAAL of level " + level + ", want aal2")
	}
	want := aalRank(level)
	return func(c *gin.Context) {
		s, ok := SessionFrom(c)
		if !ok {
			problem.Abort(c, errors.New("RequireAAL on a route without RequireSession"))
			return
		}
		if su.cfg.Mode == StepUpOff || aalRank(string(s.GetAuthenticatorAssuranceLevel())) >= want {
			c.Next()
			return
		}
		ctx := c.Request.Context()
		if su.cfg.Mode == StepUpWhenAvailable {
			has, err := su.factors.HasSecondFactor(ctx, s.Identity.Id)
			if err != nil {
				problem.Abort(c, err)
				return
			}
			if !has {
				c.Next()
				return
			}
		}
		// A session JWT is what it says until it expires: its holder fetches a new one
		// after stepping up. Without the cache the session was fetched for this
		// very request.
		if cred, ok := OryCredential(c); ok && su.checker.cache != nil {
			fresh, err := su.checker.Recheck(ctx, cred)
			if err != nil {
				problem.Abort(c, err)
				return
			}
			c.Set(sessionKey{}, fresh)
			if aalRank(string(fresh.GetAuthenticatorAssuranceLevel())) >= want {
				c.Next()
				return
			}
		}
		problem.Abort(c, su.refusal(c.Request, level))
	}
}

// refusal is the 403 for a session below level: browsers follow
// redirect_browser_to; apps run Ory's API login flow with aal=level and their
// session token.
func (su *StepUp) refusal(r *http.Request, level string) *problem.Problem {
	p := problem.New(http.StatusForbidden, problem.CodeAAL2Required,
		"This route needs a second factor. Browsers: complete it at redirect_browser_to. Apps: run Ory's login flow with aal="+level+
			" and the session token (with session JWTs, fetch a new one afterwards). Without a second factor, set one up in the account settings first.")
	u := *su.login
	q := url.Values{"aal": {level}}
	if to := su.returnTo(r); to != "" {
		q.Set("return_to", to)
	}
	u.RawQuery = q.Encode()
	p.RedirectBrowserTo = u.String()
	return p
}

// returnTo is where the browser should come back to after the step up: the
// configured ReturnTo, or the caller's origin when it is an allowed one and not
// ReturnTo's. Nothing else from the request is used: Ory redirects the browser
// there, so it must be a place this service already trusts.
func (su *StepUp) returnTo(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" || !slices.Contains(su.cfg.Origins, origin) || sameOrigin(su.cfg.ReturnTo, origin) {
		return su.cfg.ReturnTo
	}
	return origin + "/"
}

func sameOrigin(rawURL, origin string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && rawURL != "" && strings.EqualFold(u.Scheme+"://"+u.Host, origin)
}

// Recheck asks Ory about cred again, past the cache, and caches the answer.
// Concurrent rechecks of one credential share one call, bounded by the Ory timeout.
func (k *Checker) Recheck(ctx context.Context, cred Credential) (*client.Session, error) {
	if !cacheable(cred) {
		return k.askAlone(ctx, cred)
	}
	key := keyOf(cred)
	gen := k.gen.Load()
	ch := k.group.DoChan("recheck:"+flightKey(gen, key), func() (any, error) {
		return k.refetch(ctx, cred, key, gen)
	})
	select {
	case r := <-ch:
		s, _ := r.Val.(*client.Session)
		return s, r.Err
	case <-ctx.Done():
		return nil, problem.Unavailable(ctx.Err())
	}
}
