// Package orytest is a fake Ory for unit tests: an httptest.Server that speaks the
// JSON of Ory Kratos v1.3.1 (as client-go v1.22 decodes it) on the routes this
// service uses, with state tests can set up and inspect and a hook to inject faults.
package orytest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is called before the fake answers a request. It returns true when it wrote
// the response itself (the fake then does nothing more) and false to let the fake
// answer normally, which lets a fault only delay or observe requests.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the Admin API require "Authorization: Bearer key", as Ory
// Network does; without it, the admin routes ignore the header, as self-hosted
// Kratos does.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// Server is the fake Ory. Public and admin routes share one URL, as on Ory Network.
// It is safe for concurrent use.
type Server struct {
	*httptest.Server
	apiKey  string
	network *network // nil: self-hosted Kratos

	mu         sync.Mutex
	identities map[string]*identity
	sessions   map[string]*session
	tokens     map[string]string // session token -> session id
	fault      Fault
	lastWhoami http.Header
	closing    chan struct{}
	closeOnce  sync.Once
	self       selfService

	whoamiCalls        atomic.Int64
	whoamiCallsWithKey atomic.Int64
	adminCalls         atomic.Int64
	adminRequests      []string // guarded by mu
	adminCallsWithKey  atomic.Int64
}

type identity struct {
	id             string
	traits         map[string]any
	metadataPublic map[string]any
	metadataAdmin  map[string]any
	created        time.Time
	// credentials beyond the password, by type: their config (aal.go).
	credentials map[string]map[string]any
}

type session struct {
	id         string
	identityID string
	active     bool
	aal        string
	issued     time.Time
	expires    time.Time
}

// New starts a fake Ory that is closed when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{
		identities: map[string]*identity{},
		sessions:   map[string]*session{},
		tokens:     map[string]string{},
		closing:    make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sessions/whoami", s.whoami)
	mux.HandleFunc("GET /admin/identities", s.listIdentities)
	mux.HandleFunc("GET /admin/identities/{id}", s.getIdentity)
	mux.HandleFunc("GET /admin/identities/{id}/sessions", s.listIdentitySessions)
	mux.HandleFunc("GET /admin/sessions/{id}", s.getSession)
	mux.HandleFunc("DELETE /admin/sessions/{id}", s.disableSession)
	s.registerSelfService(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w)
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.observe(r)
		if s.network != nil && !s.network.admit(w, r) {
			return
		}
		s.mu.Lock()
		f := s.fault
		s.mu.Unlock()
		if f != nil && f(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Close releases hanging requests, then shuts the server down. It may be called
// more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.Server.Close()
}

// observe counts the request and records whether it carried the API key.
func (s *Server) observe(r *http.Request) {
	switch {
	case r.URL.Path == "/sessions/whoami":
		s.whoamiCalls.Add(1)
		if s.carriesKey(r) {
			s.whoamiCallsWithKey.Add(1)
		}
		s.mu.Lock()
		s.lastWhoami = r.Header.Clone()
		s.mu.Unlock()
	case strings.HasPrefix(r.URL.Path, "/admin/"):
		s.adminCalls.Add(1)
		if s.apiKey != "" && r.Header.Get("Authorization") == "Bearer "+s.apiKey {
			s.adminCallsWithKey.Add(1)
		}
		s.mu.Lock()
		s.adminRequests = append(s.adminRequests, r.Method+" "+r.URL.RequestURI())
		s.mu.Unlock()
	}
}

// carriesKey reports whether the API key appears in any header of r.
func (s *Server) carriesKey(r *http.Request) bool {
	if s.apiKey == "" {
		return false
	}
	for _, vs := range r.Header {
		for _, v := range vs {
			if strings.Contains(v, s.apiKey) {
				return true
			}
		}
	}
	return false
}

// WhoamiCalls is the number of GET /sessions/whoami requests received.
func (s *Server) WhoamiCalls() int64 { return s.whoamiCalls.Load() }

// WhoamiCallsWithKey is the number of whoami requests that carried the API key in
// any header. It must stay 0.
func (s *Server) WhoamiCallsWithKey() int64 { return s.whoamiCallsWithKey.Load() }

// AdminCalls is the number of /admin/... requests received.
func (s *Server) AdminCalls() int64 { return s.adminCalls.Load() }

