package tracecheck

import (
	"strings"
	"testing"
)

func TestLeaksFindsEverySpotOfASpan(t *testing.T) {
	t.Parallel()
	const sec = "ory_st_secretsecretsecret"
	for name, s := range map[string]Span{
		"name":            {Name: "GET " + sec},
		"status":          {Status: "failed for " + sec},
		"attribute value": {Attrs: map[string]string{"url.full": "http://x/?t=" + sec}},
		"attribute key":   {Attrs: map[string]string{"h." + sec: "1"}},
		"event":           {Events: []Event{{Name: "exception", Attrs: map[string]string{"exception.message": sec}}}},
		"event name":      {Events: []Event{{Name: sec}}},
		"resource":        {Resource: map[string]string{"k": sec}},
	} {
		if got := Leaks([]Span{s}, "", sec); len(got) != 1 || strings.Contains(got[0], sec) {
			t.Errorf("%s: Leaks = %q, want one finding that does not repeat the secret", name, got)
		}
	}
	if got := Leaks([]Span{{Name: "GET /api/resource", Attrs: map[string]string{"a": "b"}}}, sec); len(got) != 0 {
		t.Errorf("clean span: Leaks = %q, want none", got)
	}
}
