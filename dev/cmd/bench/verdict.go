package main

import "fmt"

// ratioTarget is one promise the table checks: a row's req/s over another's.
type ratioTarget struct {
	label    string
	num, den string  // target names
	min      float64 // 0: shown for information only
	note     string  // shown instead of a verdict when min is 0
}

// ratioTargets are the ratios the benchmark promises.
var ratioTargets = []ratioTarget{
	{label: "cached / healthz", num: "cached", den: "healthz", min: 0.90},
	{label: "cached, Redis / cached", num: "cached-redis", den: "cached", note: "local hits never touch Redis"},
	{label: "uncached (N tok) / whoami-direct", num: "uncached-n", den: "whoami-direct", min: 0.90},
	{label: "uncached (1 tok) / whoami-direct", num: "uncached", den: "whoami-direct", note: "coalesced by singleflight, not a pass-through"},
	{label: "jwt / healthz", num: "jwt", den: "healthz", min: 0.80},
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// verdict is PASS when value reaches the target, else MISS.
func verdict(value, min float64) string {
	if value >= min {
		return "PASS"
	}
	return "MISS"
}

// outcome is everything make bench judges.
type outcome struct {
	rps         map[string]float64 // median req/s per target
	non2xx      map[string]int     // over every wrk run of the target, warm-up included
	socketErrs  map[string]int
	burstN      int
	burstOK     bool // the burst tool exited 0: every answer was 200
	burstWhoami int64
	goBenchErr  error
}

// failures lists why make bench must exit non-zero; none means it passes.
func failures(o outcome, names []string) []string {
	var fails []string
	for _, n := range names {
		if o.non2xx[n] > 0 {
			fails = append(fails, fmt.Sprintf("%s: %d non-2xx answers", n, o.non2xx[n]))
		}
		if o.socketErrs[n] > 0 {
			fails = append(fails, fmt.Sprintf("%s: %d socket errors", n, o.socketErrs[n]))
		}
	}
	for _, r := range ratioTargets {
		if r.min == 0 {
			continue
		}
		if v := ratio(o.rps[r.num], o.rps[r.den]); verdict(v, r.min) == "MISS" {
			fails = append(fails, fmt.Sprintf("MISS: %s = %.2f, target >= %.2f", r.label, v, r.min))
		}
	}
	if !o.burstOK {
		fails = append(fails, fmt.Sprintf("burst: not %d x 200", o.burstN))
	}
	if o.burstWhoami != 1 {
		fails = append(fails, fmt.Sprintf("MISS: burst cost %d whoami calls, target 1", o.burstWhoami))
	}
	if o.goBenchErr != nil {
		fails = append(fails, "go benchmarks: "+o.goBenchErr.Error())
	}
	return fails
}