// AdminCallsWithKey is the number of admin requests that carried
// "Authorization: Bearer <key>" (always 0 without WithAPIKey).
func (s *Server) AdminCallsWithKey() int64 { return s.adminCallsWithKey.Load() }

// AdminRequests returns "METHOD /path?query" of every admin request so far.
func (s *Server) AdminRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.adminRequests)
}

// LastWhoami returns a copy of the headers of the last whoami request, or nil.
func (s *Server) LastWhoami() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastWhoami.Clone()
}

// SetFault installs f (nil removes it). It runs before every request's answer.
func (s *Server) SetFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// AddIdentity adds an identity with traits {"email": email} and returns its id.
func (s *Server) AddIdentity(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := NewID()
	s.identities[id] = &identity{
		id:            id,
		traits:        map[string]any{"email": email},
		metadataAdmin: map[string]any{"note": "admin-only"},
		created:       time.Now().UTC().Truncate(time.Millisecond),
	}
	return id
}

// SetRole sets metadata_public.role of the identity, as an admin would through the
// Admin API.
func (s *Server) SetRole(identityID, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.identities[identityID]
	if i == nil {
		panic("orytest: SetRole of unknown identity " + identityID)
	}
	i.metadataPublic = map[string]any{"role": role}
}

// SessionOption configures a session made by AddSession.
type SessionOption func(*session)

// ExpiresAt sets the session's expires_at (default: a day from now).
func ExpiresAt(t time.Time) SessionOption { return func(s *session) { s.expires = t } }

// AAL sets the session's authenticator_assurance_level (default aal1).
func AAL(level string) SessionOption { return func(s *session) { s.aal = level } }

// AddSession adds an active session for the identity and returns its session
// token (ory_st_...). The token is also accepted as the value of the
// ory_kratos_session cookie.
func (s *Server) AddSession(identityID string, opts ...SessionOption) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.identities[identityID] == nil {
		panic("orytest: AddSession for unknown identity " + identityID)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	ss := &session{id: NewID(), identityID: identityID, active: true, aal: "aal1", issued: now, expires: now.Add(24 * time.Hour)}
	for _, o := range opts {
		o(ss)
	}
	tok := newToken()
	s.sessions[ss.id] = ss
	s.tokens[tok] = ss.id
	return tok
}

// SessionID returns the id of the session the token stands for, or "".
func (s *Server) SessionID(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[token]
}

// SessionActive reports whether the session exists and is active.
func (s *Server) SessionActive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	return ss != nil && ss.active
}

// NewID returns a random UUID v4, as Kratos uses for identities and sessions.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newToken returns a session token shaped like Kratos's: ory_st_ and 32 letters/digits.
func newToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [32]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ory_st_" + string(b[:])
}

// --- JSON, as Kratos writes it ---

type identityJSON struct {
	ID                  string           `json:"id"`
	SchemaID            string           `json:"schema_id"`
	SchemaURL           string           `json:"schema_url"`
	State               string           `json:"state"`
	StateChangedAt      time.Time        `json:"state_changed_at"`
	Traits              map[string]any   `json:"traits"`
	Credentials         map[string]any   `json:"credentials,omitempty"`
	VerifiableAddresses []map[string]any `json:"verifiable_addresses"`
	RecoveryAddresses   []map[string]any `json:"recovery_addresses"`
	MetadataPublic      map[string]any   `json:"metadata_public"`
	MetadataAdmin       map[string]any   `json:"metadata_admin,omitempty"`
	CreatedAt           time.Time        `json:"created_at"`
	UpdatedAt           time.Time        `json:"updated_at"`
	OrganizationID      *string          `json:"organization_id"`
}

type sessionJSON struct {
	ID                    string           `json:"id"`
	Active                bool             `json:"active"`
	ExpiresAt             time.Time        `json:"expires_at"`
	AuthenticatedAt       time.Time        `json:"authenticated_at"`
	AAL                   string           `json:"authenticator_assurance_level"`
	AuthenticationMethods []map[string]any `json:"authentication_methods"`
	IssuedAt              time.Time        `json:"issued_at"`
	Identity              *identityJSON    `json:"identity,omitempty"`
	Devices               []map[string]any `json:"devices"`
}

