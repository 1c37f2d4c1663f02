package main

import (
	"strings"
	"testing"
)

func TestReplicaFailures(t *testing.T) {
	t.Parallel()
	rows := func(one, three, shared float64, wrong int64) []replicaRow {
		return []replicaRow{{label: "1", perMin: one}, {label: "3", perMin: three}, {label: "3r", perMin: shared, wrong: wrong}}
	}
	tests := []struct {
		name string
		rows []replicaRow
		want []string // substrings, one per failure
	}{
		{"shared like one replica", rows(30, 90, 31, 0), nil},
		{"shared like three replicas", rows(30, 90, 88, 0), []string{"MISS"}},
		{"nothing measured", rows(0, 0, 0, 0), []string{"MISS"}},
		{"wrong answers", rows(30, 90, 30, 2), []string{"2 answers not 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := replicaFailures(tt.rows)
			if len(got) != len(tt.want) {
				t.Fatalf("failures = %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("failure %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
