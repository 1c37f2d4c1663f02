// Command burst fires N concurrent GET requests that carry one header, releases them
// together, and prints how many answers had each status. make bench (dev/cmd/bench)
// uses it to show that a burst of concurrent requests with one new session token costs
// one whoami call. It is a benchmark tool, not part of the service, and uses only the
// standard library.
//
//	BURST_HEADER="Authorization: Bearer $TOKEN" go run ./dev/cmd/burst -url http://127.0.0.1:8080/api/resource -n 1000 -want 200
//
// Each request has its own connection. With -warm (the default /healthz on the same
// host), every connection is opened and used once before the start barrier, so the N
// requests reach the server within a moment of each other instead of trickling in
// behind N TCP handshakes.
//
// Output, one line each, sorted: "status <code> <count>", then "errors <count>" for
// requests that got no answer, then "elapsed <duration>". The exit status is 1 when
// any request failed to get an answer or got a status other than -want (default 200;
// 0 accepts any status).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("burst", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "", "URL to GET (required)")
	n := fs.Int("n", 1000, "number of concurrent requests")
	header := fs.String("header", "", `header sent with every request, "Name: value" (default env BURST_HEADER, which keeps tokens out of ps)`)
	warm := fs.String("warm", "/healthz", `path on the same host used to open every connection before the barrier; "" to skip`)
	timeout := fs.Duration("timeout", 30*time.Second, "overall timeout")
	want := fs.Int("want", http.StatusOK, "the status every answer must have; 0 accepts any")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *header == "" {
		*header = getenv("BURST_HEADER")
	}
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		fmt.Fprintf(stderr, "burst: -url %q is not an http(s) URL\n", *target)
		return 2
	}
	if *n < 1 {
		fmt.Fprintln(stderr, "burst: -n must be at least 1")
		return 2
	}
	var hname, hvalue string
	if *header != "" {
		var ok bool
		hname, hvalue, ok = strings.Cut(*header, ":")
		hname, hvalue = strings.TrimSpace(hname), strings.TrimSpace(hvalue)
		if !ok || hname == "" {
			fmt.Fprintln(stderr, `burst: the header must look like "Name: value"`)
			return 2
		}
	}
	var warmURL string
	if *warm != "" {
		w := *u
		w.Path, w.RawQuery = *warm, ""
		warmURL = w.String()
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	var (
		ready   sync.WaitGroup // every worker has its connection
		done    sync.WaitGroup
		start   = make(chan struct{}) // closed: the barrier opens
		results = make([]int, *n)     // status, or 0 for no answer
		errs    = make([]error, *n)
	)
	ready.Add(*n)
	done.Add(*n)
	for i := range *n {
		go func() {
			defer done.Done()
			// One transport per worker: one connection per request, never shared.
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr}
			var warmErr error
			if warmURL != "" {
				warmErr = get(ctx, hc, warmURL, "", "")
			}
			ready.Done()
			<-start
			if warmErr != nil {
				errs[i] = fmt.Errorf("warm-up: %w", warmErr)
				return
			}
			results[i], errs[i] = getStatus(ctx, hc, u.String(), hname, hvalue)
		}()
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(began)

	counts := map[int]int{}
	failed := 0
	var firstErr error
	for i, s := range results {
		if errs[i] != nil {
			failed++
			if firstErr == nil {
				firstErr = errs[i]
			}
			continue
		}
		counts[s]++
	}
	codes := make([]int, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(stdout, "status %d %d\n", c, counts[c])
	}
	fmt.Fprintf(stdout, "errors %d\n", failed)
	fmt.Fprintf(stdout, "elapsed %s\n", elapsed.Round(time.Millisecond))
	if failed > 0 {
		fmt.Fprintf(stderr, "burst: %d requests got no answer; first: %v\n", failed, firstErr)
		return 1
	}
	if bad := unexpected(counts, *want); bad > 0 {
		fmt.Fprintf(stderr, "burst: %d of %d answers had a status other than %d\n", bad, *n, *want)
		return 1
	}
	return 0
}

// unexpected counts the answers whose status is not want (none when want is 0).
func unexpected(counts map[int]int, want int) int {
	if want == 0 {
		return 0
	}
	bad := 0
	for status, c := range counts {
		if status != want {
			bad += c
		}
	}
	return bad
}

func get(ctx context.Context, hc *http.Client, u, hname, hvalue string) error {
	status, err := getStatus(ctx, hc, u, hname, hvalue)
	if err == nil && status != http.StatusOK {
		err = errors.New("status " + http.StatusText(status))
	}
	return err
}

// getStatus GETs u and returns the status, having read the body so the connection
// can be reused.
func getStatus(ctx context.Context, hc *http.Client, u, hname, hvalue string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if hname != "" {
		req.Header.Set(hname, hvalue)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
