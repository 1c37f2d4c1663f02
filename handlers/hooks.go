package handlers

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/problem"
)

// WebhookSecretHeader is the header Ory sends the webhook secret in (the web hook's
// auth: api_key, in: header; see kratos/hooks.yml).
const WebhookSecretHeader = "X-Ory-Webhook-Secret"

// DefaultRole is the role every new identity gets; admins are made through the
// Admin API only.
const DefaultRole = "user"

// MessageEmailDomainBlocked is the id of the message Ory shows on the email field
// when its domain is blocked, for UIs that translate messages by id. It is in a
// block of ids Kratos's own messages do not use.
const MessageEmailDomainBlocked = 4090001

// hooksPrefix is where the Ory webhooks live: the only routes that take a body.
const hooksPrefix = "/hooks/ory/"

// maxHookBody bounds a webhook's body: kratos/hooks.jsonnet sends a few hundred
// bytes, and metadata_public is the only part that can grow.
const maxHookBody = 64 << 10

// Webhooks configures the Ory Actions webhooks; with no Secret the routes do not
// exist.
type Webhooks struct {
	// Secret is what Ory sends in WebhookSecretHeader.
	Secret string
	// BlockedEmailDomains are refused at registration and when an email is changed,
	// with their subdomains.
	BlockedEmailDomains []string
}

// hookPayload is the body kratos/hooks.jsonnet makes Kratos send; anything else is
// refused, so a jsonnet that starts sending credentials or cookies fails loudly.
type hookPayload struct {
	Identity *struct {
		ID     string `json:"id"`
		Traits struct {
			Email *string `json:"email"`
		} `json:"traits"`
		// Kept raw, so that the reply hands every other key back to Ory as it came.
		MetadataPublic map[string]json.RawMessage `json:"metadata_public"`
	} `json:"identity"`
}

// requireWebhookSecret lets through only requests that carry the secret, once,
// before their body is read. Hashing both sides makes the comparison's time
// independent of the secret's length as well as of its bytes; a header sent twice
// is compared joined, so it never matches.
func requireWebhookSecret(secret string) gin.HandlerFunc {
	want := sha256.Sum256([]byte(secret))
	return func(c *gin.Context) {
		got := sha256.Sum256([]byte(strings.Join(c.Request.Header.Values(WebhookSecretHeader), "\n")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			c.Header("Connection", "close") // the body stays unread
			problem.Abort(c, problem.Unauthorized("This route is for Ory's webhooks."))
			return
		}
		c.Next()
	}
}

// RegistrationHook answers Kratos's web hook after registration, before the
// identity is saved: it refuses a blocked email domain, and gives the identity the
// default role unless one is set. Its reply depends on the payload only, so a
// delivery Ory retries gets the same answer, and the identity it made changes
// nothing more.
func RegistrationHook(blocked []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := readHook(c, blocked)
		if !ok {
			return
		}
		md := p.Identity.MetadataPublic
		if role, set := md["role"]; set && string(role) != "null" {
			c.Status(http.StatusNoContent)
			return
		}
		// Ory replaces metadata_public with the reply's: hand back every key it has.
		merged := maps.Clone(md)
		if merged == nil {
			merged = map[string]json.RawMessage{}
		}
		merged["role"] = json.RawMessage(`"` + DefaultRole + `"`)
		c.JSON(http.StatusOK, gin.H{"identity": gin.H{"metadata_public": merged}})
	}
}

// SettingsHook answers Kratos's web hook after a profile change, before it is
// saved: it refuses a new email of a blocked domain and changes nothing else.
func SettingsHook(blocked []string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := readHook(c, blocked); ok {
			c.Status(http.StatusNoContent)
		}
	}
}

// readHook reads and checks the payload, and refuses a blocked email; ok is false
// when it has answered.
func readHook(c *gin.Context, blocked []string) (p hookPayload, ok bool) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "The body must be application/json."))
		return p, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxHookBody))
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		c.Header("Connection", "close")
		problem.Abort(c, problem.New(http.StatusRequestEntityTooLarge, problem.CodeTooLarge, fmt.Sprintf("A webhook body is at most %d KiB.", maxHookBody>>10)))
		return p, false
	}
	if err != nil {
		problem.Abort(c, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "The body could not be read."))
		return p, false
	}
	if err := decodeStrict(body, &p); err != nil {
		problem.Abort(c, &problem.Problem{Status: http.StatusBadRequest, Code: problem.CodeBadRequest, Title: http.StatusText(http.StatusBadRequest),
			Detail: "The body is not the payload of kratos/hooks.jsonnet.", Cause: err})
		return p, false
	}
	if email := p.Identity.Traits.Email; email != nil && blockedDomain(*email, blocked) {
		problem.Abort(c, emailDomainBlocked())
		return p, false
	}
	return p, true
}

// decodeStrict decodes one JSON object with no unknown fields and checks what the
// handlers rely on. Errors never quote the payload.
func decodeStrict(body []byte, p *hookPayload) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return errors.New("not the expected JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON object")
	}
	switch {
	case p.Identity == nil:
		return errors.New("no identity")
	case !isUUID(p.Identity.ID):
		return errors.New("identity.id is not a UUID")
	case p.Identity.Traits.Email != nil && !strings.Contains(*p.Identity.Traits.Email, "@"):
		return errors.New("identity.traits.email is not an email address")
	}
	return nil
}

// blockedDomain reports whether email's domain (after its last @) is one of
// blocked or a subdomain of one.
func blockedDomain(email string, blocked []string) bool {
	at := strings.LastIndexByte(email, '@')
	domain := strings.TrimSuffix(strings.ToLower(email[at+1:]), ".")
	for _, b := range blocked {
		if domain == b || strings.HasSuffix(domain, "."+b) {
			return true
		}
	}
	return false
}

// oryMessages are Ory's webhook error messages (Kratos reads "messages" from a
// 4xx reply and shows each on the field instance_ptr points to); see
// https://www.ory.sh/docs/guides/integrate-with-ory-cloud-through-webhooks.
type oryMessages struct {
	InstancePtr string       `json:"instance_ptr"`
	Messages    []oryMessage `json:"messages"`
}

type oryMessage struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Type string `json:"type"`
}

// emailDomainBlocked is a problem document that Ory also reads as its validation
// message on the email field: the user sees the text in the flow's form.
func emailDomainBlocked() *problem.Problem {
	const text = "Sign-ups with email addresses of this domain are not accepted. Use another address."
	p := problem.New(http.StatusUnprocessableEntity, problem.CodeEmailDomainBlocked, text)
	p.Messages = []oryMessages{{
		InstancePtr: "#/traits/email",
		Messages:    []oryMessage{{ID: MessageEmailDomainBlocked, Text: text, Type: "error"}},
	}}
	return p
}
