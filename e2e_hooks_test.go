//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
	"github.com/example/ory-gin-starter/handlers"
)

const e2eWebhookSecret = "e2e-webhook-secret-0123456789abcdefghijkl"

// TestE2EHooks runs Kratos with kratos/hooks.yml, its web hooks calling the
// service (through a recorder that can also play a wrong secret or a lost reply),
// and checks what users and the Admin API see.
func TestE2EHooks(t *testing.T) {
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rec := newHookRecorder("http://127.0.0.1:" + strconv.Itoa(port))
	k := kratostest.Start(t, kratostest.WithHooks(rec.URL, e2eWebhookSecret))
	svc := startService(t, k, map[string]string{
		"PORT":                              strconv.Itoa(port),
		"ORY_WEBHOOK_SECRET":                e2eWebhookSecret,
		"ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "mailinator.com",
	})
	t.Cleanup(func() {
		rec.checkReplies(t, svc.api)
		// The service's log shows the webhook routes and statuses, never the secret,
		// a password or an email of the payload.
		logs := svc.Logs.String()
		for _, s := range []string{e2eWebhookSecret, password, "@example.com", "@mailinator.com"} {
			if strings.Contains(logs, s) {
				t.Errorf("the service's log contains %q", s)
			}
		}
	})

	t.Run("registration gives the role user", func(t *testing.T) {
		res := k.Register(t, k.NewEmail(), password)
		md, _ := k.Identity(t, res.IdentityID)["metadata_public"].(map[string]any)
		if md["role"] != "user" {
			t.Errorf("metadata_public = %v, want role user", md)
		}
		// Not an admin: the service reads the role Ory saved.
		svc.expect(t, 403, "GET", "/api/admin/identities", bearer(res.SessionToken)...)
	})

	t.Run("the payload is the one kratos/hooks.jsonnet describes", func(t *testing.T) {
		email := k.NewEmail()
		res := k.Register(t, email, password)
		d := rec.last(t, "/hooks/ory/registration")
		sameShape(t, d.body, "handlers/testdata/hook_registration.json")
		var p struct {
			Identity struct {
				ID     string         `json:"id"`
				Traits map[string]any `json:"traits"`
			} `json:"identity"`
		}
		if err := json.Unmarshal(d.body, &p); err != nil {
			t.Fatal(err)
		}
		// The identity is not saved yet: a retry cannot be told apart by its id.
		if p.Identity.ID != "00000000-0000-0000-0000-000000000000" || p.Identity.Traits["email"] != email {
			t.Errorf("payload identity = %+v, want the nil id and %s", p.Identity, email)
		}
		for _, s := range []string{password, res.SessionToken, "cookie", "credentials"} {
			if bytes.Contains(d.body, []byte(s)) {
				t.Errorf("payload contains %q: %s", s, d.body)
			}
		}
		if d.header.Get(handlers.WebhookSecretHeader) != e2eWebhookSecret || d.header.Get("Cookie") != "" || d.header.Get("Authorization") != "" {
			t.Errorf("headers = %v, want the secret and no credentials", redact(d.header))
		}
	})

	t.Run("a blocked domain is refused with Ory's message", func(t *testing.T) {
		email := fmt.Sprintf("kt-%d@eu.mailinator.com", time.Now().UnixNano())
		_, err := oryflow.Register(t.Context(), nil, k.PublicURL(), email, password, nil)
		var e *oryflow.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || !hasFieldMessage(e, "traits.email", handlers.MessageEmailDomainBlocked) {
			t.Fatalf("register %s: %v, want 400 with message %d on traits.email", email, err, handlers.MessageEmailDomainBlocked)
		}
		if n := identitiesWith(t, k, email); n != 0 {
			t.Errorf("identities with %s = %d, want 0", email, n)
		}
	})

	t.Run("a wrong secret fails the registration", func(t *testing.T) {
		rec.wrongSecret.Store(true)
		defer rec.wrongSecret.Store(false)
		email := k.NewEmail()
		_, err := oryflow.Register(t.Context(), nil, k.PublicURL(), email, password, nil)
		// Kratos ends the flow with an error, not a form to correct: the service's 401
		// carries no messages.
		var e *oryflow.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || len(e.Messages) != 0 || !strings.Contains(e.Reason, "webhook") {
			t.Fatalf("register: %v, want Kratos's webhook error", err)
		}
		if d := rec.last(t, "/hooks/ory/registration"); d.status != http.StatusUnauthorized {
			t.Errorf("service answered %d, want %d", d.status, http.StatusUnauthorized)
		}
		if n := identitiesWith(t, k, email); n != 0 {
			t.Errorf("identities with %s = %d, want 0", email, n)
		}
	})

	t.Run("a lost reply is retried and gets the same answer", func(t *testing.T) {
		before := rec.count("/hooks/ory/registration")
		rec.dropReplies.Store(1)
		res := k.Register(t, k.NewEmail(), password)
		ds := rec.since("/hooks/ory/registration", before)
		if len(ds) != 2 || !bytes.Equal(ds[0].body, ds[1].body) || !bytes.Equal(ds[0].reply, ds[1].reply) {
			t.Fatalf("deliveries = %d, want 2 equal ones with equal replies", len(ds))
		}
		md, _ := k.Identity(t, res.IdentityID)["metadata_public"].(map[string]any)
		if len(md) != 1 || md["role"] != "user" {
			t.Errorf("metadata_public = %v, want only role user", md)
		}
	})

	t.Run("settings: a new email of a blocked domain is refused", func(t *testing.T) {
		res := k.Register(t, k.NewEmail(), password)
		blocked := fmt.Sprintf("kt-%d@mailinator.com", time.Now().UnixNano())
		status, f := updateProfile(t, k, res.SessionToken, blocked)
		if status != http.StatusBadRequest || !hasFieldMessage(&oryflow.Error{Messages: f}, "traits.email", handlers.MessageEmailDomainBlocked) {
			t.Fatalf("settings = %d %v, want 400 with message %d on traits.email", status, f, handlers.MessageEmailDomainBlocked)
		}
		sameShape(t, rec.last(t, "/hooks/ory/settings").body, "handlers/testdata/hook_settings.json")

		fine := k.NewEmail()
		if status, f := updateProfile(t, k, res.SessionToken, fine); status != http.StatusOK {
			t.Fatalf("settings = %d %v, want 200", status, f)
		}
		traits, _ := k.Identity(t, res.IdentityID)["traits"].(map[string]any)
		if traits["email"] != fine {
			t.Errorf("email = %v, want %s", traits["email"], fine)
		}
	})
}

