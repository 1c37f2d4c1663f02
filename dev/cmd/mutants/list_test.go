package main

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	const list = `# a comment
name: cache-never-expires
file: auth/cache.go
old:  if !now.Before(e.expires) {
new:  if false {
pkg:  ./auth
run:  ^TestCheckCache$

  # indented comment
name: two-edits-and-a-deletion
file: main.go
old: a := 1
new:
old: b := 2
new: b := 3
pkg: . ./handlers
tags: e2e
`
	got, err := parseList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	want := []mutant{
		{
			name:  "cache-never-expires",
			file:  "auth/cache.go",
			edits: []edit{{old: "if !now.Before(e.expires) {", new: "if false {"}},
			pkgs:  []string{"./auth"},
			run:   "^TestCheckCache$",
			line:  2,
		},
		{
			name:  "two-edits-and-a-deletion",
			file:  "main.go",
			edits: []edit{{old: "a := 1", new: ""}, {old: "b := 2", new: "b := 3"}},
			pkgs:  []string{".", "./handlers"},
			tags:  "e2e",
			line:  10,
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseList =\n%+v\nwant\n%+v", got, want)
	}
	if args := strings.Join(got[1].testArgs("-timeout", "1m"), " "); args != "test -count=1 -timeout 1m -tags e2e . ./handlers" {
		t.Errorf("testArgs = %q", args)
	}
}

func TestParseListErrors(t *testing.T) {
	t.Parallel()
	const ok = "file: a.go\nold: x\nnew: y\npkg: ./a\n"
	tests := []struct {
		name, list, want string
	}{
		{"key before name", "file: a.go\n", `"file" before the first name:`},
		{"no colon", "name: a\n" + ok + "just text\n", `want key: value`},
		{"unknown key", "name: a\n" + ok + "pkgs: ./b\n", `unknown key "pkgs"`},
		{"duplicate name", "name: a\n" + ok + "name: a\n" + ok, `mutant "a" already defined at line 1`},
		{"bad name", "name: Cache Bug\n" + ok, `lower-case`},
		{"missing keys", "name: a\nnew: x\n", `new: without an old:`},
		{"missing file and pkg", "name: a\nold: x\nnew: y\n", `missing file, pkg`},
		{"old without new", "name: a\nfile: a.go\nold: x\npkg: ./a\n", `old: "x" has no new:`},
		{"two olds in a row", "name: a\nfile: a.go\nold: x\nold: y\nnew: z\npkg: ./a\n", `previous old: has no new:`},
		{"new same as old", "name: a\nfile: a.go\nold: x\nnew: x\npkg: ./a\n", `same as old`},
		{"file given twice", "name: a\n" + ok + "file: b.go\n", `file: given twice`},
		{"not a go file", "name: a\nfile: openapi.yaml\nold: x\nnew: y\npkg: ./a\n", `want a .go file`},
		{"outside the module", "name: a\nfile: ../x.go\nold: x\nnew: y\npkg: ./a\n", `want a .go file`},
		{"bad run regexp", "name: a\n" + ok + "run: (\n", `run: error parsing regexp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseList(strings.NewReader(tt.list))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	const src = "a := 1\nb := 2\nif b > a {\n}\nif b > a {\n}\n"
	tests := []struct {
		name  string
		edits []edit
		want  string
		stale int // how often the stale snippet occurs; 0: not stale
	}{
		{"one edit", []edit{{old: "b := 2", new: "b := 0"}}, "a := 1\nb := 0\nif b > a {\n}\nif b > a {\n}\n", 0},
		{"deletion", []edit{{old: "a := 1\n", new: ""}}, "b := 2\nif b > a {\n}\nif b > a {\n}\n", 0},
		{"edits apply in order", []edit{{old: "b := 2", new: "c := 2"}, {old: "c := 2", new: "c := 3"}}, "a := 1\nc := 3\nif b > a {\n}\nif b > a {\n}\n", 0},
		{"snippet gone", []edit{{old: "b := 3", new: "b := 4"}}, "", -1},
		{"snippet twice", []edit{{old: "if b > a {", new: "if true {"}}, "", 2},
		{"second edit stale", []edit{{old: "a := 1", new: "x"}, {old: "a := 1", new: "y"}}, "", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := mutant{name: "m", edits: tt.edits}
			got, err := m.apply(src)
			if tt.stale == 0 {
				if err != nil || got != tt.want {
					t.Errorf("apply = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			var se *staleError
			if !errors.As(err, &se) {
				t.Fatalf("apply error = %v, want a *staleError", err)
			}
			if want := max(tt.stale, 0); se.count != want {
				t.Errorf("count = %d, want %d", se.count, want)
			}
		})
	}
}

// TestListParses keeps the team's list well formed; whether its snippets are still
// in the code is what running it checks (STALE).
func TestListParses(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../mutants/mutants.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ms, err := parseList(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 21 {
		t.Errorf("%d mutants, want at least the 21 of issue 15", len(ms))
	}
}
