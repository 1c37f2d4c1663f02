package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultURL(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://127.0.0.1:4433"},
		{map[string]string{"ORY_PROJECT_SLUG": "happy-cat-123"}, "https://happy-cat-123.projects.oryapis.com"},
		{map[string]string{"ORY_PROJECT_SLUG": "x", "ORY_SDK_URL": "http://127.0.0.1:9"}, "http://127.0.0.1:9"},
	}
	for _, tc := range tests {
		if got := defaultURL(env(tc.env)); got != tc.want {
			t.Errorf("defaultURL(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{}, nil, "-email"},
		{[]string{"-email", "a@example.com"}, nil, "ORY_PASSWORD"},
		{[]string{"-email", "a@example.com", "-traits", "[1]"}, map[string]string{"ORY_PASSWORD": "p"}, "-traits"},
		{[]string{"-email", "a@example.com", "extra"}, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		var out, errb bytes.Buffer
		if code := run(context.Background(), tc.args, env(tc.env), &out, &errb); code != 2 {
			t.Errorf("run(%v) = %d, want 2", tc.args, code)
		}
		if out.Len() != 0 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("run(%v): stdout %q stderr %q", tc.args, out.String(), errb.String())
		}
	}
}

// fake is a minimal Kratos: login fails with invalid credentials until the account is
// registered.
func fake(t *testing.T) *httptest.Server {
	registered := false
	flow := func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "type": "api", "ui": map[string]any{"nodes": []any{}}})
	}
	invalid := `{"id":"f1","type":"api","ui":{"nodes":[],"messages":[{"id":4000006,"text":"The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.","type":"error"}]}}`
	ok := `{"session_token":"ory_st_abc","session":{"id":"s1","identity":{"id":"i1"}}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/self-service/login/api", "/self-service/registration/api":
			flow(w, "f1")
		case "/self-service/login":
			if !registered {
				w.WriteHeader(400)
				_, _ = w.Write([]byte(invalid))
				return
			}
			_, _ = w.Write([]byte(ok))
		case "/self-service/registration":
			registered = true
			_, _ = w.Write([]byte(ok))
		case "/sessions/whoami":
			if r.Header.Get("X-Session-Token") != "ory_st_abc" || r.URL.Query().Get("tokenize_as") != "jwt_example" {
				w.WriteHeader(401)
				_, _ = w.Write([]byte(`{"error":{"code":401,"reason":"No valid session credentials found in the request."}}`))
				return
			}
			_, _ = w.Write([]byte(`{"id":"s1","tokenized":"eyJ.eyJ.sig","identity":{"id":"i1"}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestLoginRegisterTokenize(t *testing.T) {
	srv := fake(t)
	e := env(map[string]string{"ORY_SDK_URL": srv.URL, "ORY_PASSWORD": "secret-password"})

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-email", "a@example.com"}, e, &out, &errb); code != 1 {
		t.Fatalf("login without -register = %d", code)
	}
	if out.Len() != 0 || !strings.Contains(errb.String(), "credentials are invalid") || !strings.Contains(errb.String(), "-register") || strings.Contains(errb.String(), "secret-password") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"-email", "a@example.com", "-register"}, e, &out, &errb); code != 0 {
		t.Fatalf("-register = %d: %s", code, errb.String())
	}
	if out.String() != "ory_st_abc\n" || !strings.Contains(errb.String(), "registered") {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}

	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"-email", "a@example.com", "-tokenize-as", "jwt_example", "-q"}, e, &out, &errb); code != 0 {
		t.Fatalf("-tokenize-as = %d: %s", code, errb.String())
	}
	if out.String() != "eyJ.eyJ.sig\n" || errb.Len() != 0 {
		t.Fatalf("stdout %q stderr %q", out.String(), errb.String())
	}
}
