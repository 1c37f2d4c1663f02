// Package oryflow runs Ory's self-service password flows (registration and login)
// against any Ory public URL: a local Ory Kratos (http://127.0.0.1:4433) or an Ory
// Network project (https://{slug}.projects.oryapis.com). It uses only the standard
// library, so tools, tests and scripts can get a session without a UI.
//
// API flows (Register, Login) return an "ory_st_..." session token. BrowserLogin runs
// the browser flow with JSON (Accept: application/json) and leaves the session cookie
// in the client's cookie jar. EnrolTOTP and LoginTOTP add a second factor to a
// session and step it up to aal2.
//
// Errors carry Ory's UI message texts (for example "An account with the same
// identifier (email, phone, username, ...) exists already.") but never the password,
// the session token or the cookie.
package oryflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Ory UI message ids (github.com/ory/kratos/text) that callers commonly branch on.
const (
	MsgInvalidCredentials            int64 = 4000006
	MsgDuplicateCredentials          int64 = 4000007
	MsgDuplicateCredentialsWithHints int64 = 4000028
	MsgAccountNotFound               int64 = 4000037
)

// maxBody caps how much of an Ory response is read.
const maxBody = 4 << 20

// Result is what a successful registration or login yields.
type Result struct {
	// SessionToken is the "ory_st_..." token of an API flow; empty for browser flows.
	SessionToken string
	// SessionID is the id of the session that was issued.
	SessionID string
	// IdentityID is the id of the identity that registered or signed in.
	IdentityID string
	// ExpiresAt is when the session expires (zero if Ory did not say).
	ExpiresAt time.Time
	// CookieHeader is set by BrowserLogin only: a Cookie header value ("name=value; ...")
	// with the Ory session cookie(s) from the jar (names starting with "ory_").
	CookieHeader string
}

// Message is one Ory UI message (ui.messages or ui.nodes[].messages).
type Message struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	Type string `json:"type"`
	// Field is the node's attribute name ("password", "traits.email") for node
	// messages; empty for flow-level messages.
	Field string `json:"-"`
}

// Error is a flow that Ory answered with something other than success.
type Error struct {
	// Op is what failed: "registration", "login", "browser login" or "whoami".
	Op string
	// Status is the HTTP status Ory answered with.
	Status int
	// ErrorID is error.id of a generic Ory error body (e.g. "session_already_available",
	// "self_service_flow_expired"); empty when Ory sent none.
	ErrorID string
	// Reason is error.reason (or error.message) of a generic Ory error body.
	Reason string
	// Messages are the UI messages of a flow that failed validation.
	Messages []Message
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "oryflow: %s failed (HTTP %d)", e.Op, e.Status)
	if e.ErrorID != "" {
		fmt.Fprintf(&b, " %s", e.ErrorID)
	}
	var parts []string
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	for _, m := range e.Messages {
		if m.Field != "" {
			parts = append(parts, m.Field+": "+m.Text)
		} else {
			parts = append(parts, m.Text)
		}
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, "; "))
	}
	return b.String()
}

// HasMessage reports whether Ory sent a UI message with the given id.
func (e *Error) HasMessage(id int64) bool {
	for _, m := range e.Messages {
		if m.ID == id {
			return true
		}
	}
	return false
}

// IsInvalidCredentials reports whether err is a login that Ory rejected for a wrong
// identifier or password (also the "account not found" variant).
func IsInvalidCredentials(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.HasMessage(MsgInvalidCredentials) || e.HasMessage(MsgAccountNotFound))
}

// IsDuplicateAccount reports whether err is a registration that Ory rejected because
// an account with the same identifier exists.
func IsDuplicateAccount(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.HasMessage(MsgDuplicateCredentials) || e.HasMessage(MsgDuplicateCredentialsWithHints))
}

// ErrNoSession is returned (wrapped) by Register when the identity was created but Ory
// issued no session: the "session" hook after password registration is not configured.
var ErrNoSession = errors.New("oryflow: registration succeeded but Ory issued no session (configure the \"session\" hook after password registration)")

// Register creates an identity with the password method through the API flow and
// returns its session. traits may be nil; "email" is set from email (overriding any
// "email" in traits). traits is not modified.
func Register(ctx context.Context, hc *http.Client, publicURL, email, password string, traits map[string]any) (Result, error) {
	const op = "registration"
	base, err := baseURL(publicURL)
	if err != nil {
		return Result{}, err
	}
	t := make(map[string]any, len(traits)+1)
	for k, v := range traits {
		t[k] = v
	}
	t["email"] = email
	flowID, _, err := createFlow(ctx, client(hc), op, base+"/self-service/registration/api")
	if err != nil {
		return Result{}, err
	}
	body := map[string]any{"method": "password", "password": password, "traits": t}
	res, err := submit(ctx, client(hc), op, base+"/self-service/registration?flow="+url.QueryEscape(flowID), body)
	if err != nil {
		return Result{}, err
	}
	if res.SessionToken == "" {
		return res, fmt.Errorf("%w; identity %s", ErrNoSession, res.IdentityID)
	}
	return res, nil
}

