package handlers_test

import (
	"io"
	"testing"
	"time"
)

// TestBodiesRefusedUnread: no route takes a request body, so any body is refused
// before it is read and before the session check, whatever its size or framing.
// A body that never arrives proves nothing waits on it.
func TestBodiesRefusedUnread(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, tok := e.user("x@example.com")
	stalled := func(w io.Writer) {
		_, _ = io.WriteString(w, "5\r\nhello\r\n")
		time.Sleep(3 * time.Second) // the rest never comes in time
	}
	tests := []rawCase{
		{name: "chunked body that stalls", req: head("DELETE", "/api/me/sessions", "Transfer-Encoding: chunked"), body: stalled, want: 413},
		{name: "chunked body that stalls, valid token", req: head("DELETE", "/api/me/sessions", "Authorization: Bearer {tok}", "Transfer-Encoding: chunked"), body: stalled, want: 413},
		{name: "Content-Length body that stalls", req: head("GET", "/healthz", "Content-Length: 100"), body: func(w io.Writer) { time.Sleep(3 * time.Second) }, want: 413},
		{name: "small body on a GET", req: head("GET", "/api/resource", "Authorization: Bearer {tok}", "Content-Length: 2"), body: func(w io.Writer) { _, _ = io.WriteString(w, "{}") }, want: 413},
		{name: "small chunked body", req: head("DELETE", "/api/me/sessions", "Authorization: Bearer {tok}", "Transfer-Encoding: chunked"), body: chunkedBody(10), want: 413},
		{name: "Content-Length 0", req: head("DELETE", "/api/me/sessions", "Authorization: Bearer {tok}", "Content-Length: 0"), want: 200},
		{name: "no body", req: head("GET", "/readyz"), want: 200},
	}
	for _, tt := range tests {
		start := time.Now()
		e.runRaw(t, []rawCase{tt}, tok, "", nil)
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("%s: answered after %s: the body was waited for", tt.name, took)
		}
	}
	if n := e.fake.WhoamiCalls(); n != 2 {
		t.Errorf("whoami calls = %d, want 2 (the requests without a body)", n)
	}
}
