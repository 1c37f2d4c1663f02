package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunVerdicts runs the tool on a throwaway module with one mutant of each
// verdict, so that CAUGHT means the tests failed on the broken code and nothing else.
func TestRunVerdicts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test")
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/m\n\ngo 1.22\n",
		"m.go":   "package m\n\nfunc Add(a, b int) int { return a + b }\n\nfunc Sub(a, b int) int { return a - b }\n",
		"m_test.go": "package m\n\nimport \"testing\"\n\n" +
			"func TestAdd(t *testing.T) {\n\tif Add(2, 3) != 5 {\n\t\tt.Fatal(\"Add(2, 3) != 5\")\n\t}\n}\n\n" +
			"func TestAlwaysFails(t *testing.T) { t.Fatal(\"fails\") }\n",
		"mutants.txt": `
name: add-subtracts
file: m.go
old:  return a + b
new:  return a - b
pkg:  .
run:  ^TestAdd$

name: sub-untested
file: m.go
old:  return a - b
new:  return a + b
pkg:  .
run:  ^TestAdd$

name: snippet-gone
file: m.go
old:  return a * b
new:  return 0
pkg:  .

name: does-not-build
file: m.go
old:  return a + b
new:  return a +
pkg:  .
run:  ^TestAdd$

name: tests-fail-anyway
file: m.go
old:  return a + b
new:  return b + a
pkg:  .
run:  ^TestAlwaysFails$

name: no-test-matches
file: m.go
old:  return a + b
new:  return b + a
pkg:  .
run:  ^TestNothing$
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "m.go"))
	t.Chdir(dir)

	var out strings.Builder
	err := run(t.Context(), []string{"-file", filepath.Join(dir, "mutants.txt")}, &out)
	t.Log(out.String())
	if err == nil {
		t.Fatal("run returned nil, want an error: mutants were not caught")
	}
	for _, want := range []string{
		`(?m)^CAUGHT .* add-subtracts$`,
		`(?m)^SURVIVED .* sub-untested$`,
		`(?m)^STALE .* snippet-gone$`,
		`found 0 times, want exactly once`,
		`(?m)^BROKEN .* does-not-build$`,
		`(?m)^BASELINE .* tests-fail-anyway$`,
		`(?m)^SURVIVED .* no-test-matches$\n.*\n.*\n.*no test matched -run \^TestNothing\$`,
		`(?m)^mutants: 1 caught, 2 survived, 1 stale, 1 broken, 1 baseline failures, of 6 in `,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output does not match %s", want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "m.go")); string(after) != string(before) {
		t.Errorf("m.go was changed on disk:\n%s", after)
	}

	out.Reset()
	err = run(t.Context(), []string{"-file", filepath.Join(dir, "mutants.txt"), "-list"}, &out)
	if err == nil || !regexp.MustCompile(`(?m)^STALE +snippet-gone `).MatchString(out.String()) || len(regexp.MustCompile(`(?m)^ok `).FindAllString(out.String(), -1)) != 5 {
		t.Errorf("run -list = %v, want an error and snippet-gone alone marked STALE:\n%s", err, out.String())
	}

	out.Reset()
	if err := run(t.Context(), []string{"-file", filepath.Join(dir, "mutants.txt"), "-run", "^add-"}, &out); err != nil {
		t.Errorf("run -run ^add- = %v, want nil: the one mutant is caught\n%s", err, out.String())
	}
}
