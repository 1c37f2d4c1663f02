// Command mutants checks that the tests catch known breakages of the code. Each
// entry of dev/mutants/mutants.txt names a breakage (an exact snippet of a file and
// what replaces it) and the tests that must fail with it. For each, it runs those
// tests on the broken code through go test -overlay, so the work tree is never
// touched, and reports:
//
//	CAUGHT    the tests failed, as they should
//	SURVIVED  the tests passed with the breakage: they miss it
//	STALE     the snippet is no longer in the file exactly once: update the list
//	BROKEN    the broken code or its tests do not build: fix the entry
//	BASELINE  the tests fail without the breakage, so failing proves nothing
//
// It exits non-zero unless every mutant is CAUGHT. Run it from the module root:
//
//	go run ./dev/cmd/mutants [-run NAME-REGEXP] [-list] [-p 2]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		stop()
		os.Exit(1)
	}
}

type options struct {
	list     string
	only     *regexp.Regexp
	listOnly bool
	verbose  bool
	parallel int
	timeout  time.Duration
	baseline bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("mutants", flag.ContinueOnError)
	var o options
	only := fs.String("run", "", "run only the mutants whose name matches this regexp")
	fs.StringVar(&o.list, "file", "dev/mutants/mutants.txt", "the list of mutants")
	fs.BoolVar(&o.listOnly, "list", false, "print the mutants and the tests that must catch them, run nothing")
	fs.IntVar(&o.parallel, "p", 2, "mutants tested at once")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "go test -timeout for each run")
	fs.BoolVar(&o.verbose, "v", false, "also show which tests failed for each CAUGHT mutant")
	fs.BoolVar(&o.baseline, "baseline", true, "first check that each set of tests passes on the unbroken code")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	re, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	o.only, o.parallel = re, max(o.parallel, 1)

	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return errors.New("run from the module root (no go.mod here)")
	}
	path := o.list
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	all, err := parseList(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s:\n%w", o.list, err)
	}
	var ms []mutant
	for _, m := range all {
		if o.only.MatchString(m.name) {
			ms = append(ms, m)
		}
	}
	if len(ms) == 0 {
		return fmt.Errorf("no mutant matches -run %q", *only)
	}
	if o.listOnly {
		// Checking the snippets costs nothing, so the list shows which are stale.
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		stales := 0
		for _, m := range ms {
			state := "ok"
			if _, err := m.mutate(root); err != nil {
				state, stales = stale, stales+1
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\tgo %s\n", state, m.name, m.file, strings.Join(m.testArgs(), " "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if stales > 0 {
			return fmt.Errorf("%d of %d mutants are stale", stales, len(ms))
		}
		return nil
	}

	tmp, err := os.MkdirTemp("", "mutants-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	r := &runner{root: root, tmp: tmp, timeout: o.timeout}

	start := time.Now()
	results := r.all(ctx, ms, o, stdout)
	counts := map[string]int{}
	var missed []string
	for i, res := range results {
		counts[res.verdict]++
		if res.verdict != caught && res.verdict != "" {
			missed = append(missed, ms[i].name+" ("+res.verdict+")")
		}
	}
	fmt.Fprintf(stdout, "mutants: %d caught, %d survived, %d stale, %d broken, %d baseline failures, of %d in %s\n",
		counts[caught], counts[survived], counts[stale], counts[broken], counts[baselineFailed], len(ms), time.Since(start).Round(time.Second))
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(missed) > 0 {
		return fmt.Errorf("%d of %d mutants not caught: %s", len(missed), len(ms), strings.Join(missed, ", "))
	}
	return nil
}

// Verdicts.
const (
	caught         = "CAUGHT"
	survived       = "SURVIVED"
	stale          = "STALE"
	broken         = "BROKEN"
	baselineFailed = "BASELINE"
)

type result struct {
	verdict string
	took    time.Duration
	detail  string // the output of go test, or why there is none
}

type runner struct {
	root    string
	tmp     string
	timeout time.Duration
}

// all tests ms, o.parallel at a time, printing one line per mutant in list order.
func (r *runner) all(ctx context.Context, ms []mutant, o options, stdout io.Writer) []result {
	results := make([]result, len(ms))
	srcs := make([]string, len(ms))
	todo := make([]bool, len(ms))
	for i, m := range ms {
		var err error
		if srcs[i], err = m.mutate(r.root); err != nil {
			results[i] = result{verdict: stale, detail: err.Error()}
			continue
		}
		todo[i] = true
	}

	if o.baseline {
		// Each distinct set of tests once, on the unbroken code.
		base := map[string]*result{}
		var keys []string
		var jobs []mutant
		for i, m := range ms {
			k := strings.Join(m.testArgs(), " ")
			if todo[i] && base[k] == nil {
				base[k] = &result{}
				keys = append(keys, k)
				jobs = append(jobs, m)
			}
		}
		fmt.Fprintf(stdout, "baseline: %d sets of tests on the unbroken code\n", len(jobs))
		parallel(len(jobs), o.parallel, func(i int) {
			*base[keys[i]] = r.test(ctx, jobs[i], "")
		})
		for i, m := range ms {
			if !todo[i] {
				continue
			}
			switch b := base[strings.Join(m.testArgs(), " ")]; b.verdict {
			case survived: // the tests pass on the unbroken code, as they must
			case "": // interrupted
				todo[i] = false
			default:
				results[i] = result{verdict: baselineFailed, took: b.took, detail: "the tests fail without the breakage:\n" + tail(b.detail, 14)}
				todo[i] = false
			}
		}
	}

	done := make([]chan struct{}, len(ms))
	for i := range done {
		done[i] = make(chan struct{})
	}
	go parallel(len(ms), o.parallel, func(i int) {
		defer close(done[i])
		if !todo[i] || ctx.Err() != nil {
			return
		}
		overlay, err := r.overlay(i, ms[i], srcs[i])
		if err != nil {
			results[i] = result{verdict: broken, detail: err.Error()}
			return
		}
		results[i] = r.test(ctx, ms[i], overlay)
	})
	for i, m := range ms {
		<-done[i]
		res := results[i]
		if res.verdict == "" { // interrupted
			continue
		}
		fmt.Fprintf(stdout, "%-9s %6.1fs  %s\n", res.verdict, res.took.Seconds(), m.name)
		if res.verdict == caught && o.verbose {
			for l := range strings.Lines(res.detail) {
				if strings.Contains(l, "--- FAIL") {
					fmt.Fprintf(stdout, "          %s\n", strings.TrimSpace(l))
				}
			}
		}
		if res.verdict != caught {
			fmt.Fprintf(stdout, "          %s:%d: %s\n          go %s\n", o.list, m.line, m.file, strings.Join(m.testArgs(), " "))
			for l := range strings.Lines(tail(res.detail, 15)) {
				fmt.Fprintf(stdout, "          | %s\n", strings.TrimRight(l, "\n"))
			}
		}
	}
	return results
}

// mutate returns m's file under root with m's edits made.
func (m *mutant) mutate(root string) (string, error) {
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.file)))
	if err != nil {
		return "", err
	}
	return m.apply(string(src))
}

