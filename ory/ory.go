// Package ory wraps github.com/ory/client-go: the two API clients this service uses
// (FrontendAPI without the API key, IdentityAPI with it on its transport), a
// transport tuned for a busy backend, and the mapping from Ory's answers to this
// service's problems.
package ory

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	client "github.com/ory/client-go"

	"github.com/example/ory-gin-starter/problem"
)

// Config says where Ory is and how to reach it.
type Config struct {
	// PublicURL serves the FrontendAPI (/sessions/whoami).
	PublicURL string
	// AdminURL serves the IdentityAPI (/admin/...).
	AdminURL string
	// APIKey (ory_apikey_... or ory_pat_...) is sent on admin calls only.
	APIKey string
	// MaxConns bounds the connections to each Ory host, open or idle; 0 picks a
	// default. Calls past it wait for a connection within their own timeout, so a
	// flood of distinct fake tokens, each a whoami call, cannot open a socket each.
	MaxConns int
	// Timeout bounds one Admin API call, so a hung Ory answers 503 in time
	// (session checks have their own bound). 0 leaves only the transport's limits.
	Timeout time.Duration
	// RateLimited, when set, is told of every 429 Ory answers, with the API that
	// answered: "frontend" (session checks, the caller's own sessions) or "admin".
	RateLimited func(api string)
	// Instrument, when set, wraps the transport of each client, named by api
	// ("frontend" or "admin"), outside the one that adds the API key: tracing.
	Instrument func(api string, next http.RoundTripper) http.RoundTripper
}

// Clients holds one client per Ory API surface. The project API key is attached by
// the admin client's own transport, so every Admin API call carries it and none can
// be written without it; the frontend client never carries it: whoami is called
// with the end user's credential only.
type Clients struct {
	Frontend client.FrontendAPI
	Admin    client.IdentityAPI
}

// New builds the clients on one pooled transport. Neither follows redirects.
func New(cfg Config) *Clients {
	t := NewTransport(cfg.MaxConns)
	var frontend, admin http.RoundTripper = t, t
	if cfg.RateLimited != nil {
		frontend = limited{api: "frontend", report: cfg.RateLimited, next: t}
		admin = limited{api: "admin", report: cfg.RateLimited, next: t}
	}
	if cfg.APIKey != "" {
		admin = bearer{key: cfg.APIKey, next: admin}
	}
	if cfg.Instrument != nil {
		frontend, admin = cfg.Instrument("frontend", frontend), cfg.Instrument("admin", admin)
	}
	return &Clients{
		Frontend: newAPIClient(cfg.PublicURL, &http.Client{Transport: frontend, CheckRedirect: noRedirects}).FrontendAPI,
		Admin:    newAPIClient(cfg.AdminURL, &http.Client{Transport: admin, CheckRedirect: noRedirects, Timeout: cfg.Timeout}).IdentityAPI,
	}
}

// noRedirects hands a redirect back to the caller as the answer. Ory does not
// redirect API clients that are configured right, and following would carry the
// session token to whatever host the redirect names, and the API key (which Go
// keeps on same-host redirects) to any path there.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// bearer adds the API key to every request of the admin client.
type bearer struct {
	key  string
	next http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not modify its request
	r.Header.Set("Authorization", "Bearer "+b.key)
	return b.next.RoundTrip(r)
}

// limited reports the 429s of one API: on Ory Network they are the first sign that
// the project's buckets are too small for its traffic.
type limited struct {
	api    string
	report func(api string)
	next   http.RoundTripper
}

func (l limited) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		l.report(l.api)
	}
	return resp, err
}

func newAPIClient(url string, hc *http.Client) *client.APIClient {
	cfg := client.NewConfiguration()
	cfg.Servers = client.ServerConfigurations{{URL: url}}
	cfg.HTTPClient = hc
	cfg.UserAgent = "ory-gin-starter"
	return client.NewAPIClient(cfg)
}