// Login signs in with an identifier (the email) and password through the API flow and
// returns the new session and its token.
func Login(ctx context.Context, hc *http.Client, publicURL, identifier, password string) (Result, error) {
	const op = "login"
	base, err := baseURL(publicURL)
	if err != nil {
		return Result{}, err
	}
	flowID, _, err := createFlow(ctx, client(hc), op, base+"/self-service/login/api")
	if err != nil {
		return Result{}, err
	}
	body := map[string]any{"method": "password", "identifier": identifier, "password": password}
	res, err := submit(ctx, client(hc), op, base+"/self-service/login?flow="+url.QueryEscape(flowID), body)
	if err != nil {
		return Result{}, err
	}
	if res.SessionToken == "" {
		return res, fmt.Errorf("oryflow: login: Ory answered without a session_token")
	}
	return res, nil
}

// BrowserLogin runs the browser login flow with JSON: it fetches the flow with
// Accept: application/json (Ory sets the CSRF cookie), posts the password method with
// the flow's csrf_token, and leaves the session cookie in hc.Jar. hc must have a
// cookie jar. Result.CookieHeader holds the Ory session cookie(s) as a Cookie header
// value; Result.SessionToken is empty.
//
// If the jar already holds a valid session, Ory refuses with ErrorID
// "session_already_available".
func BrowserLogin(ctx context.Context, hc *http.Client, publicURL, identifier, password string) (Result, error) {
	const op = "browser login"
	if hc == nil || hc.Jar == nil {
		return Result{}, errors.New("oryflow: browser login needs an http.Client with a cookie jar")
	}
	base, err := baseURL(publicURL)
	if err != nil {
		return Result{}, err
	}
	flowID, f, err := createFlow(ctx, hc, op, base+"/self-service/login/browser")
	if err != nil {
		return Result{}, err
	}
	csrf := f.csrfToken()
	if csrf == "" {
		return Result{}, fmt.Errorf("oryflow: %s: flow has no csrf_token node", op)
	}
	body := map[string]any{"method": "password", "identifier": identifier, "password": password, "csrf_token": csrf}
	res, err := submit(ctx, hc, op, base+"/self-service/login?flow="+url.QueryEscape(flowID), body)
	if err != nil {
		return Result{}, err
	}
	u, _ := url.Parse(base + "/")
	var parts []string
	for _, c := range hc.Jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "ory_") {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return res, fmt.Errorf("oryflow: %s: Ory answered 200 but no session cookie is in the jar (Secure cookie over plain http? run Kratos with --dev)", op)
	}
	res.CookieHeader = strings.Join(parts, "; ")
	return res, nil
}

// Credentials authenticate a whoami call: a session token, a Cookie header, or both
// (Ory checks the token first).
type Credentials struct {
	SessionToken string
	Cookie       string
}

// Session is the part of Ory's session object that callers of Whoami need.
type Session struct {
	ID         string
	IdentityID string
	Active     bool
	AAL        string
	ExpiresAt  time.Time
	// Tokenized is the JWT when Whoami was called with a tokenize_as template.
	Tokenized string
}

// Whoami calls GET /sessions/whoami (FrontendAPI toSession) with the credentials and,
// when tokenizeAs is not empty, ?tokenize_as=tokenizeAs. A 401 is an *Error with
// Status 401.
func Whoami(ctx context.Context, hc *http.Client, publicURL string, cred Credentials, tokenizeAs string) (Session, error) {
	const op = "whoami"
	base, err := baseURL(publicURL)
	if err != nil {
		return Session{}, err
	}
	u := base + "/sessions/whoami"
	if tokenizeAs != "" {
		u += "?tokenize_as=" + url.QueryEscape(tokenizeAs)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Session{}, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if cred.SessionToken != "" {
		req.Header.Set("X-Session-Token", cred.SessionToken)
	}
	if cred.Cookie != "" {
		req.Header.Set("Cookie", cred.Cookie)
	}
	status, raw, err := do(client(hc), req, op)
	if err != nil {
		return Session{}, err
	}
	if status != http.StatusOK {
		return Session{}, errorFrom(op, status, raw)
	}
	var s sessionJSON
	if err := json.Unmarshal(raw, &s); err != nil {
		return Session{}, fmt.Errorf("oryflow: %s: decode session: %w", op, err)
	}
	return Session{
		ID:         s.ID,
		IdentityID: s.Identity.ID,
		Active:     s.Active,
		AAL:        s.AAL,
		ExpiresAt:  s.ExpiresAt,
		Tokenized:  s.Tokenized,
	}, nil
}

// ---- wire shapes (subset of Kratos's JSON) ----

type node struct {
	Type       string `json:"type"`
	Group      string `json:"group"`
	Attributes struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Value any    `json:"value"`
	} `json:"attributes"`
	Messages []Message `json:"messages"`
}