// delivery is one web hook call Kratos made, and the service's answer.
type delivery struct {
	path   string
	header http.Header
	body   []byte
	status int
	rhdr   http.Header
	reply  []byte
}

// hookRecorder sits between Kratos and the service: it keeps every delivery, can
// replace the secret with a wrong one, and can answer 503 in place of the
// service's reply (which Kratos retries).
type hookRecorder struct {
	*httptest.Server
	target      string
	wrongSecret atomic.Bool
	dropReplies atomic.Int32

	mu   sync.Mutex
	seen []delivery
}

func newHookRecorder(target string) *hookRecorder {
	h := &hookRecorder{target: target}
	h.Server = httptest.NewServer(h)
	return h
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, h.target+r.URL.Path, bytes.NewReader(body))
	req.Header = r.Header.Clone()
	if h.wrongSecret.Load() {
		req.Header.Set(handlers.WebhookSecretHeader, strings.Repeat("w", len(e2eWebhookSecret)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, "service unreachable", http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	h.mu.Lock()
	h.seen = append(h.seen, delivery{path: r.URL.Path, header: r.Header.Clone(), body: body, status: resp.StatusCode, rhdr: resp.Header.Clone(), reply: reply})
	h.mu.Unlock()
	for n := h.dropReplies.Load(); n > 0; n = h.dropReplies.Load() {
		if h.dropReplies.CompareAndSwap(n, n-1) {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(reply)
}

func (h *hookRecorder) count(path string) int { return len(h.since(path, 0)) }

// since returns the deliveries to path after the first n.
func (h *hookRecorder) since(path string, n int) []delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []delivery
	for _, d := range h.seen {
		if d.path == path {
			out = append(out, d)
		}
	}
	return out[min(n, len(out)):]
}

func (h *hookRecorder) last(t *testing.T, path string) delivery {
	t.Helper()
	ds := h.since(path, 0)
	if len(ds) == 0 {
		t.Fatalf("Kratos made no delivery to %s", path)
	}
	return ds[len(ds)-1]
}

// checkReplies holds every answer the service gave Kratos to openapi.yaml.
func (h *hookRecorder) checkReplies(t *testing.T, v *apitest.Validator) {
	t.Helper()
	h.mu.Lock()
	seen := append([]delivery(nil), h.seen...)
	h.mu.Unlock()
	for _, d := range seen {
		req, _ := http.NewRequest(http.MethodPost, h.target+d.path, bytes.NewReader(d.body))
		req.Header = d.header
		v.Check(t, req, d.status, d.rhdr, d.reply)
	}
}

// sameShape fails t unless got has the keys and JSON types of the fixture file,
// which the handlers' unit tests feed the service.
func sameShape(t *testing.T, got []byte, fixture string) {
	t.Helper()
	want, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("payload %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", fixture, err)
	}
	if !reflect.DeepEqual(shape(g), shape(w)) {
		t.Errorf("Kratos sent %s, which is not shaped like %s: %s", got, fixture, want)
	}
}

// shape replaces every value of v but objects with its JSON type.
func shape(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = shape(x)
		}
		return m
	case []any:
		return "array"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func hasFieldMessage(e *oryflow.Error, field string, id int) bool {
	for _, m := range e.Messages {
		if m.Field == field && m.ID == int64(id) && m.Type == "error" && m.Text != "" {
			return true
		}
	}
	return false
}

// identitiesWith counts the identities whose password identifier is email.
func identitiesWith(t *testing.T, k *kratostest.Kratos, email string) int {
	t.Helper()
	resp, err := http.Get(k.AdminURL() + "/admin/identities?credentials_identifier=" + url.QueryEscape(email))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ids []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&ids); err != nil {
		t.Fatalf("list identities: HTTP %d: %v", resp.StatusCode, err)
	}
	return len(ids)
}

// updateProfile changes the identity's email through the API settings flow and
// returns Kratos's status and the flow's messages.
func updateProfile(t *testing.T, k *kratostest.Kratos, token, email string) (int, []oryflow.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	do := func(method, u string, body any) (int, []byte) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequestWithContext(ctx, method, u, rd)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Session-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	status, raw := do(http.MethodGet, k.PublicURL()+"/self-service/settings/api", nil)
	var f struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &f); status != http.StatusOK || err != nil || f.ID == "" {
		t.Fatalf("settings flow: HTTP %d: %s", status, raw)
	}
	status, raw = do(http.MethodPost, k.PublicURL()+"/self-service/settings?flow="+url.QueryEscape(f.ID),
		map[string]any{"method": "profile", "traits": map[string]any{"email": email}})
	var out struct {
		UI struct {
			Messages []oryflow.Message `json:"messages"`
			Nodes    []struct {
				Attributes struct {
					Name string `json:"name"`
				} `json:"attributes"`
				Messages []oryflow.Message `json:"messages"`
			} `json:"nodes"`
		} `json:"ui"`
	}
	_ = json.Unmarshal(raw, &out)
	msgs := out.UI.Messages
	for _, n := range out.UI.Nodes {
		for _, m := range n.Messages {
			m.Field = n.Attributes.Name
			msgs = append(msgs, m)
		}
	}
	return status, msgs
}

// redact shows header names only.
func redact(h http.Header) []string {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	return names
}
