package oryflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeKratos speaks the JSON shapes of Kratos v1.3.1's self-service password flows
// (captured from a real Kratos) for the endpoints oryflow uses.
type fakeKratos struct {
	t  *testing.T
	mu sync.Mutex
	// users maps email to password.
	users map[string]string
	// flows maps flow id to flow type ("api" or "browser") and csrf token.
	flows map[string]string
	csrf  map[string]string
	// noSessionHook makes registration answer without a session (no "session" hook).
	noSessionHook bool
	// expireFlows makes every flow submission answer 410.
	expireFlows bool
	// lastBody is the last decoded POST body.
	lastBody map[string]any
	n        int
	srv      *httptest.Server
}

const (
	csrfCookieName = "csrf_token_a502be055e52d33574a40b2d1d9f729bf4a29e92063c97c8535e7eeb74358d66"
	sessionCookie  = "ory_kratos_session"
)

func newFake(t *testing.T) *fakeKratos {
	f := &fakeKratos{t: t, users: map[string]string{}, flows: map[string]string{}, csrf: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKratos) nextID(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-0000-4000-8000-%012d", prefix, f.n)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func genericErr(w http.ResponseWriter, status int, id, reason, message string) {
	e := map[string]any{"code": status, "status": http.StatusText(status), "reason": reason, "message": message}
	if id != "" {
		e["id"] = id
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func (f *fakeKratos) flowJSON(id, typ, kind, csrf string, uiMessages []map[string]any, nodeMessages map[string][]map[string]any) map[string]any {
	mk := func(name, typ, group string, value any) map[string]any {
		msgs := nodeMessages[name]
		if msgs == nil {
			msgs = []map[string]any{}
		}
		attrs := map[string]any{"name": name, "type": typ, "disabled": false, "node_type": "input"}
		if value != nil {
			attrs["value"] = value
		}
		return map[string]any{"type": "input", "group": group, "attributes": attrs, "messages": msgs, "meta": map[string]any{}}
	}
	nodes := []map[string]any{mk("csrf_token", "hidden", "default", csrf)}
	if kind == "login" {
		nodes = append(nodes, mk("identifier", "text", "default", ""), mk("password", "password", "password", nil))
	} else {
		nodes = append(nodes, mk("traits.email", "email", "default", nil), mk("password", "password", "password", nil))
	}
	ui := map[string]any{
		"action": f.srv.URL + "/self-service/" + kind + "?flow=" + id,
		"method": "POST",
		"nodes":  nodes,
	}
	if uiMessages != nil {
		ui["messages"] = uiMessages
	}
	return map[string]any{
		"id": id, "type": typ, "expires_at": "2026-11-26T05:15:19.319584617Z", "issued_at": "2026-11-26T05:05:19.319584617Z",
		"request_url": f.srv.URL + "/self-service/" + kind + "/" + typ, "ui": ui, "state": "choose_method",
	}
}

func sessionJSONFor(id, identityID, email string) map[string]any {
	ident := map[string]any{"id": identityID, "schema_id": "default", "state": "active", "traits": map[string]any{"email": email}, "metadata_public": nil}
	return map[string]any{
		"id": id, "active": true, "expires_at": "2026-11-27T05:05:19.445023825Z", "authenticated_at": "2026-11-26T05:05:19.445051826Z",
		"authenticator_assurance_level": "aal1", "identity": ident,
	}
}

func (f *fakeKratos) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && (r.URL.Path == "/self-service/registration/api" || r.URL.Path == "/self-service/login/api"):
		kind := strings.Split(r.URL.Path, "/")[2]
		id := f.nextID("f10e")
		f.flows[id] = "api"
		writeJSON(w, 200, f.flowJSON(id, "api", kind, "", nil, nil))
	case r.Method == http.MethodGet && r.URL.Path == "/self-service/login/browser":
		if r.Header.Get("Accept") != "application/json" {
			http.Redirect(w, r, "http://127.0.0.1:4455/login?flow=x", http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			genericErr(w, 400, "session_already_available", "A valid session was detected and thus login is not possible. Did you forget to set `?refresh=true`?", "you are already logged in")
			return
		}
		id := f.nextID("b10e")
		f.flows[id] = "browser"
		f.csrf[id] = "csrf-" + id
		http.SetCookie(w, &http.Cookie{Name: csrfCookieName, Value: "cookie-" + id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		writeJSON(w, 200, f.flowJSON(id, "browser", "login", f.csrf[id], nil, nil))
	case r.Method == http.MethodPost && (r.URL.Path == "/self-service/registration" || r.URL.Path == "/self-service/login"):
		f.submit(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/sessions/whoami":
		tok := r.Header.Get("X-Session-Token")
		c, _ := r.Cookie(sessionCookie)
		if tok == "" && c == nil {
			genericErr(w, 401, "", "No valid session credentials found in the request.", "The request could not be authorized")
			return
		}
		if tok != "" && !strings.HasPrefix(tok, "ory_st_good") {
			genericErr(w, 401, "", "No valid session credentials found in the request.", "The request could not be authorized")
			return
		}
		s := sessionJSONFor("5e55-1", "1de-1", "a@example.com")
		if tpl := r.URL.Query().Get("tokenize_as"); tpl != "" {
			if tpl != "jwt_example" {
				genericErr(w, 400, "", `Unable to find tokenizer template "`+tpl+`".`, "The request was malformed or contained invalid parameters")
				return
			}
			s["tokenized"] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxZGUtMSJ9.sig"
		}
		writeJSON(w, 200, s)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeKratos) submit(w http.ResponseWriter, r *http.Request) {
	kind := strings.TrimPrefix(r.URL.Path, "/self-service/")
	id := r.URL.Query().Get("flow")
	typ, ok := f.flows[id]
	if !ok {
		genericErr(w, 400, "", "The flow query parameter is missing or malformed.", "The request was malformed or contained invalid parameters")
		return
	}
	if f.expireFlows {
		genericErr(w, 410, "self_service_flow_expired", "The self-service flow expired 1.00 minutes ago, initialize a new one.", "self-service flow expired")
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
	}
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		f.t.Errorf("body is not JSON: %v", err)
	}
	f.lastBody = body
	if body["method"] != "password" {
		f.t.Errorf("method = %v", body["method"])
	}
	if typ == "browser" {
		c, err := r.Cookie(csrfCookieName)
		if err != nil || c.Value != "cookie-"+id || body["csrf_token"] != f.csrf[id] {
			genericErr(w, 403, "security_csrf_violation", "The HTTP Request was rejected to protect you from Cross-Site-Request-Forgery (CSRF) which could cause account takeover, leaking personal information, and other serious security issues.", "the request was rejected to protect you from Cross-Site-Request-Forgery")
			return
		}
	}
	password, _ := body["password"].(string)
	switch kind {
	case "registration":
		traits, _ := body["traits"].(map[string]any)
		email, _ := traits["email"].(string)
		if len(password) < 8 {
			writeJSON(w, 400, f.flowJSON(id, typ, kind, "", nil, map[string][]map[string]any{
				"password": {{"id": 4000032, "text": fmt.Sprintf("The password must be at least 8 characters long, but got %d.", len(password)), "type": "error", "context": map[string]any{"actual_length": len(password), "min_length": 8}}},
			}))
			return
		}
		if _, exists := f.users[email]; exists {
			writeJSON(w, 400, f.flowJSON(id, typ, kind, "", []map[string]any{
				{"id": 4000007, "text": "An account with the same identifier (email, phone, username, ...) exists already.", "type": "error"},
			}, nil))
			return
		}
		f.users[email] = password
		identityID := f.nextID("1de")
		ident := map[string]any{"id": identityID, "schema_id": "default", "traits": traits}
		if f.noSessionHook {
			writeJSON(w, 200, map[string]any{"identity": ident})
			return
		}
		tok := "ory_st_good" + identityID
		writeJSON(w, 200, map[string]any{
			"session_token": tok, "session": sessionJSONFor(f.nextID("5e55"), identityID, email), "identity": ident,
			"continue_with": []any{map[string]any{"action": "set_ory_session_token", "ory_session_token": tok}},
		})
	case "login":
		ident, _ := body["identifier"].(string)
		if pw, ok := f.users[ident]; !ok || pw != password {
			writeJSON(w, 400, f.flowJSON(id, typ, kind, f.csrf[id], []map[string]any{
				{"id": 4000006, "text": "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.", "type": "error"},
			}, nil))
			return
		}
		sid := f.nextID("5e55")
		s := sessionJSONFor(sid, "1de-"+ident, ident)
		if typ == "browser" {
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "cookie-" + sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
			writeJSON(w, 200, map[string]any{"session": s})
			return
		}
		writeJSON(w, 200, map[string]any{"session_token": "ory_st_good" + sid, "session": s})
	}
}

const pw = "Correct-Horse-9"

func TestRegisterAndLogin(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()

	res, err := Register(ctx, nil, f.srv.URL+"/", "a@example.com", pw, map[string]any{"name": map[string]any{"first": "Ada"}, "email": "ignored@example.com"})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if !strings.HasPrefix(res.SessionToken, "ory_st_") || res.SessionID == "" || res.IdentityID == "" || res.ExpiresAt.IsZero() {
		t.Fatalf("Register result incomplete: %+v", res)
	}
	traits := f.lastBody["traits"].(map[string]any)
	if traits["email"] != "a@example.com" || traits["name"].(map[string]any)["first"] != "Ada" || f.lastBody["password"] != pw {
		t.Fatalf("registration body = %v", f.lastBody)
	}

	lres, err := Login(ctx, nil, f.srv.URL, "a@example.com", pw)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if !strings.HasPrefix(lres.SessionToken, "ory_st_") || lres.SessionID == "" || lres.SessionID == res.SessionID {
		t.Fatalf("Login result: %+v", lres)
	}
	if f.lastBody["identifier"] != "a@example.com" || f.lastBody["password"] != pw {
		t.Fatalf("login body = %v", f.lastBody)
	}
}

func TestRegisterTraitsNotModified(t *testing.T) {
	f := newFake(t)
	in := map[string]any{"name": map[string]any{"first": "Ada"}}
	if _, err := Register(context.Background(), nil, f.srv.URL, "b@example.com", pw, in); err != nil {
		t.Fatal(err)
	}
	if _, ok := in["email"]; ok || len(in) != 1 {
		t.Fatalf("caller's traits modified: %v", in)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(f *fakeKratos)
		run       func(u string) error
		wantText  []string
		status    int
		errorID   string
		dup, cred bool
	}{
		{
			name:     "duplicate registration",
			setup:    func(f *fakeKratos) { f.users["a@example.com"] = "x" },
			run:      func(u string) error { _, err := Register(ctx, nil, u, "a@example.com", pw, nil); return err },
			wantText: []string{"An account with the same identifier", "exists already", "HTTP 400"},
			status:   400, dup: true,
		},
		{
			name:     "short password",
			run:      func(u string) error { _, err := Register(ctx, nil, u, "a@example.com", "short", nil); return err },
			wantText: []string{"password: The password must be at least 8 characters long, but got 5."},
			status:   400,
		},
		{
			name:     "wrong password",
			setup:    func(f *fakeKratos) { f.users["a@example.com"] = "other-password" },
			run:      func(u string) error { _, err := Login(ctx, nil, u, "a@example.com", pw); return err },
			wantText: []string{"The provided credentials are invalid"},
			status:   400, cred: true,
		},
		{
			name:     "unknown account",
			run:      func(u string) error { _, err := Login(ctx, nil, u, "nobody@example.com", pw); return err },
			wantText: []string{"The provided credentials are invalid"},
			status:   400, cred: true,
		},
		{
			name:     "expired flow",
			setup:    func(f *fakeKratos) { f.expireFlows = true },
			run:      func(u string) error { _, err := Login(ctx, nil, u, "a@example.com", pw); return err },
			wantText: []string{"self_service_flow_expired", "initialize a new one", "HTTP 410"},
			status:   410, errorID: "self_service_flow_expired",
		},
		{
			name:     "not an Ory URL",
			run:      func(u string) error { _, err := Login(ctx, nil, u+"/nope", "a@example.com", pw); return err },
			wantText: []string{"HTTP 404"},
			status:   404,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			err := tc.run(f.srv.URL)
			if err == nil {
				t.Fatal("want error")
			}
			msg := err.Error()
			for _, w := range tc.wantText {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "short\"") || strings.Contains(msg, "ory_st_") {
				t.Errorf("error leaks a secret: %q", msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error is %T, want *Error", err)
			}
			if e.Status != tc.status || e.ErrorID != tc.errorID {
				t.Errorf("Status=%d ErrorID=%q, want %d %q", e.Status, e.ErrorID, tc.status, tc.errorID)
			}
			if IsDuplicateAccount(err) != tc.dup || IsInvalidCredentials(err) != tc.cred {
				t.Errorf("IsDuplicateAccount=%v IsInvalidCredentials=%v", IsDuplicateAccount(err), IsInvalidCredentials(err))
			}
		})
	}
}

func TestRegisterWithoutSessionHook(t *testing.T) {
	f := newFake(t)
	f.noSessionHook = true
	res, err := Register(context.Background(), nil, f.srv.URL, "a@example.com", pw, nil)
	if !errors.Is(err, ErrNoSession) {
		t.Fatalf("err = %v, want ErrNoSession", err)
	}
	if res.IdentityID == "" || res.SessionToken != "" {
		t.Fatalf("res = %+v", res)
	}
}

func TestBadURLAndTransport(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{"", "127.0.0.1:4433", "ftp://x", "http://"} {
		if _, err := Login(ctx, nil, u, "a@example.com", pw); err == nil || !strings.Contains(err.Error(), "invalid Ory public URL") {
			t.Errorf("Login(%q) err = %v", u, err)
		}
	}
	f := newFake(t)
	u := f.srv.URL
	f.srv.Close()
	_, err := Login(ctx, nil, u, "a@example.com", pw)
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("transport error = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Register(cctx, nil, newFake(t).srv.URL, "a@example.com", pw, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled ctx err = %v", err)
	}
}

func TestBrowserLogin(t *testing.T) {
	f := newFake(t)
	f.users["a@example.com"] = pw
	ctx := context.Background()

	if _, err := BrowserLogin(ctx, &http.Client{}, f.srv.URL, "a@example.com", pw); err == nil || !strings.Contains(err.Error(), "cookie jar") {
		t.Fatalf("no jar: err = %v", err)
	}

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if _, err := BrowserLogin(ctx, hc, f.srv.URL, "a@example.com", "wrong-password"); !IsInvalidCredentials(err) || strings.Contains(err.Error(), "wrong-password") {
		t.Fatalf("wrong password: err = %v", err)
	}
	res, err := BrowserLogin(ctx, hc, f.srv.URL, "a@example.com", pw)
	if err != nil {
		t.Fatalf("BrowserLogin: %v", err)
	}
	if !strings.HasPrefix(res.CookieHeader, sessionCookie+"=cookie-") || strings.Contains(res.CookieHeader, "csrf") {
		t.Fatalf("CookieHeader = %q", res.CookieHeader)
	}
	if res.SessionToken != "" || res.SessionID == "" || res.IdentityID == "" {
		t.Fatalf("res = %+v", res)
	}
	if f.lastBody["csrf_token"] == "" || f.lastBody["identifier"] != "a@example.com" {
		t.Fatalf("body = %v", f.lastBody)
	}

	// The cookie header works on whoami, with and without the jar.
	s, err := Whoami(ctx, nil, f.srv.URL, Credentials{Cookie: res.CookieHeader}, "")
	if err != nil || s.ID == "" || s.IdentityID == "" || !s.Active {
		t.Fatalf("Whoami(cookie) = %+v, %v", s, err)
	}

	// A second login with the session in the jar is refused by Ory.
	_, err = BrowserLogin(ctx, hc, f.srv.URL, "a@example.com", pw)
	var e *Error
	if !errors.As(err, &e) || e.ErrorID != "session_already_available" {
		t.Fatalf("second BrowserLogin err = %v", err)
	}
}

func TestWhoami(t *testing.T) {
	f := newFake(t)
	ctx := context.Background()
	s, err := Whoami(ctx, nil, f.srv.URL, Credentials{SessionToken: "ory_st_good1"}, "jwt_example")
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokenized == "" || s.AAL != "aal1" || s.ExpiresAt.IsZero() {
		t.Fatalf("s = %+v", s)
	}
	_, err = Whoami(ctx, nil, f.srv.URL, Credentials{SessionToken: "ory_st_bad"}, "")
	var e *Error
	if !errors.As(err, &e) || e.Status != 401 || strings.Contains(err.Error(), "ory_st_bad") {
		t.Fatalf("bad token err = %v", err)
	}
	_, err = Whoami(ctx, nil, f.srv.URL, Credentials{SessionToken: "ory_st_good1"}, "nope")
	if err == nil || !strings.Contains(err.Error(), `Unable to find tokenizer template "nope"`) {
		t.Fatalf("unknown template err = %v", err)
	}
}
