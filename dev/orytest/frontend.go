package orytest

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The FrontendAPI's self-service session routes (GET /sessions, DELETE /sessions,
// DELETE /sessions/{id}), answered as Kratos's session/handler.go does: with the
// caller's own credential, never the API key.

// selfService records the self-service session requests.
type selfService struct {
	mu       sync.Mutex
	requests []string
	withKey  int
}

func (s *Server) registerSelfService(mux *http.ServeMux) {
	mux.HandleFunc("GET /sessions", s.observed(s.listMySessions))
	mux.HandleFunc("DELETE /sessions", s.observed(s.disableMyOtherSessions))
	mux.HandleFunc("DELETE /sessions/{id}", s.observed(s.disableMySession))
}

// observed records the request before h answers it.
func (s *Server) observed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.self.mu.Lock()
		s.self.requests = append(s.self.requests, r.Method+" "+r.URL.RequestURI())
		if s.carriesKey(r) {
			s.self.withKey++
		}
		s.self.mu.Unlock()
		h(w, r)
	}
}

// SelfServiceRequests returns "METHOD /path?query" of every self-service session
// request so far (GET /sessions, DELETE /sessions, DELETE /sessions/{id}).
func (s *Server) SelfServiceRequests() []string {
	s.self.mu.Lock()
	defer s.self.mu.Unlock()
	return slices.Clone(s.self.requests)
}

// SelfServiceCallsWithKey is the number of self-service requests that carried the
// API key in any header. It must stay 0.
func (s *Server) SelfServiceCallsWithKey() int {
	s.self.mu.Lock()
	defer s.self.mu.Unlock()
	return s.self.withKey
}

// OnSelfService applies f to the self-service session routes only.
func OnSelfService(f Fault) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		p := r.URL.Path
		return (p == "/sessions" || strings.HasPrefix(p, "/sessions/") && p != "/sessions/whoami") && f(w, r)
	}
}

// caller returns the active session r's credential stands for, or nil after
// answering 401 as Kratos does. Callers hold s.mu.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) *session {
	tok := credentialOf(r)
	ss := s.sessions[s.tokens[tok]]
	if tok == "" || ss == nil || !ss.active || !time.Now().Before(ss.expires) {
		writeError(w, http.StatusUnauthorized, "", "The request could not be authorized", "No valid session cookie found.")
		return nil
	}
	return ss
}

func (s *Server) listMySessions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := s.caller(w, r)
	if me == nil {
		return
	}
	now := time.Now()
	var list []*session
	for _, ss := range s.sessions {
		if ss.identityID == me.identityID && ss.id != me.id && ss.active && now.Before(ss.expires) {
			list = append(list, ss)
		}
	}
	slices.SortFunc(list, func(a, b *session) int { return strings.Compare(a.id, b.id) })
	from, to, ok := paginate(w, r, len(list))
	if !ok {
		return
	}
	if len(list) == 0 {
		// Kratos's page headers name a next page after an empty list, always,
		// one page further each time.
		off, _ := decodePageToken(r.URL.Query().Get("page_token"))
		w.Header().Set("Link", w.Header().Get("Link")+`,</sessions?page_token=`+encodePageToken(off+250)+`>; rel="next"`)
	}
	out := make([]sessionJSON, 0, to-from)
	for _, ss := range list[from:to] {
		out = append(out, s.sessionJSON(ss, true, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) disableMyOtherSessions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := s.caller(w, r)
	if me == nil {
		return
	}
	// Kratos marks every other session inactive and counts them all, those that
	// were inactive already included.
	n := 0
	for _, ss := range s.sessions {
		if ss.identityID == me.identityID && ss.id != me.id {
			ss.active = false
			n++
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": n})
}

func (s *Server) disableMySession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := s.caller(w, r)
	if me == nil {
		return
	}
	id := r.PathValue("id")
	switch {
	case !isID(id):
		writeError(w, http.StatusBadRequest, "", "The request was malformed or contained invalid parameters", "could not parse UUID")
		return
	case id == me.id:
		writeError(w, http.StatusBadRequest, "", "The request was malformed or contained invalid parameters", "cannot revoke current session")
		return
	}
	// Kratos disables only a session of the caller's identity and answers 204
	// whether or not there was one: a foreign or unknown id is no error there.
	if ss := s.sessions[id]; ss != nil && ss.identityID == me.identityID {
		ss.active = false
	}
	w.WriteHeader(http.StatusNoContent)
}

// isID reports whether v looks like a UUID (8-4-4-4-12 hex digits).
func isID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
