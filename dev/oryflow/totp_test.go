package oryflow

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
)

// totpFake answers the settings and aal2 login API flows as Kratos v1.3.1 does
// with TOTP on, for one session token.
type totpFake struct {
	token, secret string
	offer         bool // the settings flow offers TOTP (enabled, not linked yet)
	seen          []string
}

const totpFakeSession = "9f425a8d-7efc-4768-8f23-7647a74fdf13"

func (f *totpFake) serve(w http.ResponseWriter, r *http.Request) {
	f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI())
	if r.Header.Get("X-Session-Token") != f.token {
		genericErr(w, http.StatusUnauthorized, "session_aal1_required", "You can not requested a higher AAL (AAL2/AAL3) without an active session.", "")
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		_ = json.NewDecoder(r.Body).Decode(&body)
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /self-service/settings/api":
		nodes := []map[string]any{}
		if f.offer {
			nodes = append(nodes,
				map[string]any{"type": "img", "group": "totp", "attributes": map[string]any{"id": "totp_qr", "src": "data:image/png;base64,AA==", "node_type": "img"}},
				map[string]any{"type": "text", "group": "totp", "attributes": map[string]any{"id": "totp_secret_key", "node_type": "text",
					"text": map[string]any{"id": 1050006, "text": f.secret, "type": "info", "context": map[string]any{"secret": f.secret}}}},
				map[string]any{"type": "input", "group": "totp", "attributes": map[string]any{"name": "totp_code", "type": "text", "node_type": "input"}})
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "s-1", "type": "api", "state": "show_form", "ui": map[string]any{"nodes": nodes}})
	case "POST /self-service/settings":
		if body["method"] != "totp" || body["totp_code"] != "code-of-"+f.secret {
			writeJSON(w, http.StatusBadRequest, map[string]any{"id": "s-1", "state": "show_form", "ui": map[string]any{"nodes": []map[string]any{{
				"type": "input", "group": "totp", "attributes": map[string]any{"name": "totp_code"},
				"messages": []map[string]any{{"id": 4000008, "text": "The provided authentication code is invalid, please try again.", "type": "error"}},
			}}}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "s-1", "type": "api", "state": "success", "ui": map[string]any{"nodes": []any{}}})
	case "GET /self-service/login/api":
		writeJSON(w, http.StatusOK, map[string]any{"id": "l-1", "type": "api", "requested_aal": r.URL.Query().Get("aal"), "ui": map[string]any{"nodes": []any{}}})
	case "POST /self-service/login":
		if body["method"] != "totp" || body["totp_code"] != "code-of-"+f.secret {
			writeJSON(w, http.StatusBadRequest, map[string]any{"id": "l-1", "ui": map[string]any{"messages": []map[string]any{{"id": 4000008, "text": "The provided authentication code is invalid, please try again.", "type": "error"}}}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"session_token": f.token, "session": map[string]any{
			"id": totpFakeSession, "active": true, "authenticator_assurance_level": "aal2", "identity": map[string]any{"id": "0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10"}}})
	default:
		genericErr(w, http.StatusNotFound, "", "Unable to locate the resource", "")
	}
}

