// Package apitest checks real HTTP exchanges against the service's openapi.yaml with
// kin-openapi, so the document and the code cannot drift apart.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

var load = sync.OnceValues(func() (*openapi3.T, error) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "openapi.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// Match any host: tests listen on random loopback ports.
	doc.Servers = nil
	return doc, nil
})

// Validator checks responses against the document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads and validates openapi.yaml.
func New(t testing.TB) *Validator {
	t.Helper()
	doc, err := load()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapi router: %v", err)
	}
	return &Validator{doc: doc, router: r}
}

// Check fails t unless the response (status, header, body) to req is one the
// document allows for that route. Responses of paths the document does not list
// (404, 405) must still be problem documents.
func (v *Validator) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if err := v.check(req, status, header, body); err != nil {
		t.Errorf("%s %s -> %d violates openapi.yaml: %v\nbody: %.400s", req.Method, req.URL.Path, status, err, body)
	}
}

// CheckResponse reads resp's body (and restores it), then checks it like Check.
func (v *Validator) CheckResponse(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.Check(t, resp.Request, resp.StatusCode, resp.Header, body)
	return body
}

func (v *Validator) check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		return v.checkProblem(header, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
			Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()},
		},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkProblem validates body against the Problem schema.
func (v *Validator) checkProblem(header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return &openapi3.SchemaError{Reason: "undocumented route answered " + ct + ", not a problem document"}
	}
	var val any
	if err := json.Unmarshal(body, &val); err != nil {
		return err
	}
	return v.doc.Components.Schemas["Problem"].Value.VisitJSON(val, openapi3.EnableJSONSchema2020())
}

// Decode unmarshals a JSON response body into a T, failing t when it cannot.
func Decode[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}
