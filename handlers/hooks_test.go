package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/handlers"
)

const (
	hookSecret   = "hooks-test-secret-0123456789abcdefghij"
	registration = "/hooks/ory/registration"
	settings     = "/hooks/ory/settings"
)

// hookEnv is the service with its Ory webhooks on, the secret and the fixture's
// email remembered as values no response body or log line may show.
func hookEnv(t *testing.T, blocked ...string) *env {
	t.Helper()
	e := newEnv(t, envOptions{webhooks: handlers.Webhooks{Secret: hookSecret, BlockedEmailDomains: blocked}})
	e.secret(hookSecret, "new.user@example.com")
	return e
}

// hook POSTs body to path as Ory does (JSON, the secret in its header unless
// secret is ""), with more headers (name, value, ...), checks the answer against
// openapi.yaml and returns it.
func (e *env) hook(t testing.TB, path, secret string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(handlers.WebhookSecretHeader, secret)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out := e.v.CheckResponse(t, resp)
	e.record(out)
	return resp, out
}

// fixture is a payload as kratos/hooks.jsonnet makes Kratos send it (captured from
// Kratos; the e2e tests hold the files to what Kratos really sends).
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// payload is the registration fixture with metadata_public replaced by md (JSON).
func payload(t testing.TB, email, md string) []byte {
	t.Helper()
	var p map[string]map[string]any
	if err := json.Unmarshal(fixture(t, "hook_registration.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["identity"]["metadata_public"] = json.RawMessage(md)
	p["identity"]["traits"] = map[string]any{"email": email}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHooksAbsentWithoutSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for _, path := range []string{registration, settings} {
		resp, body := e.do(t, http.MethodPost, path, "")
		e.expect(t, resp, body, http.StatusNotFound)
		// Without the routes, a body is refused unread like on any other path.
		resp, body = e.hook(t, path, hookSecret, fixture(t, "hook_registration.json"))
		e.expect(t, resp, body, http.StatusRequestEntityTooLarge)
	}
}

// TestHookSecret: only the configured secret, alone in its header, gets in; a
// refused caller's body is never read.
func TestHookSecret(t *testing.T) {
	t.Parallel()
	e := hookEnv(t)
	body := fixture(t, "hook_registration.json")
	tests := []struct {
		name   string
		secret string
		header []string
		want   int
	}{
		{"the secret", hookSecret, nil, http.StatusOK},
		{"header name in lower case", "", []string{strings.ToLower(handlers.WebhookSecretHeader), hookSecret}, http.StatusOK},
		{"no secret", "", nil, http.StatusUnauthorized},
		{"wrong secret of the same length", strings.Repeat("x", len(hookSecret)), nil, http.StatusUnauthorized},
		{"the secret and more", hookSecret + "x", nil, http.StatusUnauthorized},
		{"a prefix of the secret", hookSecret[:len(hookSecret)-1], nil, http.StatusUnauthorized},
		{"the secret in upper case", strings.ToUpper(hookSecret), nil, http.StatusUnauthorized},
		{"the secret as a bearer token", "", []string{"Authorization", "Bearer " + hookSecret}, http.StatusUnauthorized},
		{"the secret as a basic auth password", "", []string{"Authorization", "Basic b3J5Omhvb2tzLXRlc3Qtc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWZnaGlq"}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		for _, path := range []string{registration, settings} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				resp, out := e.hook(t, path, tt.secret, body, tt.header...)
				got := resp.StatusCode
				if got == http.StatusNoContent {
					got = http.StatusOK // the settings hook has nothing to change
				}
				if got != tt.want {
					t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, out)
				}
				if tt.want == http.StatusUnauthorized && !strings.Contains(string(out), `"code":"unauthorized"`) {
					t.Errorf("body = %s, want an unauthorized problem", out)
				}
			})
		}
	}

	t.Run("the header twice", func(t *testing.T) {
		raw := head("POST", registration, handlers.WebhookSecretHeader+": "+hookSecret, handlers.WebhookSecretHeader+": "+hookSecret,
			"Content-Type: application/json", "Content-Length: "+strconv.Itoa(len(body)))
		resp, out, err := e.sendRaw(raw, "POST", func(w io.Writer) { _, _ = w.Write(body) })
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status = %d, want %d; body %s", resp.StatusCode, http.StatusUnauthorized, out)
		}
	})
	t.Run("a refused body is not read", func(t *testing.T) {
		raw := head("POST", registration, handlers.WebhookSecretHeader+": wrong", "Content-Type: application/json", "Transfer-Encoding: chunked")
		start := time.Now()
		resp, out, err := e.sendRaw(raw, "POST", func(w io.Writer) {
			_, _ = io.WriteString(w, "5\r\n{\"ide\r\n")
			time.Sleep(3 * time.Second) // the rest never comes in time
		})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status = %d, want %d; body %s", resp.StatusCode, http.StatusUnauthorized, out)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("answered after %s: the body was waited for", took)
		}
	})
}

