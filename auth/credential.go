package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Limits on what is forwarded to Ory. Ory session tokens are "ory_st_" plus 32
// characters and session JWTs a few hundred bytes; anything much larger is not a
// credential and is refused without a network call.
const (
	maxTokenLen  = 4096
	maxCookieLen = 8192
)

// Errors returned by CredentialFrom. Both are answered with 401.
var (
	ErrNoCredential        = errors.New("no session credential")
	ErrMalformedCredential = errors.New("malformed session credential")
)

// apiKeyPrefixes mark Ory API keys. They authenticate a project, not a user: sent
// as a bearer token they must never be taken for a session.
var apiKeyPrefixes = []string{"ory_apikey_", "ory_pat_", "ory_wak_"}

// Credential is what a request presents as proof of an Ory session: a session token
// (or session JWT) or the Ory cookies. At most one of the two is set.
type Credential struct {
	Token  string
	Cookie string
}

// String hides the credential: it must never reach a log line or an error text.
func (c Credential) String() string {
	switch {
	case c.Token != "":
		return "session token (redacted)"
	case c.Cookie != "":
		return "session cookie (redacted)"
	}
	return "no credential"
}

// GoString hides the credential from %#v.
func (c Credential) GoString() string { return c.String() }

// LogValue hides the credential from slog.
func (c Credential) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CredentialFrom extracts the session credential of r. The X-Session-Token header
// wins over Authorization (the order Ory itself uses), and a token wins over cookies:
// the cookies are then not sent, because self-hosted Kratos answers 500 to a bad
// cookie next to a good token. Only Ory's session cookies are kept (OryCookies), so
// the application's other cookies never leave this service.
func CredentialFrom(r *http.Request) (Credential, error) {
	h := r.Header
	if vs := h.Values("X-Session-Token"); len(vs) > 0 {
		if len(vs) > 1 {
			return Credential{}, ErrMalformedCredential
		}
		tok, err := checkToken(vs[0])
		return Credential{Token: tok}, err
	}
	if vs := h.Values("Authorization"); len(vs) > 0 {
		if len(vs) > 1 {
			return Credential{}, ErrMalformedCredential
		}
		tok, err := bearer(vs[0])
		return Credential{Token: tok}, err
	}
	cookie, err := OryCookies(h.Values("Cookie"))
	if err != nil {
		return Credential{}, err
	}
	if cookie == "" {
		return Credential{}, ErrNoCredential
	}
	return Credential{Cookie: cookie}, nil
}

// bearer returns the token of an "Authorization: Bearer <token>" value.
func bearer(v string) (string, error) {
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrMalformedCredential
	}
	return checkToken(tok)
}

// checkToken refuses values that cannot be a session token: empty, oversized,
// containing anything but visible ASCII, or an API key.
func checkToken(tok string) (string, error) {
	if tok == "" {
		return "", ErrNoCredential
	}
	if len(tok) > maxTokenLen || !isTokenText(tok) {
		return "", ErrMalformedCredential
	}
	for _, p := range apiKeyPrefixes {
		if strings.HasPrefix(tok, p) {
			return "", ErrMalformedCredential
		}
	}
	return tok, nil
}

// isTokenText reports whether s is only visible ASCII without separators (RFC 6750
// b64token characters, which covers ory_st_ tokens and JWTs).
func isTokenText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=':
		default:
			return false
		}
	}
	return true
}

// OryCookies returns a Cookie header holding only the Ory session cookies
// (ory_kratos_session, ory_session_{slug}) from the Cookie header values vs, in
// their order. It returns "" when there are none, and ErrMalformedCredential when
// a session cookie is not valid cookie text or they are oversized together.
//
// Every other cookie is skipped unread, ory_ ones included: whoami needs none of
// them, and any sibling subdomain can plant a cookie for the parent domain, so a
// broken ory_x must not lock the user out. Only the session cookies decide.
func OryCookies(vs []string) (string, error) {
	var b strings.Builder
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ";") {
			part = strings.TrimSpace(part)
			name, value, ok := strings.Cut(part, "=")
			if !ok || !isSessionCookie(name) {
				continue
			}
			if !isCookieName(name) || !isCookieValue(value) {
				return "", ErrMalformedCredential
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
			if b.Len() > maxCookieLen {
				return "", ErrMalformedCredential
			}
		}
	}
	return b.String(), nil
}

// isSessionCookie reports whether name is one Ory keeps a session in: Kratos's
// ory_kratos_session or Ory Network's ory_session_{slug}.
func isSessionCookie(name string) bool {
	return name == "ory_kratos_session" || strings.HasPrefix(name, "ory_session_")
}

// isCookieName reports whether s is an RFC 6265 token.
func isCookieName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// isCookieValue reports whether s is an RFC 6265 cookie-value, optionally quoted.
func isCookieValue(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