// identityJSON renders i; admin adds what only the Admin API shows (credentials
// without their secrets, metadata_admin). Callers hold s.mu.
func (s *Server) identityJSON(i *identity, admin bool) *identityJSON {
	return s.identityJSONWith(i, admin, nil)
}

// identityJSONWith is identityJSON with the config of the credential types in
// include, as the Admin API's include_credential shows them. Callers hold s.mu.
func (s *Server) identityJSONWith(i *identity, admin bool, include []string) *identityJSON {
	email, _ := i.traits["email"].(string)
	v := &identityJSON{
		ID: i.id, SchemaID: "default", SchemaURL: s.URL + "/schemas/ZGVmYXVsdA",
		State: "active", StateChangedAt: i.created, Traits: i.traits,
		VerifiableAddresses: []map[string]any{{
			"id": NewID(), "value": email, "verified": false, "via": "email", "status": "sent",
			"created_at": i.created, "updated_at": i.created,
		}},
		RecoveryAddresses: []map[string]any{{
			"id": NewID(), "value": email, "via": "email", "created_at": i.created, "updated_at": i.created,
		}},
		MetadataPublic: i.metadataPublic,
		CreatedAt:      i.created, UpdatedAt: i.created,
	}
	if admin {
		v.MetadataAdmin = i.metadataAdmin
		v.Credentials = map[string]any{"password": map[string]any{
			"type": "password", "identifiers": []string{email}, "version": 0,
			"created_at": i.created, "updated_at": i.created,
		}}
		s.addCredentials(v, i, include)
	}
	return v
}

// sessionJSON renders ss, with its identity when withIdentity. Callers hold s.mu.
func (s *Server) sessionJSON(ss *session, withIdentity, admin bool) sessionJSON {
	v := sessionJSON{
		ID: ss.id, Active: ss.active, ExpiresAt: ss.expires, AuthenticatedAt: ss.issued,
		AAL: ss.aal, IssuedAt: ss.issued,
		AuthenticationMethods: []map[string]any{{"method": "password", "aal": "aal1", "completed_at": ss.issued}},
		Devices: []map[string]any{{
			"id": NewID(), "ip_address": "127.0.0.1", "user_agent": "orytest", "location": "Munich, DE",
		}},
	}
	if withIdentity {
		v.Identity = s.identityJSON(s.identities[ss.identityID], admin)
	}
	return v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes Kratos's (herodot's) error document.
func writeError(w http.ResponseWriter, status int, id, message, reason string) {
	e := map[string]any{"code": status, "status": http.StatusText(status), "message": message}
	if id != "" {
		e["id"] = id
	}
	if reason != "" {
		e["reason"] = reason
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// --- public API ---

// credentialOf is the session token or cookie value r carries, in the order Ory
// reads them: X-Session-Token, Authorization: Bearer, the session cookie.
func credentialOf(r *http.Request) string {
	if tok := r.Header.Get("X-Session-Token"); tok != "" {
		return tok
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") && t != "" {
		return t
	}
	if c, err := r.Cookie("ory_kratos_session"); err == nil {
		return c.Value
	}
	return ""
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	tok := credentialOf(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[s.tokens[tok]]
	if tok == "" || ss == nil || !ss.active || !time.Now().Before(ss.expires) {
		WriteUnauthorized(w)
		return
	}
	w.Header().Set("X-Kratos-Authenticated-Identity-Id", ss.identityID)
	writeJSON(w, http.StatusOK, s.sessionJSON(ss, true, false))
}

// WriteUnauthorized writes Kratos's whoami answer to a request without a valid session.
func WriteUnauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{
		"code": 401, "status": "Unauthorized",
		"reason":  "No valid session credentials found in the request.",
		"message": "The request could not be authorized",
	}})
}

// --- admin API ---

// admitted answers 401 like Ory Network when the API key is required and missing.
func (s *Server) admitted(w http.ResponseWriter, r *http.Request) bool {
	if s.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+s.apiKey {
		writeError(w, http.StatusUnauthorized, "", "The request could not be authorized", "")
		return false
	}
	return true
}

