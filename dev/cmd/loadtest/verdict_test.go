package main

import (
	"errors"
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	resource := kind{name: "valid token", want: 200, identity: "id-a"}
	cases := []struct {
		name   string
		k      kind
		status int
		body   string
		want   string // "" for right, else a part of the complaint
	}{
		{"right identity", resource, 200, `{"identity_id":"id-a","session_id":"s"}`, ""},
		{"another caller's identity", resource, 200, `{"identity_id":"id-b"}`, `identity_id "id-b", want "id-a"`},
		{"no identity in the body", resource, 200, `{"message":"hi"}`, `identity_id "", want "id-a"`},
		{"not JSON", resource, 200, `<html>`, "not the resource JSON"},
		{"wrong status", resource, 401, `{"identity_id":"id-a"}`, "status 401, want 200"},
		{"status only kind", kind{want: 401}, 401, `{"title":"Unauthorized"}`, ""},
		{"status only kind, wrong status", kind{want: 403}, 200, `[]`, "status 200, want 403"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := judge(tc.k, tc.status, []byte(tc.body))
			if tc.want == "" && got != "" {
				t.Fatalf("judge = %q, want a right answer", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("judge = %q, want it to contain %q", got, tc.want)
			}
		})
	}
}

func TestHeapAllowance(t *testing.T) {
	const mib = 1 << 20
	if got := heapAllowance(0, 16, 2); got != 16*mib {
		t.Errorf("heapAllowance(0 requests) = %.0f, want %d", got, 16*mib)
	}
	if got, want := heapAllowance(1024, 16, 2), 16*mib+2*mib; got != float64(want) {
		t.Errorf("heapAllowance(1024 requests, 2 KiB each) = %.0f, want %d", got, want)
	}
	if heapAllowance(100_000, 16, 2) <= heapAllowance(1_000, 16, 2) {
		t.Error("the allowance does not grow with the number of requests")
	}
}

func TestFailures(t *testing.T) {
	const mib = 1 << 20
	pass := outcome{sent: 1000, g0: 10, g1: 12, h0: 8 * mib, h1: 9 * mib, goroutineSlack: 20, heapSlackMiB: 16, heapPerRequestKB: 2}
	cases := []struct {
		name   string
		change func(*outcome)
		want   string // "" for PASS
	}{
		{"pass", func(*outcome) {}, ""},
		{"a wrong answer", func(o *outcome) { o.wrong = 1 }, "1 wrong answers"},
		{"an error", func(o *outcome) { o.errs = 2 }, "2 errors"},
		{"goroutine leak", func(o *outcome) { o.g1 = 31 }, "goroutines grew from 10 to 31"},
		{"goroutines at the slack", func(o *outcome) { o.g1 = 30 }, ""},
		{"heap over the allowance", func(o *outcome) { o.h1 = o.h0 + 19*mib }, "heap in use grew"},
		{"heap within the allowance of a longer run", func(o *outcome) { o.h1 = o.h0 + 19*mib; o.sent = 2000 }, ""},
		{"unclean shutdown", func(o *outcome) { o.shutdown = errors.New("exit status 1") }, "service shutdown: exit status 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := pass
			tc.change(&o)
			got := strings.Join(failures(o), "; ")
			if tc.want == "" && got != "" {
				t.Fatalf("failures = %q, want none", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("failures = %q, want one containing %q", got, tc.want)
			}
		})
	}
}
