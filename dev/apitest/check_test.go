package apitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing: it shows that
// Check and CheckResponse fail the test they are given, which a check that only logs
// (or one that approves everything) would not.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
}

func (r *recorder) Helper() {}

func (r *recorder) Error(args ...any) { r.add(fmt.Sprint(args...)) }

func (r *recorder) Errorf(format string, args ...any) { r.add(fmt.Sprintf(format, args...)) }

func (r *recorder) Fatal(args ...any) {
	r.add(fmt.Sprint(args...))
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.add(fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Fail()        { r.add("Fail") }
func (r *recorder) FailNow()     { r.add("FailNow"); runtime.Goexit() }
func (r *recorder) Failed() bool { return len(r.failures()) > 0 }

func (r *recorder) add(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, msg)
}

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failed...)
}

// record runs f with a recorder on its own goroutine (Fatal ends it, as it ends a
// test) and returns the failures it recorded.
func record(t *testing.T, f func(tb testing.TB)) []string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failures()
}

const (
	validResource = `{"message":"hi","identity_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13","session_id":"9f425a8d-7efc-4768-8f23-7647a74fdf13"}`
	validProblem  = `{"type":"about:blank","title":"Not Found","status":404,"code":"not_found"}`
)

// TestCheckFailsTheTest calls Check and CheckResponse, the functions the tests use,
// with answers the document allows and answers it does not.
func TestCheckFailsTheTest(t *testing.T) {
	v := New(t)
	jsonType := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	problemType := http.Header{"Content-Type": {"application/problem+json"}}
	tests := []struct {
		name   string
		method string
		path   string
		status int
		header http.Header
		body   string
		ok     bool
	}{
		{"documented answer", "GET", "/api/resource", 200, jsonType, validResource, true},
		{"documented problem", "GET", "/api/resource", 401, problemType, `{"type":"about:blank","title":"Unauthorized","status":401,"code":"unauthorized"}`, true},
		{"undocumented route answering a problem", "GET", "/nope", 404, problemType, validProblem, true},
		{"documented route, body missing a field", "GET", "/api/resource", 200, jsonType, `{"message":"hi"}`, false},
		{"documented route, undocumented status", "GET", "/api/resource", 418, jsonType, `{}`, false},
		{"documented route, problem missing a field", "GET", "/api/resource", 401, problemType, `{"type":"about:blank","title":"Unauthorized","status":401}`, false},
		{"undocumented route answering text/plain", "GET", "/nope", 404, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "404 page not found", false},
		{"undocumented method answering text/plain", "POST", "/api/resource", 405, http.Header{"Content-Type": {"text/plain"}}, "Method Not Allowed", false},
		{"undocumented route, problem missing a field", "GET", "/nope", 404, problemType, `{"type":"about:blank","title":"Not Found","status":404}`, false},
		{"undocumented route, problem of the wrong type", "GET", "/nope", 404, problemType, `{"type":"about:blank","title":"Not Found","status":"404","code":"not_found"}`, false},
		{"undocumented route, not JSON", "GET", "/nope", 404, problemType, `not json`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			check := func(tb testing.TB) { v.Check(tb, req, tt.status, tt.header, []byte(tt.body)) }
			checkResponse := func(tb testing.TB) {
				resp := &http.Response{StatusCode: tt.status, Header: tt.header, Request: req, Body: io.NopCloser(strings.NewReader(tt.body))}
				if got := v.CheckResponse(tb, resp); string(got) != tt.body {
					t.Errorf("CheckResponse returned %q, want the body %q", got, tt.body)
				}
				if again, _ := io.ReadAll(resp.Body); string(again) != tt.body {
					t.Errorf("body after CheckResponse = %q, want it restored", again)
				}
			}
			for name, f := range map[string]func(testing.TB){"Check": check, "CheckResponse": checkResponse} {
				failures := record(t, f)
				if tt.ok && len(failures) > 0 {
					t.Errorf("%s failed an allowed answer: %q", name, failures)
				}
				if !tt.ok && len(failures) == 0 {
					t.Errorf("%s passed an answer openapi.yaml does not allow", name)
				}
			}
		})
	}
}

// TestCheckResponseUnreadableBody: a body that cannot be read fails the test.
func TestCheckResponseUnreadableBody(t *testing.T) {
	v := New(t)
	resp := &http.Response{
		StatusCode: 200,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Request:    httptest.NewRequest("GET", "/api/resource", nil),
		Body:       io.NopCloser(failingReader{}),
	}
	if failures := record(t, func(tb testing.TB) { v.CheckResponse(tb, resp) }); len(failures) == 0 {
		t.Error("CheckResponse passed a body it could not read")
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