type flow struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	UI   struct {
		Action   string    `json:"action"`
		Method   string    `json:"method"`
		Nodes    []node    `json:"nodes"`
		Messages []Message `json:"messages"`
	} `json:"ui"`
}

func (f *flow) csrfToken() string {
	for _, n := range f.UI.Nodes {
		if n.Attributes.Name == "csrf_token" {
			if s, ok := n.Attributes.Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

func (f *flow) messages() []Message {
	var out []Message
	out = append(out, f.UI.Messages...)
	for _, n := range f.UI.Nodes {
		for _, m := range n.Messages {
			m.Field = n.Attributes.Name
			out = append(out, m)
		}
	}
	return out
}

type genericError struct {
	Error *struct {
		ID      string `json:"id"`
		Code    int    `json:"code"`
		Status  string `json:"status"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"error"`
}

type sessionJSON struct {
	ID        string    `json:"id"`
	Active    bool      `json:"active"`
	AAL       string    `json:"authenticator_assurance_level"`
	ExpiresAt time.Time `json:"expires_at"`
	Tokenized string    `json:"tokenized"`
	Identity  struct {
		ID string `json:"id"`
	} `json:"identity"`
}

type successJSON struct {
	SessionToken string       `json:"session_token"`
	Session      *sessionJSON `json:"session"`
	Identity     *struct {
		ID string `json:"id"`
	} `json:"identity"`
}

// ---- helpers ----

func client(hc *http.Client) *http.Client {
	if hc == nil {
		return http.DefaultClient
	}
	return hc
}

func baseURL(publicURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("oryflow: invalid Ory public URL %q (want http(s)://host[:port])", publicURL)
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return strings.TrimRight(u.String(), "/"), nil
}

func do(hc *http.Client, req *http.Request, op string) (int, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, nil, fmt.Errorf("oryflow: %s: read response: %w", op, err)
	}
	return resp.StatusCode, raw, nil
}

// createFlow GETs a flow-creation endpoint with Accept: application/json.
func createFlow(ctx context.Context, hc *http.Client, op, u string) (string, *flow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", nil, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	status, raw, err := do(hc, req, op)
	if err != nil {
		return "", nil, err
	}
	if status != http.StatusOK {
		return "", nil, errorFrom(op, status, raw)
	}
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		return "", nil, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a flow (is %s an Ory public URL?)", op, u)
	}
	return f.ID, &f, nil
}

// submit POSTs a flow body as JSON and turns the answer into a Result or an *Error.
func submit(ctx context.Context, hc *http.Client, op, u string, body map[string]any) (Result, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return Result{}, fmt.Errorf("oryflow: %s: encode request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
	if err != nil {
		return Result{}, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, raw, err := do(hc, req, op)
	if err != nil {
		return Result{}, err
	}
	if status != http.StatusOK {
		return Result{}, errorFrom(op, status, raw)
	}
	var s successJSON
	if err := json.Unmarshal(raw, &s); err != nil {
		// Do not wrap the body: it may hold a session token.
		return Result{}, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 with a body that is not a session", op)
	}
	res := Result{SessionToken: s.SessionToken}
	if s.Session != nil {
		res.SessionID = s.Session.ID
		res.IdentityID = s.Session.Identity.ID
		res.ExpiresAt = s.Session.ExpiresAt
	}
	if res.IdentityID == "" && s.Identity != nil {
		res.IdentityID = s.Identity.ID
	}
	if res.SessionID == "" && res.IdentityID == "" {
		return Result{}, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a session or identity", op)
	}
	return res, nil
}

// errorFrom builds an *Error from a non-200 Ory answer: a flow with UI messages
// (validation, 400) or a generic error body ({"error":{...}}).
func errorFrom(op string, status int, raw []byte) error {
	e := &Error{Op: op, Status: status}
	var g genericError
	if json.Unmarshal(raw, &g) == nil && g.Error != nil {
		e.ErrorID = g.Error.ID
		e.Reason = g.Error.Reason
		if e.Reason == "" {
			e.Reason = g.Error.Message
		}
		return e
	}
	var f flow
	if json.Unmarshal(raw, &f) == nil && f.ID != "" {
		e.Messages = f.messages()
		return e
	}
	e.Reason = http.StatusText(status)
	return e
}
