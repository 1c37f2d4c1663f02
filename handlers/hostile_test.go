package handlers_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Hostile requests are written byte for byte over a TCP connection: net/http's
// client would normalize most of them (header case, repeated headers, paths with
// dot segments, control bytes) before they reach the server.

// rawCase is one hostile request and the status it must get.
type rawCase struct {
	name string
	// req is the request head without the final empty line; {tok} is replaced by
	// the valid session token, {other} by the session id of another identity.
	req string
	// body, when set, streams a request body after the head.
	body func(w io.Writer)
	want int
	// byServer marks answers net/http gives itself (plain text, before the router).
	byServer bool
}

// head builds a request head: the request line, a Host, the headers, and
// Connection: close.
func head(method, target string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: svc.test\r\n", method, target)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Connection: close\r\n")
	return b.String()
}

// sendRaw writes raw (and body) to the server and reads one response.
func (e *env) sendRaw(raw, method string, body func(io.Writer)) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", e.srv.Listener.Addr().String(), 2*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		// Write in the background: the server may answer (413, 431) and close before
		// it has read everything.
		if _, err := io.WriteString(conn, raw+"\r\n"); err != nil {
			return
		}
		if body != nil {
			body(conn)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func chunkedBody(n int) func(io.Writer) {
	return func(w io.Writer) {
		chunk := strings.Repeat("x", 64<<10)
		for sent := 0; sent < n; sent += len(chunk) {
			if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(w, "0\r\n\r\n")
	}
}

func fixedBody(n int) func(io.Writer) {
	return func(w io.Writer) {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for sent := 0; sent < n; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
}

func (e *env) runRaw(t *testing.T, tests []rawCase, tok, other string, check func(t *testing.T, tt rawCase, resp *http.Response, body []byte)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.NewReplacer("{tok}", tok, "{other}", other).Replace(tt.req)
			method, _, _ := strings.Cut(raw, " ")
			resp, body, err := e.sendRaw(raw, method, tt.body)
			if err != nil {
				t.Fatalf("no response: %v", err)
			}
			e.record(body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %.300s", resp.StatusCode, tt.want, body)
			}
			if resp.StatusCode >= 500 {
				t.Fatalf("status %d for a hostile request", resp.StatusCode)
			}
			if tt.byServer {
				return
			}
			// Everything the router answers is documented, carries the security
			// headers, and is a problem document when it is an error.
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers missing: %v", resp.Header)
			}
			if method != http.MethodHead {
				req := &http.Request{Method: method, URL: requestURL(t, raw), Header: http.Header{}}
				e.v.Check(t, req, resp.StatusCode, resp.Header, body)
			}
			if check != nil {
				check(t, tt, resp, body)
			}
		})
	}
}

// requestURL is the URL of a raw request's target, as the server parses it.
func requestURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	line, _, _ := strings.Cut(raw, "\r\n")
	parts := strings.Split(line, " ")
	u, err := url.ParseRequestURI(parts[1])
	if err != nil {
		t.Fatalf("parse %q: %v", parts[1], err)
	}
	u.Scheme, u.Host = "http", "svc.test"
	return u
}

