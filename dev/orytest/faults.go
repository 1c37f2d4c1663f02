package orytest

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// Faults for Server.SetFault. Each answers every request it sees; combine with
// OnWhoami or OnAdmin to aim at one side.

// OnWhoami applies f to GET /sessions/whoami only.
func OnWhoami(f Fault) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		return r.URL.Path == "/sessions/whoami" && f(w, r)
	}
}

// OnAdmin applies f to the Admin API (/admin/...) only.
func OnAdmin(f Fault) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		return strings.HasPrefix(r.URL.Path, "/admin/") && f(w, r)
	}
}

// Status answers status with Ory's error document.
func Status(status int) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		writeError(w, status, "", http.StatusText(status), "")
		return true
	}
}

// Unauthorized answers like whoami does without a valid session.
func Unauthorized() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		WriteUnauthorized(w)
		return true
	}
}

// BadGateway answers 502 with an HTML page, as a proxy in front of Ory would.
func BadGateway() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>\n")
		return true
	}
}

// AAL2Required answers whoami's 403 for a session that needs a second factor.
func AAL2Required(redirectBrowserTo string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"error": map[string]any{
				"id":      "session_aal2_required",
				"code":    403,
				"status":  "Forbidden",
				"reason":  "An active session was found but it does not fulfill the requested Authenticator Assurance Level. Please verify yourself with a second factor to resolve this issue.",
				"message": "Session does not fulfill the requested Authenticator Assurance Level",
				"details": map[string]any{"redirect_browser_to": redirectBrowserTo},
			},
			"redirect_browser_to": redirectBrowserTo,
		})
		return true
	}
}

// RateLimited answers 429, with Retry-After when retryAfter is not "".
func RateLimited(retryAfter string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		writeError(w, http.StatusTooManyRequests, "", "Too Many Requests", "")
		return true
	}
}

// Hang never answers: it holds the request until the client gives up or the
// server closes.
func (s *Server) Hang() Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return true
	}
}

// Delay holds each request for d (less if the client gives up), then lets the
// fake answer normally.
func Delay(d time.Duration) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		}
	}
}

// Body answers status with body as JSON, as is.
func Body(status int, body string) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return true
	}
}

// Malformed answers 200 with JSON cut short.
func Malformed() Fault {
	return Body(http.StatusOK, `{"id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","active":tr`)
}

// InactiveSession answers 200 with a session whose active is false.
func InactiveSession() Fault {
	return Body(http.StatusOK, `{"id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","active":false,`+
		`"expires_at":"2999-01-01T00:00:00Z","authenticator_assurance_level":"aal1",`+
		`"identity":{"id":"0b8d4a0e-4c39-4a3b-9a43-5a3a4c3f7e10","schema_id":"default","schema_url":"http://x/schemas/ZGVmYXVsdA","traits":{"email":"a@example.com"}}}`)
}

// SessionWithoutIdentity answers 200 with an active session and no identity, as
// Ory does for some restricted origins.
func SessionWithoutIdentity() Fault {
	return Body(http.StatusOK, `{"id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","active":true,`+
		`"expires_at":"2999-01-01T00:00:00Z","authenticator_assurance_level":"aal1"}`)
}