// NewTransport returns an HTTP transport for many concurrent calls to a few hosts,
// with at most maxConns connections to each. http.DefaultTransport keeps only 2
// idle connections per host, so under load most calls would open (and
// TLS-handshake) a new connection; and it bounds none, so a slow Ory would get a
// new socket for every call waiting on it.
func NewTransport(maxConns int) *http.Transport {
	if maxConns <= 0 {
		maxConns = 256
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxConns * 2,
		MaxIdleConnsPerHost:   maxConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// ErrorBody is the JSON Ory sends with an error status.
type ErrorBody struct {
	Error struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"error"`
	RedirectBrowserTo string `json:"redirect_browser_to"`
}

// SessionProblem maps a failed session check (FrontendAPI whoami) to the problem
// this service answers with. resp may be nil (transport error). Only Ory's verdicts
// on the session pass through (401, 403 step up, 429); anything else is 503: the
// caller is never told "unauthorized" or "not found" because Ory failed or this
// service is misconfigured.
func SessionProblem(resp *http.Response, err error) *problem.Problem {
	if p := common(resp, err); p != nil {
		return p
	}
	var body ErrorBody
	var apiErr *client.GenericOpenAPIError
	if errors.As(err, &apiErr) {
		_ = json.Unmarshal(apiErr.Body(), &body)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return problem.Unauthorized("No valid Ory session was found. Sign in and send the session cookie or token.")
	case s == http.StatusForbidden && strings.HasPrefix(body.Error.ID, "session_"):
		// session_aal2_required and friends: the session exists but needs a step up.
		p := problem.New(http.StatusForbidden, body.Error.ID, "The session must be upgraded before it can be used here.")
		if body.Error.ID == problem.CodeAAL2Required {
			p.Detail = "A second factor is required. Complete it at redirect_browser_to."
		}
		p.RedirectBrowserTo = body.RedirectBrowserTo
		return p
	default:
		// 404 (a wrong slug or URL), 5xx, and 4xx that mean this service is
		// misconfigured (a bad tokenize template): not the caller's fault, and not a
		// session answer.
		return problem.Unavailable(fmt.Errorf("whoami answered %d, which is no session answer (check ORY_SDK_URL): %w", s, err))
	}
}

// common maps the answers every Ory call shares: none at all (a transport error),
// a redirect (a misconfigured URL: never followed, see noRedirects) and a rate
// limit. It returns nil for the rest.
func common(resp *http.Response, err error) *problem.Problem {
	switch {
	case resp == nil:
		return problem.Unavailable(fmt.Errorf("ory unreachable: %w", err))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return problem.Unavailable(fmt.Errorf("ory answered %d redirecting to %s, which is not followed: check ORY_SDK_URL and ORY_ADMIN_URL", resp.StatusCode, location(resp)))
	case resp.StatusCode == http.StatusTooManyRequests:
		p := problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "Ory is rate limiting this project. Retry after the given delay.")
		p.RetryAfter = RetryDelay(resp.Header)
		return p
	}
	return nil
}

// location is the redirect's target for the log, without query or user info: a
// misrouted flow may put something there that belongs to a user.
func location(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil {
		return "(no valid Location)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// AdminProblem maps a failed Admin API call made for a caller whose session is
// already verified. A 404 is passed on (the identity or session does not exist). A
// 401 or 403 from the Admin API means this service's API key is missing, wrong or
// lacks a permission: a misconfiguration here, not the caller's fault, so it is 503
// like any other outage, never 401 (clients would sign the user out) or 403.
func AdminProblem(resp *http.Response, err error) *problem.Problem {
	if p := common(resp, err); p != nil {
		return p
	}
	switch s := resp.StatusCode; s {
	case http.StatusNotFound:
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "")
	case http.StatusUnauthorized, http.StatusForbidden:
		return problem.Unavailable(fmt.Errorf("ory admin API refused the API key (%d): %w", s, err))
	default:
		return problem.Unavailable(fmt.Errorf("ory admin API answered %d: %w", s, err))
	}
}

// RetryDelay is the delay, in seconds (1..60), to pass on with a 429 from Ory.
// Retry-After wins when present (self-hosted Kratos behind a proxy may send it).
// Ory Network sends x-ratelimit-reset instead, the seconds until its window
// resets. A random spread of up to a quarter of that wait (at least a second) is
// added, so callers limited at the same moment do not all come back in the same
// second and drain the next window at once.
func RetryDelay(h http.Header) int { return retryDelay(h, rand.IntN) }

// retryDelay is RetryDelay with the random source given: intn(n) returns 0..n-1.
func retryDelay(h http.Header, intn func(int) int) int {
	if v := h.Get("Retry-After"); v != "" {
		if secs, ok := parseRetryAfter(v); ok {
			return bound(secs)
		}
	}
	reset, err := strconv.Atoi(strings.TrimSpace(h.Get("X-Ratelimit-Reset")))
	if err != nil || reset < 0 {
		return 1
	}
	reset = max(reset, 1)
	spread := max(reset/4, 1)
	return bound(reset + intn(spread+1))
}

// parseRetryAfter reads a Retry-After value: seconds or an HTTP date.
func parseRetryAfter(v string) (int, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return int(time.Until(t).Seconds() + 0.5), true
	}
	return 0, false
}

func bound(secs int) int { return min(max(secs, 1), 60) }