// TestHostileRequests sends requests that try to get past the session gate without
// a valid session. None may be answered 200 on a protected route or with a 5xx.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	_, tok := e.user("victim@example.com")
	_, otherTok := e.user("other@example.com")
	const forged = "ory_st_forgedforgedforgedforgedforgedfo"
	e.secret(forged)

	many := func(n int, f string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(f, i)
		}
		return strings.Join(parts, "; ")
	}
	repeatedCookies := strings.TrimSuffix(strings.Repeat("Cookie: a=1\r\n", 300), "\r\n")

	tests := []rawCase{
		{name: "no credential", req: head("GET", "/api/resource"), want: 401},
		{name: "forged token", req: head("GET", "/api/resource", "Authorization: Bearer "+forged), want: 401},
		{name: "bearer of 8 KiB", req: head("GET", "/api/resource", "Authorization: Bearer ory_st_"+strings.Repeat("a", 8<<10)), want: 401},
		{name: "headers of 2 MiB", req: head("GET", "/api/resource", "X-Pad: "+strings.Repeat("p", 2<<20)), want: 431, byServer: true},
		{name: "two Authorization headers", req: head("GET", "/api/resource", "Authorization: Bearer "+forged, "Authorization: Bearer "+forged), want: 401},
		{name: "two X-Session-Token headers", req: head("GET", "/api/resource", "X-Session-Token: "+forged, "X-Session-Token: "+forged), want: 401},
		{name: "valid token repeated in two headers", req: head("GET", "/api/resource", "X-Session-Token: {tok}", "X-Session-Token: {tok}"), want: 401},
		{name: "2000 foreign cookies", req: head("GET", "/api/resource", "Cookie: "+many(2000, "c%d=v")), want: 401},
		{name: "300 Cookie headers", req: head("GET", "/api/resource", repeatedCookies), want: 401},
		{name: "Ory cookies over 8 KiB", req: head("GET", "/api/resource", "Cookie: "+many(600, "ory_c%d=vvvvvvvv")), want: 401},
		{name: "non-ASCII token", req: head("GET", "/api/resource", "Authorization: Bearer ory_st_\xc3\xa9\xc3\xa9"), want: 401},
		{name: "non-ASCII Ory cookie", req: head("GET", "/api/resource", "Cookie: ory_kratos_session=\xff\xfe"), want: 401},
		{name: "tab inside token", req: head("GET", "/api/resource", "Authorization: Bearer ory_st_a\tb"), want: 401},
		{name: "control byte in token", req: head("GET", "/api/resource", "Authorization: Bearer ory_st_a\x01b"), want: 400, byServer: true},
		{name: "NUL in cookie", req: head("GET", "/api/resource", "Cookie: ory_kratos_session=a\x00b"), want: 400, byServer: true},
		{name: "DEL in token", req: head("GET", "/api/resource", "X-Session-Token: ory_st_a\x7fb"), want: 400, byServer: true},
		{name: "Basic scheme", req: head("GET", "/api/resource", "Authorization: Basic dXNlcjpwYXNz"), want: 401},
		{name: "Token scheme", req: head("GET", "/api/resource", "Authorization: Token "+forged), want: 401},
		{name: "Bearer without token", req: head("GET", "/api/resource", "Authorization: Bearer"), want: 401},
		{name: "Bearer with two tokens", req: head("GET", "/api/resource", "Authorization: Bearer {tok} {tok}"), want: 401},
		{name: "upper-case BEARER forged", req: head("GET", "/api/resource", "Authorization: BEARER "+forged), want: 401},
		{name: "API key as bearer", req: head("GET", "/api/resource", "Authorization: Bearer "+apiKey), want: 401},
		{name: "PAT as session token", req: head("GET", "/api/resource", "X-Session-Token: ory_pat_abc"), want: 401},
		{name: "underscore header name", req: head("GET", "/api/resource", "X_Session_Token: {tok}"), want: 401},
		{name: "space before colon", req: head("GET", "/api/resource", "X-Session-Token : {tok}"), want: 400, byServer: true},
		{name: "forged X-Session-Token wins over a valid bearer", req: head("GET", "/api/resource", "X-Session-Token: "+forged, "Authorization: Bearer {tok}"), want: 401},
		{name: "dot segments", req: head("GET", "/api/../api/resource"), want: 404},
		{name: "encoded dot segments", req: head("GET", "/api/%2e%2e/api/resource"), want: 404},
		{name: "upper-case path", req: head("GET", "/API/resource"), want: 404},
		{name: "leading double slash", req: head("GET", "//api/resource"), want: 404},
		{name: "inner double slash", req: head("GET", "/api//resource"), want: 404},
		{name: "trailing slash", req: head("GET", "/api/resource/"), want: 404},
		{name: "encoded slash", req: head("GET", "/api%2Fresource"), want: 404},
		{name: "encoded NUL", req: head("GET", "/api/resource%00"), want: 404},
		{name: "through healthz", req: head("GET", "/healthz/../api/resource"), want: 404},
		{name: "absolute-form target", req: head("GET", "http://evil.example/api/resource"), want: 401},
		{name: "HEAD", req: head("HEAD", "/api/resource"), want: 405},
		{name: "OPTIONS without CORS", req: head("OPTIONS", "/api/resource"), want: 405},
		{name: "TRACE", req: head("TRACE", "/api/resource"), want: 405},
		{name: "lower-case method", req: head("get", "/api/resource"), want: 405},
		{name: "method override header", req: head("POST", "/api/resource", "X-HTTP-Method-Override: GET", "Content-Length: 0"), want: 405},
		{name: "2 MiB body with Content-Length", req: head("DELETE", "/api/me/sessions", "Content-Length: 2097152"), body: fixedBody(2 << 20), want: 413},
		{name: "2 MiB chunked body", req: head("DELETE", "/api/me/sessions", "Transfer-Encoding: chunked"), body: chunkedBody(2 << 20), want: 413},
		{name: "2 MiB chunked body with a valid token", req: head("DELETE", "/api/me/sessions", "Authorization: Bearer {tok}", "Transfer-Encoding: chunked"), body: chunkedBody(2 << 20), want: 413},
		{name: "bad Content-Length", req: head("DELETE", "/api/me/sessions", "Content-Length: 1x"), want: 400, byServer: true},
		// RFC 9112 6.3: chunked wins over Content-Length (and net/http closes the
		// connection after), so no request can be smuggled behind the body; the body
		// itself is refused like any other.
		{name: "Content-Length and Transfer-Encoding", req: head("DELETE", "/api/me/sessions", "Content-Length: 5", "Transfer-Encoding: chunked"), body: chunkedBody(1), want: 413},
		{name: "revoke with an invalid id", req: head("DELETE", "/api/me/sessions/not-a-uuid"), want: 401},
		{name: "revoke another's session without credential", req: head("DELETE", "/api/me/sessions/{other}"), want: 401},
		{name: "revoke with a path in the id", req: head("DELETE", "/api/me/sessions/..%2f..%2fadmin"), want: 401},
		{name: "query injection without credential", req: head("GET", "/api/admin/identities?page_token=x%26page_size%3D1000"), want: 401},
		{name: "no Host", req: "GET /api/resource HTTP/1.1\r\nAuthorization: Bearer {tok}\r\n", want: 400, byServer: true},
		{name: "two Hosts", req: head("GET", "/api/resource", "Host: other.test", "Authorization: Bearer {tok}"), want: 400, byServer: true},
	}
	e.runRaw(t, tests, tok, e.fake.SessionID(otherTok), func(t *testing.T, tt rawCase, resp *http.Response, body []byte) {
		if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer")
		}
		if resp.StatusCode == 405 && resp.Header.Get("Allow") == "" {
			t.Errorf("405 without Allow")
		}
	})
	for _, tk := range []string{tok, otherTok} {
		if !e.fake.SessionActive(e.fake.SessionID(tk)) {
			t.Errorf("a hostile request revoked session %s", e.fake.SessionID(tk))
		}
	}
}

