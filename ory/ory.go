// Package ory wraps github.com/ory/client-go: the two API clients this service uses
// (FrontendAPI without the API key, IdentityAPI with it), a transport tuned for a busy
// backend, and the mapping from Ory's answers to this service's problems.
package ory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
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
	// MaxConns bounds the connections kept to each Ory host.
	MaxConns int
	// Timeout bounds one Admin API call, so a hung Ory answers 503 in time
	// (session checks have their own bound). 0 leaves only the transport's limits.
	Timeout time.Duration
}

// Clients holds one client per Ory API surface. The frontend client never carries
// the API key: whoami is called with the end user's credential only.
type Clients struct {
	Frontend client.FrontendAPI
	admin    *client.APIClient
	apiKey   string
}

// New builds the clients on one pooled transport.
func New(cfg Config) *Clients {
	t := NewTransport(cfg.MaxConns)
	return &Clients{
		Frontend: newAPIClient(cfg.PublicURL, &http.Client{Transport: t}).FrontendAPI,
		admin:    newAPIClient(cfg.AdminURL, &http.Client{Transport: t, Timeout: cfg.Timeout}),
		apiKey:   cfg.APIKey,
	}
}

func newAPIClient(url string, hc *http.Client) *client.APIClient {
	cfg := client.NewConfiguration()
	cfg.Servers = client.ServerConfigurations{{URL: url}}
	cfg.HTTPClient = hc
	cfg.UserAgent = "ory-gin-starter"
	return client.NewAPIClient(cfg)
}

// NewTransport returns an HTTP transport for many concurrent calls to a few hosts.
// http.DefaultTransport keeps only 2 idle connections per host, so under load most
// calls would open (and TLS-handshake) a new connection.
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
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// Identities returns the IdentityAPI (Admin API). Calls must use AdminContext.
func (c *Clients) Identities() client.IdentityAPI { return c.admin.IdentityAPI }

// AdminContext returns ctx carrying the API key for an admin call. It is the only
// place the key is attached to a request.
func (c *Clients) AdminContext(ctx context.Context) context.Context {
	if c.apiKey == "" {
		return ctx
	}
	return context.WithValue(ctx, client.ContextAccessToken, c.apiKey)
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

// Problem maps the outcome of a client-go call that failed to the problem this
// service answers with. resp may be nil (transport error). Anything unexpected is
// 503: the caller is never told "unauthorized" because Ory failed.
func Problem(resp *http.Response, err error) *problem.Problem {
	if resp == nil {
		return problem.Unavailable(fmt.Errorf("ory unreachable: %w", err))
	}
	var body ErrorBody
	var apiErr *client.GenericOpenAPIError
	if errors.As(err, &apiErr) {
		_ = json.Unmarshal(apiErr.Body(), &body)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized:
		return problem.Unauthorized("No valid Ory session was found. Sign in and send the session cookie or token.")
	case s == http.StatusForbidden && body.Error.ID != "":
		// session_aal2_required and friends: the session exists but needs a step up.
		p := problem.New(http.StatusForbidden, body.Error.ID, "The session must be upgraded before it can be used here.")
		if body.Error.ID == problem.CodeAAL2Required {
			p.Detail = "A second factor is required. Complete it at redirect_browser_to."
		}
		p.RedirectBrowserTo = body.RedirectBrowserTo
		return p
	case s == http.StatusNotFound:
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "")
	case s == http.StatusTooManyRequests:
		p := problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "Ory is rate limiting this project. Retry after the given delay.")
		p.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"))
		return p
	default:
		// 5xx, and 4xx that mean this service is misconfigured (a rejected API key,
		// a bad tokenize template): not the caller's fault, and not a session answer.
		return problem.Unavailable(fmt.Errorf("ory answered %d: %w", s, err))
	}
}

// AdminProblem maps a failed Admin API call made for a caller whose session is
// already verified. A 401 or 403 from the Admin API means this service's API key is
// missing, wrong or lacks a permission: a misconfiguration here, not the caller's
// fault, so it is 503 like any other outage, never 401 (clients would sign the user
// out) or 403. Everything else maps as in Problem.
func AdminProblem(resp *http.Response, err error) *problem.Problem {
	if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
		return problem.Unavailable(fmt.Errorf("ory admin API refused the API key (%d): %w", resp.StatusCode, err))
	}
	return Problem(resp, err)
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date) and bounds it to
// 1..60 seconds; a missing or bad value gives 1.
func RetryAfter(v string) int {
	secs := 1
	if n, err := strconv.Atoi(v); err == nil {
		secs = n
	} else if t, err := http.ParseTime(v); err == nil {
		secs = int(time.Until(t).Seconds() + 0.5)
	}
	return min(max(secs, 1), 60)
}
