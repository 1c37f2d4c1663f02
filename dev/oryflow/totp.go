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
)

// The second factor: enrolling an authenticator app (TOTP) through the settings
// API flow, and stepping a session up to aal2 through the login API flow with
// aal=aal2. Both act as the session, with its token. Codes come from the caller
// (computed from the secret with a TOTP library), so this package stays on the
// standard library.

// EnrolTOTP links an authenticator app to the identity of sessionToken through
// the settings API flow: it reads the TOTP secret Ory offers, asks code for the
// current code of that secret, and submits it. It returns the secret. Ory then
// counts the session as having completed the second factor (aal2).
func EnrolTOTP(ctx context.Context, hc *http.Client, publicURL, sessionToken string, code func(secret string) (string, error)) (string, error) {
	const op = "settings (totp)"
	base, err := baseURL(publicURL)
	if err != nil {
		return "", err
	}
	status, raw, err := tokenRequest(ctx, client(hc), op, http.MethodGet, base+"/self-service/settings/api", sessionToken, nil)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", errorFrom(op, status, raw)
	}
	var f struct {
		ID string `json:"id"`
		UI struct {
			Nodes []struct {
				Attributes struct {
					ID   string `json:"id"`
					Text struct {
						Text    string `json:"text"`
						Context struct {
							Secret string `json:"secret"`
						} `json:"context"`
					} `json:"text"`
				} `json:"attributes"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		return "", fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a settings flow", op)
	}
	var secret string
	for _, n := range f.UI.Nodes {
		if n.Attributes.ID == "totp_secret_key" {
			secret = n.Attributes.Text.Context.Secret
			if secret == "" {
				secret = n.Attributes.Text.Text
			}
		}
	}
	if secret == "" {
		return "", fmt.Errorf("oryflow: %s: the flow offers no TOTP secret (is selfservice.methods.totp enabled, and TOTP not linked yet?)", op)
	}
	c, err := code(secret)
	if err != nil {
		return "", fmt.Errorf("oryflow: %s: code: %w", op, err)
	}
	status, raw, err = tokenRequest(ctx, client(hc), op, http.MethodPost, base+"/self-service/settings?flow="+url.QueryEscape(f.ID), sessionToken,
		map[string]any{"method": "totp", "totp_code": c})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", errorFrom(op, status, raw)
	}
	var done struct {
		State string `json:"state"`
	}
	if json.Unmarshal(raw, &done) != nil || done.State != "success" {
		return "", fmt.Errorf("oryflow: %s: Ory answered HTTP 200 but the flow is in state %q, not success", op, done.State)
	}
	return secret, nil
}

// LoginTOTP completes the second factor of the session of sessionToken through
// the login API flow with aal=aal2 and a TOTP code. Ory raises that session to
// aal2 in place: the Result has the same session and token.
func LoginTOTP(ctx context.Context, hc *http.Client, publicURL, sessionToken, code string) (Result, error) {
	const op = "login (aal2)"
	base, err := baseURL(publicURL)
	if err != nil {
		return Result{}, err
	}
	status, raw, err := tokenRequest(ctx, client(hc), op, http.MethodGet, base+"/self-service/login/api?aal=aal2", sessionToken, nil)
	if err != nil {
		return Result{}, err
	}
	if status != http.StatusOK {
		return Result{}, errorFrom(op, status, raw)
	}
	var f flow
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		return Result{}, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a login flow", op)
	}
	status, raw, err = tokenRequest(ctx, client(hc), op, http.MethodPost, base+"/self-service/login?flow="+url.QueryEscape(f.ID), sessionToken,
		map[string]any{"method": "totp", "totp_code": code})
	if err != nil {
		return Result{}, err
	}
	if status != http.StatusOK {
		return Result{}, errorFrom(op, status, raw)
	}
	var s successJSON
	if json.Unmarshal(raw, &s) != nil || s.Session == nil {
		return Result{}, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a session", op)
	}
	return Result{SessionToken: s.SessionToken, SessionID: s.Session.ID, IdentityID: s.Session.Identity.ID, ExpiresAt: s.Session.ExpiresAt}, nil
}

// LoginFlow is what a browser login flow asks for.
type LoginFlow struct {
	ID           string `json:"id"`
	RequestedAAL string `json:"requested_aal"`
	ReturnTo     string `json:"return_to"`
}

// StartBrowserLogin opens a browser login flow at rawURL (for instance a
// redirect_browser_to Ory or this service sent) as a browser with the cookies in
// hc.Jar would, but with Accept: application/json, and returns the flow Ory made.
// Ory refuses a return_to outside its allowed return URLs here.
func StartBrowserLogin(ctx context.Context, hc *http.Client, rawURL string) (LoginFlow, error) {
	const op = "browser login"
	if hc == nil || hc.Jar == nil {
		return LoginFlow{}, errors.New("oryflow: starting a browser login flow needs an http.Client with a cookie jar")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return LoginFlow{}, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	status, raw, err := do(hc, req, op)
	if err != nil {
		return LoginFlow{}, err
	}
	if status != http.StatusOK {
		return LoginFlow{}, errorFrom(op, status, raw)
	}
	var f LoginFlow
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		return LoginFlow{}, fmt.Errorf("oryflow: %s: Ory answered HTTP 200 without a login flow", op)
	}
	return f, nil
}

// tokenRequest sends a JSON request (body nil: none) as the session of token.
func tokenRequest(ctx context.Context, hc *http.Client, op, method, u, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("oryflow: %s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("oryflow: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Session-Token", token)
	return do(hc, req, op)
}
