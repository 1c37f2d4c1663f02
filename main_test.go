package main

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/example/ory-gin-starter/dev/apitest"
	"github.com/example/ory-gin-starter/dev/servicetest"
)

// TestMain is the only one in package main: e2e_test.go (build tag e2e) shares
// the package and must not define another.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// envOf returns a getenv backed by vars.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// unitKey is the API key the tests against the fake Ory configure.
const unitKey = "ory_apikey_maintest0123456789abcdef"

// service is the service started through run, with every answer checked against
// openapi.yaml.
type service struct {
	*servicetest.Service
	api *apitest.Validator
}

// startRun runs the service with env on a free port until the test ends.
func startRun(t *testing.T, env map[string]string) *service {
	t.Helper()
	return &service{Service: servicetest.Start(t, run, env), api: apitest.New(t)}
}

// call sends a request with the given headers (name, value, ...), checks the answer
// against openapi.yaml, and returns the status, body and headers. It fails t, the
// calling (sub)test: stopping a parent from inside a subtest would hide the subtests
// after it.
func (s *service) call(t testing.TB, method, path string, headers ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body := s.api.CheckResponse(t, resp)
	return resp.StatusCode, body, resp.Header
}

// expect is call plus a status assertion; it returns the body.
func (s *service) expect(t testing.TB, want int, method, path string, headers ...string) []byte {
	t.Helper()
	got, body, _ := s.call(t, method, path, headers...)
	if got != want {
		t.Fatalf("%s %s: status = %d, want %d; body: %s", method, path, got, want, body)
	}
	return body
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// waitReadyz asks /readyz until it answers want: its answer may be a couple of
// seconds old.
func (s *service) waitReadyz(t testing.TB, want int) []byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, body, _ := s.call(t, "GET", "/readyz")
		if got == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz: status = %d, want %d within 10s; body: %s", got, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