func (s *Server) getIdentity(w http.ResponseWriter, r *http.Request) {
	if !s.admitted(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := found(w, s.identities, r.PathValue("id")); i != nil {
		writeJSON(w, http.StatusOK, s.identityJSONWith(i, true, r.URL.Query()["include_credential"]))
	}
}

func (s *Server) listIdentities(w http.ResponseWriter, r *http.Request) {
	if !s.admitted(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.identities))
	for id := range s.identities {
		ids = append(ids, id)
	}
	slices.Sort(ids) // keyset pagination orders by id
	from, to, ok := paginate(w, r, len(ids))
	if !ok {
		return
	}
	out := make([]*identityJSON, 0, to-from)
	for _, id := range ids[from:to] {
		out = append(out, s.identityJSON(s.identities[id], true))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listIdentitySessions(w http.ResponseWriter, r *http.Request) {
	if !s.admitted(w, r) {
		return
	}
	var active *bool
	if v := r.URL.Query().Get("active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "", "The request was malformed or contained invalid parameters", "could not parse parameter active")
			return
		}
		active = &b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	iid := r.PathValue("id")
	if found(w, s.identities, iid) == nil {
		return
	}
	var list []*session
	for _, ss := range s.sessions {
		if ss.identityID == iid && (active == nil || ss.active == *active) {
			list = append(list, ss)
		}
	}
	slices.SortFunc(list, func(a, b *session) int { return strings.Compare(a.id, b.id) })
	from, to, ok := paginate(w, r, len(list))
	if !ok {
		return
	}
	out := make([]sessionJSON, 0, to-from)
	for _, ss := range list[from:to] {
		out = append(out, s.sessionJSON(ss, true, true))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	if !s.admitted(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := found(w, s.sessions, r.PathValue("id")); ss != nil {
		expand := slices.Contains(r.URL.Query()["expand"], "identity")
		writeJSON(w, http.StatusOK, s.sessionJSON(ss, expand, true))
	}
}

func (s *Server) disableSession(w http.ResponseWriter, r *http.Request) {
	if !s.admitted(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := found(w, s.sessions, r.PathValue("id")); ss != nil {
		ss.active = false
		w.WriteHeader(http.StatusNoContent)
	}
}

// found returns m[id], or writes Ory's 404 and returns nil. The caller holds s.mu.
func found[T any](w http.ResponseWriter, m map[string]*T, id string) *T {
	v := m[id]
	if v == nil {
		notFound(w)
	}
	return v
}

// notFound is Ory's answer for an unknown route or resource.
func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "", "Unable to locate the resource", "")
}

// paginate reads page_size (default 250, 1..1000) and page_token, and sets the Link
// header the way Ory's keyset pagination does: rel="first" always, rel="next" when
// more items follow, both in one comma-separated header value.
func paginate(w http.ResponseWriter, r *http.Request, n int) (from, to int, ok bool) {
	q := r.URL.Query()
	size := 250
	if v := q.Get("page_size"); v != "" {
		var err error
		if size, err = strconv.Atoi(v); err != nil || size < 1 || size > 1000 {
			writeError(w, http.StatusBadRequest, "", "The request was malformed or contained invalid parameters", "Invalid page size")
			return 0, 0, false
		}
	}
	if v := q.Get("page_token"); v != "" {
		off, err := decodePageToken(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "", "The request was malformed or contained invalid parameters",
				"The page token is invalid, do not craft your own page tokens")
			return 0, 0, false
		}
		from = min(off, n) // past the end: an empty page, as with Kratos's offsets
	}
	to = min(from+size, n)
	link := func(rel, token string) string {
		u := url.URL{Path: r.URL.Path}
		lq := url.Values{"page_size": {strconv.Itoa(size)}, "page_token": {token}}
		u.RawQuery = lq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	links := []string{link("first", encodePageToken(0))}
	if to < n {
		links = append(links, link("next", encodePageToken(to)))
	}
	w.Header().Set("Link", strings.Join(links, ","))
	return from, to, true
}

func encodePageToken(offset int) string {
	b, _ := json.Marshal(map[string]any{"offset": strconv.Itoa(offset), "v": 2})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok string) (int, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, err
	}
	var v struct {
		Offset string `json:"offset"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v.Offset)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad offset %q", v.Offset)
	}
	return n, nil
}