func newTOTPFake(t *testing.T, offer bool) (*totpFake, string) {
	f := &totpFake{token: "ory_st_totpfaketoken", secret: "JBSWY3DPEHPK3PXP", offer: offer}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func codeOf(secret string) (string, error) { return "code-of-" + secret, nil }

func TestEnrolTOTP(t *testing.T) {
	t.Parallel()
	t.Run("links the secret Ory offers", func(t *testing.T) {
		t.Parallel()
		f, u := newTOTPFake(t, true)
		secret, err := EnrolTOTP(t.Context(), nil, u, f.token, codeOf)
		if err != nil || secret != f.secret {
			t.Fatalf("EnrolTOTP() = %q, %v; want %q", secret, err, f.secret)
		}
		if want := []string{"GET /self-service/settings/api", "POST /self-service/settings?flow=s-1"}; strings.Join(f.seen, ",") != strings.Join(want, ",") {
			t.Errorf("requests = %v, want %v", f.seen, want)
		}
	})
	t.Run("a wrong code is Ory's message", func(t *testing.T) {
		t.Parallel()
		f, u := newTOTPFake(t, true)
		_, err := EnrolTOTP(t.Context(), nil, u, f.token, func(string) (string, error) { return "000000", nil })
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || !e.HasMessage(4000008) {
			t.Errorf("EnrolTOTP() error = %v, want Ory's 400 with message 4000008", err)
		}
	})
	t.Run("TOTP not offered", func(t *testing.T) {
		t.Parallel()
		f, u := newTOTPFake(t, false)
		if _, err := EnrolTOTP(t.Context(), nil, u, f.token, codeOf); err == nil || !strings.Contains(err.Error(), "no TOTP secret") {
			t.Errorf("EnrolTOTP() error = %v, want one saying no TOTP secret is offered", err)
		}
	})
	t.Run("the code function fails", func(t *testing.T) {
		t.Parallel()
		f, u := newTOTPFake(t, true)
		boom := errors.New("boom")
		if _, err := EnrolTOTP(t.Context(), nil, u, f.token, func(string) (string, error) { return "", boom }); !errors.Is(err, boom) {
			t.Errorf("EnrolTOTP() error = %v, want it to wrap %v", err, boom)
		}
	})
}

func TestLoginTOTP(t *testing.T) {
	t.Parallel()
	f, u := newTOTPFake(t, true)
	res, err := LoginTOTP(t.Context(), nil, u, f.token, "code-of-"+f.secret)
	if err != nil || res.SessionID != totpFakeSession || res.SessionToken != f.token {
		t.Fatalf("LoginTOTP() = %+v, %v; want session %s with the same token", res, err, totpFakeSession)
	}
	if f.seen[0] != "GET /self-service/login/api?aal=aal2" {
		t.Errorf("first request = %s, want the login flow with aal=aal2", f.seen[0])
	}
	if _, err := LoginTOTP(t.Context(), nil, u, f.token, "000000"); !errors.As(err, new(*Error)) {
		t.Errorf("LoginTOTP() with a wrong code: error = %v, want an *Error", err)
	}
	_, err = LoginTOTP(t.Context(), nil, u, "ory_st_other", "code-of-"+f.secret)
	var e *Error
	if !errors.As(err, &e) || e.ErrorID != "session_aal1_required" {
		t.Errorf("LoginTOTP() without a session: error = %v, want session_aal1_required", err)
	}
	if strings.Contains(err.Error(), "ory_st_other") {
		t.Errorf("error %q shows the token", err)
	}
}

func TestStartBrowserLogin(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" || r.URL.Path != "/self-service/login/browser" {
			genericErr(w, http.StatusBadRequest, "", "want JSON", "")
			return
		}
		q := r.URL.Query()
		if q.Get("return_to") == "https://evil.example/" {
			genericErr(w, http.StatusBadRequest, "", "Requested return_to URL is not allowed.", "")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": "l-2", "requested_aal": q.Get("aal"), "return_to": q.Get("return_to")})
	}))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	f, err := StartBrowserLogin(t.Context(), hc, srv.URL+"/self-service/login/browser?aal=aal2&return_to=http%3A%2F%2F127.0.0.1%3A4455%2F")
	if err != nil || f.RequestedAAL != "aal2" || f.ReturnTo != "http://127.0.0.1:4455/" {
		t.Errorf("StartBrowserLogin() = %+v, %v; want aal2 returning to http://127.0.0.1:4455/", f, err)
	}
	if _, err := StartBrowserLogin(t.Context(), hc, srv.URL+"/self-service/login/browser?aal=aal2&return_to=https%3A%2F%2Fevil.example%2F"); err == nil {
		t.Error("StartBrowserLogin() with a return_to Ory refuses: error = nil")
	}
	if _, err := StartBrowserLogin(t.Context(), &http.Client{}, srv.URL); err == nil {
		t.Error("StartBrowserLogin() without a cookie jar: error = nil")
	}
}