// TestValidSessionStaysOnItsRoute sends the same kind of tricks with a valid
// (non-admin) session: each must land on the route its path names, or on none.
func TestValidSessionStaysOnItsRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cacheTTL: time.Minute})
	me, tok := e.user("me@example.com")
	second := e.session(me)
	_, otherTok := e.user("other@example.com")
	bearerTok := "Authorization: Bearer {tok}"

	tests := []rawCase{
		{name: "resource", req: head("GET", "/api/resource", bearerTok), want: 200},
		{name: "dot segments to me", req: head("GET", "/api/../api/me", bearerTok), want: 404},
		{name: "dot segments to admin", req: head("GET", "/api/me/../admin/identities", bearerTok), want: 404},
		{name: "encoded dot segments to admin", req: head("GET", "/api/me/%2e%2e/admin/identities", bearerTok), want: 404},
		{name: "encoded slash to sessions", req: head("GET", "/api/me%2Fsessions", bearerTok), want: 404},
		{name: "encoded slash to admin", req: head("GET", "/api/admin%2Fidentities", bearerTok), want: 404},
		{name: "double slash", req: head("GET", "//api/me", bearerTok), want: 404},
		{name: "trailing slash", req: head("GET", "/api/me/", bearerTok), want: 404},
		{name: "upper case", req: head("GET", "/API/ME", bearerTok), want: 404},
		{name: "HEAD", req: head("HEAD", "/api/me", bearerTok), want: 405},
		{name: "revoke with dot-dot id", req: head("DELETE", "/api/me/sessions/%2e%2e", bearerTok), want: 400},
		{name: "revoke with an empty id is not sign-out-everywhere", req: head("DELETE", "/api/me/sessions/", bearerTok), want: 404},
		{name: "revoke with a bad UUID", req: head("DELETE", "/api/me/sessions/00000000-0000-0000-0000-00000000000g", bearerTok), want: 400},
		{name: "revoke with a path in the id", req: head("DELETE", "/api/me/sessions/..%2F..%2Fadmin", bearerTok), want: 400},
		{name: "revoke another identity's session", req: head("DELETE", "/api/me/sessions/{other}", bearerTok), want: 404},
		{name: "page_token smuggling a page_size", req: head("GET", "/api/me/sessions?page_token=x%26page_size%3D1000", bearerTok), want: 400},
		{name: "page_token with CRLF", req: head("GET", "/api/me/sessions?page_token=%0d%0aX-Injected:%201", bearerTok), want: 400},
		{name: "page_size in exponent form", req: head("GET", "/api/me/sessions?page_size=1e3", bearerTok), want: 400},
		{name: "page_size repeated: the first counts", req: head("GET", "/api/me/sessions?page_size=1&page_size=1000", bearerTok), want: 200},
		{name: "admin route with a role header", req: head("GET", "/api/admin/identities", bearerTok, "X-Role: admin"), want: 403},
		{name: "admin route with a role query", req: head("GET", "/api/admin/identities?role=admin&metadata_public.role=admin", bearerTok), want: 403},
		{name: "token beats a forged cookie", req: head("GET", "/api/resource", bearerTok, "Cookie: ory_kratos_session=forged"), want: 200},
		{name: "token with 2000 foreign cookies", req: head("GET", "/api/resource", bearerTok, "Cookie: "+strings.Repeat("a=1; ", 2000)+"b=2"), want: 200},
		{name: "X-Session-Token beats a forged bearer", req: head("GET", "/api/resource", "X-Session-Token: {tok}", "Authorization: Bearer ory_st_forged"), want: 200},
	}
	e.runRaw(t, tests, tok, e.fake.SessionID(otherTok), func(t *testing.T, tt rawCase, resp *http.Response, body []byte) {
		// A 200 is the caller's own data from the route the path names.
		mine := strings.Contains(string(body), me) || strings.Contains(string(body), e.fake.SessionID(tok)) || strings.Contains(string(body), e.fake.SessionID(second))
		if resp.StatusCode == 200 && !mine {
			t.Errorf("200 without the caller's identity: %.300s", body)
		}
		if resp.StatusCode == 200 && strings.Contains(tt.req, "/api/resource") && !strings.Contains(string(body), `"message"`) {
			t.Errorf("/api/resource answered something else: %.300s", body)
		}
	})
	for _, tk := range []string{tok, second, otherTok} {
		if !e.fake.SessionActive(e.fake.SessionID(tk)) {
			t.Errorf("a trick revoked session %s", e.fake.SessionID(tk))
		}
	}
}
