package main

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
)

// A mutant is one named breakage of the code and the tests that must catch it.
type mutant struct {
	name  string
	file  string // relative to the module root, slash-separated
	edits []edit
	pkgs  []string // go test package patterns, such as ./auth
	run   string   // go test -run regexp; empty runs every test of pkgs
	tags  string   // go test -tags, such as e2e
	line  int      // where the entry starts in the list, for messages
}

// An edit replaces old, which must occur exactly once in the file, with new.
type edit struct {
	old, new string
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// parseList reads mutants from r. Each entry starts with "name:" and holds
// "key: value" lines; values are trimmed and stand for one line of code. Lines
// that are blank or start with # are ignored. See mutants.txt for the keys.
func parseList(r io.Reader) ([]mutant, error) {
	var (
		out  []mutant
		cur  *mutant
		errs []string
		seen = map[string]int{}
	)
	finish := func() {
		if cur == nil {
			return
		}
		if err := cur.validate(); err != nil {
			errs = append(errs, fmt.Sprintf("line %d: mutant %q: %v", cur.line, cur.name, err))
		}
		out = append(out, *cur)
		cur = nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			errs = append(errs, fmt.Sprintf("line %d: want key: value, got %q", n, line))
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if key == "name" {
			finish()
			cur = &mutant{name: val, line: n}
			if first, dup := seen[val]; dup {
				errs = append(errs, fmt.Sprintf("line %d: mutant %q already defined at line %d", n, val, first))
			}
			seen[val] = n
			continue
		}
		if cur == nil {
			errs = append(errs, fmt.Sprintf("line %d: %q before the first name:", n, key))
			continue
		}
		if err := cur.set(key, val); err != nil {
			errs = append(errs, fmt.Sprintf("line %d: %v", n, err))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	finish()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return out, nil
}

func (m *mutant) set(key, val string) error {
	single := func(dst *string) error {
		if *dst != "" {
			return fmt.Errorf("%s: given twice", key)
		}
		*dst = val
		return nil
	}
	switch key {
	case "file":
		return single(&m.file)
	case "run":
		return single(&m.run)
	case "tags":
		return single(&m.tags)
	case "pkg":
		m.pkgs = append(m.pkgs, strings.Fields(val)...)
	case "old":
		if n := len(m.edits); n > 0 && !m.edits[n-1].hasNew() {
			return fmt.Errorf("old: the previous old: has no new:")
		}
		m.edits = append(m.edits, edit{old: val, new: noNew})
	case "new":
		n := len(m.edits)
		if n == 0 || m.edits[n-1].hasNew() {
			return fmt.Errorf("new: without an old: before it")
		}
		m.edits[n-1].new = val
	default:
		return fmt.Errorf("unknown key %q (want file, old, new, pkg, run, tags)", key)
	}
	return nil
}

// noNew marks an edit whose new: line has not been read yet; an empty new: is a
// deletion, so "" cannot serve.
const noNew = "\x00"

func (e edit) hasNew() bool { return e.new != noNew }

func (m *mutant) validate() error {
	var missing []string
	if !namePattern.MatchString(m.name) {
		return fmt.Errorf("name must be lower-case letters, digits and dashes")
	}
	if m.file == "" {
		missing = append(missing, "file")
	}
	if len(m.edits) == 0 {
		missing = append(missing, "old")
	}
	if len(m.pkgs) == 0 {
		missing = append(missing, "pkg")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if filepath.IsAbs(m.file) || strings.HasPrefix(filepath.Clean(m.file), "..") || !strings.HasSuffix(m.file, ".go") {
		// go test -overlay replaces Go sources only, inside the module.
		return fmt.Errorf("file %q: want a .go file inside the module", m.file)
	}
	for _, e := range m.edits {
		switch {
		case e.old == "":
			return fmt.Errorf("empty old:")
		case !e.hasNew():
			return fmt.Errorf("old: %q has no new:", e.old)
		case e.old == e.new:
			return fmt.Errorf("new: is the same as old: %q", e.old)
		}
	}
	if m.run != "" {
		if _, err := regexp.Compile(m.run); err != nil {
			return fmt.Errorf("run: %v", err)
		}
	}
	return nil
}

// staleError says the code no longer holds a snippet exactly once: the list must
// be updated to the code, or the breakage would silently test nothing.
type staleError struct {
	old   string
	count int
}

func (e *staleError) Error() string {
	return fmt.Sprintf("old: %q found %d times, want exactly once", e.old, e.count)
}

// apply returns src with m's edits made in order, or a *staleError.
func (m *mutant) apply(src string) (string, error) {
	for _, e := range m.edits {
		if n := strings.Count(src, e.old); n != 1 {
			return "", &staleError{old: e.old, count: n}
		}
		src = strings.Replace(src, e.old, e.new, 1)
	}
	return src, nil
}

// testArgs are the go test arguments that run m's tests; extra goes before the packages.
func (m *mutant) testArgs(extra ...string) []string {
	args := append([]string{"test", "-count=1"}, extra...)
	if m.tags != "" {
		args = append(args, "-tags", m.tags)
	}
	if m.run != "" {
		args = append(args, "-run", m.run)
	}
	return append(args, m.pkgs...)
}
