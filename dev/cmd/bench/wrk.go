package main

import (
	"bufio"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// wrkResult is what one wrk run reported.
type wrkResult struct {
	requests     int     // "N requests in 5.00s"
	rps          float64 // "Requests/sec:"
	p50, p99     float64 // milliseconds, from --latency
	non2xx       int     // "Non-2xx or 3xx responses: N"
	socketErrors int     // "Socket errors: connect A, read B, write C, timeout D", summed
}

// parseWrk reads wrk's text output (with or without --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRPS, haveReqs bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.Atoi(f[0])
			if err != nil {
				return r, fmt.Errorf("wrk: request count %q: %w", f[0], err)
			}
			r.requests, haveReqs = n, true
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk: Requests/sec %q: %w", f[1], err)
			}
			r.rps, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			ms, err := toMillis(f[1])
			if err != nil {
				return r, err
			}
			if f[0] == "50%" {
				r.p50 = ms
			} else {
				r.p99 = ms
			}
		case strings.HasPrefix(sc.Text(), "  Non-2xx or 3xx responses:") || strings.HasPrefix(sc.Text(), "Non-2xx or 3xx responses:"):
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				return r, fmt.Errorf("wrk: non-2xx count %q: %w", f[len(f)-1], err)
			}
			r.non2xx = n
		case len(f) >= 2 && f[0] == "Socket" && f[1] == "errors:":
			// Socket errors: connect 0, read 3, write 0, timeout 1
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.Atoi(strings.TrimSuffix(f[i+1], ","))
				if err != nil {
					return r, fmt.Errorf("wrk: socket errors %q: %w", sc.Text(), err)
				}
				r.socketErrors += n
			}
		}
	}
	if !haveRPS || !haveReqs {
		return r, errors.New("wrk output has no Requests/sec or request count")
	}
	return r, nil
}

// toMillis converts wrk's latency notation (123.45us, 1.23ms, 1.02s, 1.00m) to ms.
func toMillis(v string) (float64, error) {
	units := []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				break
			}
			return n * u.ms, nil
		}
	}
	return 0, fmt.Errorf("wrk: latency %q has no known unit", v)
}

// median returns the run with the median req/s (the lower middle for an even count):
// a row reports one real run rather than a mix of several.
func median(runs []wrkResult) wrkResult {
	if len(runs) == 0 {
		return wrkResult{}
	}
	s := slices.Clone(runs)
	slices.SortStableFunc(s, func(a, b wrkResult) int {
		switch {
		case a.rps < b.rps:
			return -1
		case a.rps > b.rps:
			return 1
		}
		return 0
	})
	return s[(len(s)-1)/2]
}