// TestRegistrationHookDefaults: a new identity gets role "user" next to what its
// metadata_public already holds; a role that is set stays as it is, and the reply
// never grants admin.
func TestRegistrationHookDefaults(t *testing.T) {
	t.Parallel()
	e := hookEnv(t)
	tests := []struct {
		name string
		md   string
		want int
		// reply is the metadata_public of the 200 reply.
		reply string
	}{
		{"none", `null`, http.StatusOK, `{"role":"user"}`},
		{"empty", `{}`, http.StatusOK, `{"role":"user"}`},
		{"other keys kept", `{"plan":"pro","n":12345678901234567890}`, http.StatusOK, `{"n":12345678901234567890,"plan":"pro","role":"user"}`},
		{"null role is unset", `{"role":null}`, http.StatusOK, `{"role":"user"}`},
		{"role user already", `{"role":"user"}`, http.StatusNoContent, ``},
		{"admin is never downgraded", `{"role":"admin","plan":"pro"}`, http.StatusNoContent, ``},
		{"another role is kept", `{"role":"viewer"}`, http.StatusNoContent, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := e.hook(t, registration, hookSecret, payload(t, "new.user@example.com", tt.md))
			e.expect(t, resp, out, tt.want)
			if tt.want == http.StatusNoContent {
				if len(out) != 0 {
					t.Errorf("body = %s, want none", out)
				}
				return
			}
			var got struct {
				Identity struct {
					MetadataPublic json.RawMessage `json:"metadata_public"`
				} `json:"identity"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("reply %s: %v", out, err)
			}
			if string(got.Identity.MetadataPublic) != tt.reply {
				t.Errorf("metadata_public = %s, want %s", got.Identity.MetadataPublic, tt.reply)
			}
			if bytes.Contains(out, []byte("admin")) {
				t.Errorf("reply %s grants admin", out)
			}
		})
	}
}

// TestRegistrationHookIdempotent: a delivery Ory retries gets the same reply, and
// the identity the reply made changes nothing more when it comes back.
func TestRegistrationHookIdempotent(t *testing.T) {
	t.Parallel()
	e := hookEnv(t)
	in := payload(t, "new.user@example.com", `{"plan":"pro"}`)
	_, first := e.hook(t, registration, hookSecret, in)
	_, again := e.hook(t, registration, hookSecret, in)
	if !bytes.Equal(first, again) {
		t.Errorf("retried delivery: reply %s, first %s", again, first)
	}
	var reply struct {
		Identity struct {
			MetadataPublic json.RawMessage `json:"metadata_public"`
		} `json:"identity"`
	}
	if err := json.Unmarshal(first, &reply); err != nil {
		t.Fatal(err)
	}
	resp, out := e.hook(t, registration, hookSecret, payload(t, "new.user@example.com", string(reply.Identity.MetadataPublic)))
	e.expect(t, resp, out, http.StatusNoContent)
}

// TestHookBadPayloads: anything but the payload kratos/hooks.jsonnet makes is a
// 400 (413 past the size limit), never a 5xx and never a reply that changes the
// identity.
func TestHookBadPayloads(t *testing.T) {
	t.Parallel()
	e := hookEnv(t)
	good := string(fixture(t, "hook_registration.json"))
	const id = `"id":"00000000-0000-0000-0000-000000000000"`
	tests := []struct {
		name   string
		body   string
		header []string
		want   int
	}{
		{"empty", ``, nil, http.StatusBadRequest},
		{"not JSON", `identity=1`, nil, http.StatusBadRequest},
		{"an array", `[` + good + `]`, nil, http.StatusBadRequest},
		{"two objects", good + good, nil, http.StatusBadRequest},
		{"trailing garbage", good + `x`, nil, http.StatusBadRequest},
		{"truncated", good[:len(good)/2], nil, http.StatusBadRequest},
		{"no identity", `{}`, nil, http.StatusBadRequest},
		{"identity null", `{"identity":null}`, nil, http.StatusBadRequest},
		{"unknown top-level field", `{"identity":{` + id + `},"request_cookies":{"ory_kratos_session":"x"}}`, nil, http.StatusBadRequest},
		{"credentials sent", `{"identity":{` + id + `,"credentials":{"password":{}}}}`, nil, http.StatusBadRequest},
		{"unknown trait", `{"identity":{` + id + `,"traits":{"email":"a@example.com","name":"x"}}}`, nil, http.StatusBadRequest},
		{"id not a uuid", `{"identity":{"id":"42"}}`, nil, http.StatusBadRequest},
		{"no id", `{"identity":{"traits":{"email":"a@example.com"}}}`, nil, http.StatusBadRequest},
		{"email not a string", `{"identity":{` + id + `,"traits":{"email":42}}}`, nil, http.StatusBadRequest},
		{"email without @", `{"identity":{` + id + `,"traits":{"email":"example.com"}}}`, nil, http.StatusBadRequest},
		{"metadata_public a string", `{"identity":{` + id + `,"metadata_public":"admin"}}`, nil, http.StatusBadRequest},
		{"metadata_public an array", `{"identity":{` + id + `,"metadata_public":["admin"]}}`, nil, http.StatusBadRequest},
		{"form encoded", good, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusBadRequest},
		{"no content type", good, []string{"Content-Type", ""}, http.StatusBadRequest},
		{"just over the size limit", `{"identity":{` + id + `,"metadata_public":{"pad":"` + strings.Repeat("x", 64<<10) + `"}}}`, nil, http.StatusRequestEntityTooLarge},
		{"near the size limit", `{"identity":{` + id + `,"metadata_public":{"pad":"` + strings.Repeat("x", 60<<10) + `"}}}`, nil, http.StatusOK},
		{"charset parameter", good, []string{"Content-Type", "application/json; charset=utf-8"}, http.StatusOK},
		{"no email", `{"identity":{` + id + `,"traits":{},"metadata_public":null}}`, nil, http.StatusOK},
	}
	for _, tt := range tests {
		for _, path := range []string{registration, settings} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				resp, out := e.hook(t, path, hookSecret, []byte(tt.body), tt.header...)
				got := resp.StatusCode
				if got == http.StatusNoContent {
					got = http.StatusOK
				}
				if got != tt.want {
					t.Fatalf("status = %d, want %d; body %.300s", resp.StatusCode, tt.want, out)
				}
			})
		}
	}

	t.Run("chunked past the size limit", func(t *testing.T) {
		raw := head("POST", registration, handlers.WebhookSecretHeader+": "+hookSecret, "Content-Type: application/json", "Transfer-Encoding: chunked")
		resp, out, err := e.sendRaw(raw, "POST", chunkedBody(128<<10))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d, want %d; body %.300s", resp.StatusCode, http.StatusRequestEntityTooLarge, out)
		}
	})
}

// TestHooksRefuseBlockedEmailDomains: an email of a blocked domain (or one of its
// subdomains) is refused with the message Ory shows on the email field, on
// registration and when the email is changed in settings.
func TestHooksRefuseBlockedEmailDomains(t *testing.T) {
	t.Parallel()
	e := hookEnv(t, "mailinator.com", "spam.test")
	tests := []struct {
		email string
		want  int
	}{
		{"x@mailinator.com", http.StatusUnprocessableEntity},
		{"x@MailInator.COM", http.StatusUnprocessableEntity},
		{"x@eu.mailinator.com", http.StatusUnprocessableEntity},
		{"x@mailinator.com.", http.StatusUnprocessableEntity},
		{`"x@y"@spam.test`, http.StatusUnprocessableEntity},
		{"x@notmailinator.com", http.StatusOK},
		{"mailinator.com@example.com", http.StatusOK},
		{"x@mailinator.com.example.com", http.StatusOK},
	}
	for _, tt := range tests {
		for _, path := range []string{registration, settings} {
			t.Run(tt.email+" "+path, func(t *testing.T) {
				resp, out := e.hook(t, path, hookSecret, payload(t, tt.email, `null`))
				got := resp.StatusCode
				if got == http.StatusNoContent {
					got = http.StatusOK
				}
				if got != tt.want {
					t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, out)
				}
				if tt.want != http.StatusUnprocessableEntity {
					return
				}
				// The shape Kratos reads (selfservice/hook/web_hook.go: rawHookResponse).
				var r struct {
					Code     string `json:"code"`
					Messages []struct {
						InstancePtr string `json:"instance_ptr"`
						Messages    []struct {
							ID   int    `json:"id"`
							Text string `json:"text"`
							Type string `json:"type"`
						} `json:"messages"`
					} `json:"messages"`
				}
				if err := json.Unmarshal(out, &r); err != nil {
					t.Fatal(err)
				}
				if r.Code != "email_domain_blocked" || len(r.Messages) != 1 || r.Messages[0].InstancePtr != "#/traits/email" ||
					len(r.Messages[0].Messages) != 1 || r.Messages[0].Messages[0].ID != handlers.MessageEmailDomainBlocked ||
					r.Messages[0].Messages[0].Type != "error" || r.Messages[0].Messages[0].Text == "" {
					t.Errorf("refusal = %s, want one error message on #/traits/email", out)
				}
				if strings.Contains(string(out), "x@") {
					t.Errorf("refusal %s repeats the email", out)
				}
			})
		}
	}
}
