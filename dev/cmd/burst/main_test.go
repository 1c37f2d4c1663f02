package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestBurstExitStatus(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("Authorization") != "Bearer t" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		case "/denied":
			w.WriteHeader(http.StatusUnauthorized)
		case "/mixed":
			if calls.Add(1)%5 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
	}))
	defer srv.Close()

	cases := []struct {
		name      string
		path      string
		args      []string
		wantCode  int
		wantOut   string
		wantError string
	}{
		{"all 200", "/ok", nil, 0, "status 200 20\nerrors 0\n", ""},
		{"all 401, want 200", "/denied", nil, 1, "status 401 20\n", "20 of 20 answers had a status other than 200"},
		{"all 401, want 401", "/denied", []string{"-want", "401"}, 0, "status 401 20\n", ""},
		{"some 503", "/mixed", nil, 1, "status 503 4\n", "4 of 20 answers had a status other than 200"},
		{"some 503, any status", "/mixed", []string{"-want", "0"}, 0, "status 503 4\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.Store(0)
			var stdout, stderr bytes.Buffer
			args := append([]string{"-url", srv.URL + tc.path, "-n", "20"}, tc.args...)
			getenv := func(k string) string {
				if k == "BURST_HEADER" {
					return "Authorization: Bearer t"
				}
				return ""
			}
			code := run(args, getenv, &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit status = %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tc.wantOut)
			}
			if tc.wantError != "" && !strings.Contains(stderr.String(), tc.wantError) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.wantError)
			}
		})
	}
}

func TestUnexpected(t *testing.T) {
	cases := []struct {
		counts map[int]int
		want   int
		bad    int
	}{
		{map[int]int{200: 1000}, 200, 0},
		{map[int]int{200: 999, 500: 1}, 200, 1},
		{map[int]int{401: 3, 429: 2}, 200, 5},
		{map[int]int{401: 3, 429: 2}, 0, 0},
		{map[int]int{}, 200, 0},
	}
	for _, tc := range cases {
		if got := unexpected(tc.counts, tc.want); got != tc.bad {
			t.Errorf("unexpected(%v, %d) = %d, want %d", tc.counts, tc.want, got, tc.bad)
		}
	}
}
