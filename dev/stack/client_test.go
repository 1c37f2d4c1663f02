//go:build stack

package stack

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/apitest"
)

// client calls the app from the host and checks every answer against openapi.yaml.
type client struct {
	v   *apitest.Validator
	app string
}

// do sends a request with the given headers, fails t unless the status is want, and
// returns the body.
func (c *client) do(t *testing.T, want int, method, path string, headers ...[2]string) []byte {
	t.Helper()
	req, err := http.NewRequest(method, c.app+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Set(h[0], h[1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	if resp.StatusCode != want {
		t.Errorf("%s %s: status = %d, want %d\nbody: %.300s", method, path, resp.StatusCode, want, body)
	}
	c.v.Check(t, req, resp.StatusCode, resp.Header, body)
	return body
}

// readyz polls GET /readyz until it answers want. The service reuses its Ory probe
// for a couple of seconds, so an outage or a recovery shows there within that
// much, not at once; within is a bound for a loaded machine.
func (c *client) readyz(t *testing.T, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		req, err := http.NewRequest(http.MethodGet, c.app+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET /readyz: read body: %v", err)
		}
		c.v.Check(t, req, resp.StatusCode, resp.Header, body)
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz: status = %d %s after the change, want %d\nbody: %.300s", resp.StatusCode, within, want, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
