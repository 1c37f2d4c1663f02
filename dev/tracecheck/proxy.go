package tracecheck

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Request is what Proxy saw of one request.
type Request struct {
	Method, Path string
	Header       http.Header
}

// Proxy is a reverse proxy that records the requests it forwards: put it in
// front of Ory (or the fake) to see the headers Ory receives.
type Proxy struct {
	URL string

	mu   sync.Mutex
	seen []Request
}

// NewProxy starts a recording proxy to target, closed when the test ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Requests returns the requests forwarded so far.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.seen...)
}
