package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestHealthcheck runs the `healthcheck` argument the container image uses against
// servers on the port PORT names: only a 200 from /healthz, in time, is healthy.
func TestHealthcheck(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc // nil: nothing listens on the port
		healthy bool
	}{
		{"200", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
			}
		}, true},
		{"other path only", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				http.NotFound(w, r)
			}
		}, false},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, false},
		{"hangs", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, false},
		{"nothing listening", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			if tc.handler == nil {
				ln.Close()
			} else {
				srv := httptest.NewUnstartedServer(tc.handler)
				srv.Listener.Close()
				srv.Listener = ln
				srv.Start()
				t.Cleanup(srv.Close)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			env := map[string]string{"PORT": strconv.Itoa(port)}
			err = healthcheck(ctx, func(k string) string { return env[k] })
			if healthy := err == nil; healthy != tc.healthy {
				t.Errorf("healthcheck error = %v, want healthy = %v", err, tc.healthy)
			}
		})
	}
}

// TestHealthcheckBadConfig: a PORT the service itself would refuse is unhealthy, not
// a probe of some default port.
func TestHealthcheckBadConfig(t *testing.T) {
	env := map[string]string{"PORT": "not-a-port"}
	if err := healthcheck(context.Background(), func(k string) string { return env[k] }); err == nil {
		t.Error("healthcheck error = nil, want an error for PORT=not-a-port")
	}
}
