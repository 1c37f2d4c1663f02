package auth

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
)

// Limits on what is forwarded to Ory. Ory session tokens are "ory_st_" plus 32
// characters and session JWTs a few hundred bytes; a larger token is not a
// credential and is refused without a network call. Session cookies beyond the
// cookie limit are dropped instead (OryCookies).
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
// cookie next to a good token. Only Ory's valid session cookies are kept
// (OryCookies), so the application's other cookies never leave this service, and
// a request without any is refused with ErrNoCredential.
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
	cookie := OryCookies(h.Values("Cookie"))
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
// their order, or "" when none is left.
//
// Any sibling subdomain can plant a cookie for the parent domain, session cookies
// included, so no single cookie may lock the user out by failing the request.
// Every other cookie, ory_ ones included, is skipped unread: whoami needs none of
// them. A session cookie that cannot be valid (not cookie text, or empty) is
// skipped too. The header is bounded by dropping each session cookie that would
// push it over maxCookieLen: the browser sends the most specific and oldest
// cookies first, so those are the ones kept. Ory reads the one it knows.
func OryCookies(vs []string) string {
	var b strings.Builder
	for _, v := range vs {
		for part := range strings.SplitSeq(v, ";") {
			part = strings.TrimSpace(part)
			name, value, ok := strings.Cut(part, "=")
			if !ok || !isSessionCookie(name) || !isCookieName(name) || !isCookieValue(value) {
				continue
			}
			sep := "; "
			if b.Len() == 0 {
				sep = ""
			}
			if b.Len()+len(sep)+len(part) > maxCookieLen {
				continue
			}
			b.WriteString(sep)
			b.WriteString(part)
		}
	}
	return b.String()
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

// cacheable reports whether answers about cred may be cached. Ory reads one
// session cookie: beside it, other ory_session_* cookies would only vary the
// cache key, and a signed-in caller could fill the cache with copies of their
// session. Browsers send one, so a request with several is asked of Ory each time.
func cacheable(cred Credential) bool { return !strings.Contains(cred.Cookie, ";") }
