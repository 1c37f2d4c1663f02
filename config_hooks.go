package main

import (
	"strings"
)

// Bounds of ORY_WEBHOOK_SECRET. Anyone who has it can set the role of every new
// identity: 32 characters is the least a random secret needs (openssl rand -hex 32
// makes 64).
const (
	minWebhookSecret = 32
	maxWebhookSecret = 256
)

// webhookConfig reads the Ory webhooks' variables; a bad value is reported
// through bad, never quoting the secret.
func webhookConfig(getenv func(string) string, bad func(string, string, ...any)) (secret string, blocked []string) {
	secret = getenv("ORY_WEBHOOK_SECRET")
	switch {
	case secret == "":
	case len(secret) < minWebhookSecret || len(secret) > maxWebhookSecret:
		bad("ORY_WEBHOOK_SECRET", "must be %d to %d characters (it has %d): make one with `openssl rand -hex 32`", minWebhookSecret, maxWebhookSecret, len(secret))
		secret = ""
	case !isVisibleASCII(secret):
		bad("ORY_WEBHOOK_SECRET", "must be printable ASCII without spaces (Ory sends it in a header): make one with `openssl rand -hex 32`")
		secret = ""
	}

	raw := getenv("ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS")
	for d := range strings.SplitSeq(raw, ",") {
		d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" {
			continue
		}
		if !isDomain(d) {
			bad("ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "%q is not a domain like mailinator.com (its subdomains are blocked with it)", d)
			continue
		}
		blocked = append(blocked, d)
	}
	if strings.TrimSpace(raw) != "" && getenv("ORY_WEBHOOK_SECRET") == "" {
		bad("ORY_WEBHOOK_BLOCKED_EMAIL_DOMAINS", "is checked by the Ory webhooks: set ORY_WEBHOOK_SECRET and wire the hooks (kratos/hooks.yml)")
	}
	return secret, blocked
}

func isVisibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// isDomain accepts lower-case DNS names of two labels or more.
func isDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z') {
				return false
			}
		}
	}
	return true
}
