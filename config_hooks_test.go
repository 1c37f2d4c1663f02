package main

import (
	"bytes"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

const unitWebhookSecret = "config-test-webhook-secret-0123456789"

func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		env         map[string]string
		wantErr     string // the variable the one error line names; "" for none
		wantSecret  string
		wantDomains []string
	}{
		{"off by default", nil, "", "", nil},
		{"secret", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret}, "", unitWebhookSecret, nil},
		{"secret too short", map[string]string{"ORY_WEBHOOK_SECRET": "short-secret"}, "ORY_WEBHOOK_SECRET", "", nil},
		{"secret one short of the minimum", map[string]string{"ORY_WEBHOOK_SECRET": strings.Repeat("s", 31)}, "ORY_WEBHOOK_SECRET", "", nil},
		{"secret at the minimum", map[string]string{"ORY_WEBHOOK_SECRET": strings.Repeat("s", 32)}, "", strings.Repeat("s", 32), nil},
		{"secret with a space", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret + " x"}, "ORY_WEBHOOK_SECRET", "", nil},
		{"secret not ASCII", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret + "é"}, "ORY_WEBHOOK_SECRET", "", nil},
		{"secret too long", map[string]string{"ORY_WEBHOOK_SECRET": strings.Repeat("s", 257)}, "ORY_WEBHOOK_SECRET", "", nil},
		{"blocked domains", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": " Mailinator.com, ,spam.example. "},
			"", unitWebhookSecret, []string{"mailinator.com", "spam.example"}},
		{"blocked domains without the webhooks", map[string]string{"ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "mailinator.com"}, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "", nil},
		{"an address, not a domain", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "x@mailinator.com"}, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "", nil},
		{"a URL, not a domain", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "https://mailinator.com"}, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "", nil},
		{"a wildcard", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "*.mailinator.com"}, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "", nil},
		{"a top-level domain alone", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS": "com"}, "ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := loadConfig(envOf(tt.env))
			if tt.wantErr != "" {
				wantErrorLines(t, err, tt.wantErr)
				if s := tt.env["ORY_WEBHOOK_SECRET"]; s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig() error = %v", err)
			}
			if c.WebhookSecret != tt.wantSecret || !slices.Equal(c.BlockedEmailDomains, tt.wantDomains) {
				t.Errorf("webhooks = %q %q, want %q %q", c.WebhookSecret, c.BlockedEmailDomains, tt.wantSecret, tt.wantDomains)
			}
			want := "webhooks=off"
			if tt.wantSecret != "" {
				want = "webhooks=on"
			}
			if s := c.String(); !strings.Contains(s, want) || (tt.wantSecret != "" && strings.Contains(s, tt.wantSecret)) {
				t.Errorf("String() = %q, want %s and never the secret", s, want)
			}
		})
	}
}

// TestRunWiresWebhooks: run serves the webhooks with the secret from the
// environment, and has no such routes without it.
func TestRunWiresWebhooks(t *testing.T) {
	t.Parallel()
	payload, err := os.ReadFile("handlers/testdata/hook_registration.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want int
	}{
		{"on", map[string]string{"ORY_WEBHOOK_SECRET": unitWebhookSecret}, http.StatusOK},
		{"off", nil, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := startRun(t, tt.env)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, svc.URL+"/hooks/ory/registration", bytes.NewReader(payload))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Ory-Webhook-Secret", unitWebhookSecret)
			resp, err := svc.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := svc.api.CheckResponse(t, resp)
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d; body %s", resp.StatusCode, tt.want, body)
			}
			if strings.Contains(svc.Logs.String(), unitWebhookSecret) {
				t.Error("the log shows the webhook secret")
			}
		})
	}
}
