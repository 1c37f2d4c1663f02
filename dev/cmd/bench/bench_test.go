package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// wrk 4.1 output with --latency, trimmed.
const wrkLatency = `Running 5s test @ http://127.0.0.1:39402/api/resource
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.42ms    1.10ms  25.13ms   91.20%
    Req/Sec    11.82k     1.02k   13.90k    72.00%
  Latency Distribution
     50%    1.17ms
     75%    1.52ms
     90%    2.21ms
     99%  850.00us
  117620 requests in 5.00s, 52.38MB read
Requests/sec:  23517.41
Transfer/sec:     10.47MB
`

const wrkErrors = `Running 2s test @ http://127.0.0.1:39401/api/resource
  2 threads and 32 connections
  117 requests in 2.00s, 20.00KB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 42
Requests/sec:     58.50
Transfer/sec:     10.00KB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkLatency)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{requests: 117620, rps: 23517.41, p50: 1.17, p99: 0.85}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}

	r, err = parseWrk(wrkErrors)
	if err != nil {
		t.Fatal(err)
	}
	if r.non2xx != 42 || r.socketErrors != 6 || r.requests != 117 {
		t.Errorf("parseWrk = %+v, want 42 non-2xx, 6 socket errors, 117 requests", r)
	}

	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted output without results")
	}
}

func TestToMillis(t *testing.T) {
	cases := []struct {
		in   string
		want float64
	}{
		{"850.00us", 0.85}, {"1.17ms", 1.17}, {"1.02s", 1020}, {"1.00m", 60000},
	}
	for _, tc := range cases {
		got, err := toMillis(tc.in)
		if err != nil || got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("toMillis(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"12", "ms", "1.2h"} {
		if _, err := toMillis(bad); err == nil {
			t.Errorf("toMillis(%q) accepted", bad)
		}
	}
}

func TestMedian(t *testing.T) {
	runs := []wrkResult{{rps: 300, p99: 3}, {rps: 100, p99: 1}, {rps: 200, p99: 2}}
	if got := median(runs); got.rps != 200 || got.p99 != 2 {
		t.Errorf("median = %+v, want the 200 req/s run with its own p99", got)
	}
	if got := median(runs[:2]); got.rps != 100 {
		t.Errorf("median of two = %+v, want the lower", got)
	}
	if got := median(nil); got != (wrkResult{}) {
		t.Errorf("median(nil) = %+v", got)
	}
}

func TestVerdict(t *testing.T) {
	cases := []struct {
		value, min float64
		want       string
	}{{0.95, 0.90, "PASS"}, {0.90, 0.90, "PASS"}, {0.89, 0.90, "MISS"}, {0, 0.80, "MISS"}}
	for _, tc := range cases {
		if got := verdict(tc.value, tc.min); got != tc.want {
			t.Errorf("verdict(%v, %v) = %s, want %s", tc.value, tc.min, got, tc.want)
		}
	}
	if ratio(1, 0) != 0 {
		t.Error("ratio over zero is not 0")
	}
}

func TestFailures(t *testing.T) {
	names := []string{"healthz", "cached", "jwt", "uncached", "uncached-n", "whoami-direct"}
	good := func() outcome {
		return outcome{
			rps:    map[string]float64{"healthz": 1000, "cached": 950, "jwt": 850, "uncached": 500, "uncached-n": 95, "whoami-direct": 100},
			non2xx: map[string]int{}, socketErrs: map[string]int{},
			burstN: 1000, burstOK: true, burstWhoami: 1,
		}
	}
	cases := []struct {
		name   string
		change func(*outcome)
		want   string // "" for no failure
	}{
		{"all targets met", func(*outcome) {}, ""},
		{"cached ratio missed", func(o *outcome) { o.rps["cached"] = 800 }, "MISS: cached / healthz = 0.80, target >= 0.90"},
		{"pass-through ratio missed", func(o *outcome) { o.rps["uncached-n"] = 50 }, "MISS: uncached (N tok) / whoami-direct"},
		{"jwt ratio missed", func(o *outcome) { o.rps["jwt"] = 700 }, "MISS: jwt / healthz"},
		{"the info ratio never fails", func(o *outcome) { o.rps["uncached"] = 1 }, ""},
		{"non-2xx answers", func(o *outcome) { o.non2xx["cached"] = 3 }, "cached: 3 non-2xx answers"},
		{"socket errors", func(o *outcome) { o.socketErrs["whoami-direct"] = 2 }, "whoami-direct: 2 socket errors"},
		{"burst not all 200", func(o *outcome) { o.burstOK = false }, "burst: not 1000 x 200"},
		{"burst cost two whoamis", func(o *outcome) { o.burstWhoami = 2 }, "MISS: burst cost 2 whoami calls, target 1"},
		{"go benchmarks failed", func(o *outcome) { o.goBenchErr = errors.New("exit status 1") }, "go benchmarks: exit status 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good()
			tc.change(&o)
			got := strings.Join(failures(o, names), "; ")
			if tc.want == "" && got != "" {
				t.Fatalf("failures = %q, want none", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("failures = %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestParseMetrics(t *testing.T) {
	page := `# HELP ory_session_checks_seconds Duration of Ory session checks.
# TYPE ory_session_checks_seconds histogram
ory_session_checks_seconds_bucket{outcome="ok",le="0.005"} 3
ory_session_checks_seconds_sum{outcome="ok"} 0.01
ory_session_checks_seconds_count{outcome="ok"} 4
ory_session_checks_seconds_count{outcome="unauthorized"} 2
session_cache_lookups_total{result="hit"} 997
session_cache_lookups_total{result="miss"} 3
session_cache_lookups_total{result="jwt"} 12
go_goroutines 9
`
	c := parseMetrics([]byte(page))
	if c.whoami != 6 {
		t.Errorf("whoami = %v, want 6 (count summed over outcomes, no buckets)", c.whoami)
	}
	if c.lookups["hit"] != 997 || c.lookups["miss"] != 3 || c.lookups["jwt"] != 12 {
		t.Errorf("lookups = %v", c.lookups)
	}
}

func TestReadConfig(t *testing.T) {
	c, err := readConfig(func(string) string { return "" })
	want := config{threads: 2, conns: 32, rounds: 3, burstN: 1000, duration: 5 * time.Second, warmup: 3 * time.Second, pin: true}
	if err != nil || c != want {
		t.Errorf("defaults = %+v, %v; want %+v", c, err, want)
	}
	env := map[string]string{"WRK_DURATION": "2s", "BENCH_ROUNDS": "1", "BENCH_PIN": "0", "BENCH_SKIP_GO": "1", "BURST_N": "10"}
	c, err = readConfig(func(k string) string { return env[k] })
	if err != nil || c.duration != 2*time.Second || c.rounds != 1 || c.pin || !c.skipGo || c.burstN != 10 {
		t.Errorf("overrides = %+v, %v", c, err)
	}
	env = map[string]string{"WRK_DURATION": "5", "WRK_CONNS": "0"}
	_, err = readConfig(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "WRK_DURATION") || !strings.Contains(err.Error(), "WRK_CONNS") {
		t.Errorf("bad values: err = %v, want both named", err)
	}
}