// parallel calls f(0..n-1), at most width at a time, and waits for them.
func parallel(n, width int, f func(int)) {
	sem := make(chan struct{}, width)
	finished := make(chan struct{})
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; finished <- struct{}{} }()
			f(i)
		}()
	}
	for range n {
		<-finished
	}
}

// overlay writes the broken source and a go build overlay that puts it in place of
// the mutant's file, and returns the overlay's path.
func (r *runner) overlay(i int, m mutant, src string) (string, error) {
	dir := filepath.Join(r.tmp, fmt.Sprint(i))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	broken := filepath.Join(dir, filepath.Base(m.file))
	if err := os.WriteFile(broken, []byte(src), 0o644); err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{
		"Replace": {filepath.Join(r.root, filepath.FromSlash(m.file)): broken},
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "overlay.json")
	return path, os.WriteFile(path, b, 0o644)
}

// test runs m's tests, on the code as it is when overlay is "". A failing run is
// CAUGHT, a passing one SURVIVED, and one that does not build BROKEN.
func (r *runner) test(parent context.Context, m mutant, overlay string) result {
	extra := []string{"-timeout", r.timeout.String()}
	if overlay != "" {
		extra = append(extra, "-overlay", overlay)
	}
	// go test's own -timeout stops a hung test with a failure; this is the backstop.
	ctx, cancel := context.WithTimeout(parent, r.timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", m.testArgs(extra...)...)
	cmd.Dir = r.root
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	res := result{took: time.Since(start), detail: string(out)}
	var exit *exec.ExitError
	switch {
	case parent.Err() != nil:
		return result{} // interrupted: no verdict
	case err == nil:
		res.verdict = survived
		if strings.Contains(string(out), "no tests to run") {
			res.detail = "no test matched -run " + m.run
		} else {
			res.detail = ""
		}
	case strings.Contains(string(out), "[build failed]") || strings.Contains(string(out), "[setup failed]"):
		res.verdict = broken
	case errors.As(err, &exit) || ctx.Err() != nil:
		res.verdict = caught
	default:
		res.verdict, res.detail = broken, err.Error()
	}
	return res
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
