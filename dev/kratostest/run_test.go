package kratostest

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Lines as Kratos writes them (text format, sensitive values redacted), shortened.
const (
	whoamiLine   = `time=2026-11-28T04:30:41Z level=info msg=completed handling request http_request=map[headers:map[accept:application/json] host:127.0.0.1:44809 method:GET path:/sessions/whoami query:<nil> remote:127.0.0.1:49716 scheme:http] http_response=map[size:887 status:200 text_status:OK took:1.5ms]` + "\n"
	tokenizeLine = `time=2026-11-28T04:30:42Z level=info msg=completed handling request http_request=map[host:127.0.0.1:44809 method:GET path:/sessions/whoami query:Value is sensitive and has been redacted. remote:127.0.0.1:49716 scheme:http] http_response=map[status:200]` + "\n"
	startedLine  = `time=2026-11-28T04:30:41Z level=info msg=started handling request http_request=map[host:127.0.0.1:44809 method:GET path:/sessions/whoami query:<nil> scheme:http]` + "\n"
	otherPath    = `time=2026-11-28T04:30:42Z level=info msg=completed handling request http_request=map[method:GET path:/sessions/whoami/x query:<nil>] http_response=map[status:404]` + "\n"
)

func TestRequestCounter(t *testing.T) {
	cases := []struct {
		name     string
		writes   []string
		path     string
		statuses []int
		want     int64
	}{
		{"one whoami", []string{whoamiLine}, "/sessions/whoami", nil, 1},
		{"with a query string", []string{tokenizeLine}, "/sessions/whoami", nil, 1},
		{"started lines are not answers", []string{startedLine}, "/sessions/whoami", nil, 0},
		{"another path", []string{otherPath}, "/sessions/whoami", nil, 0},
		{"that other path", []string{otherPath}, "/sessions/whoami/x", nil, 1},
		{"split across writes", []string{whoamiLine[:40], whoamiLine[40:90], whoamiLine[90:]}, "/sessions/whoami", nil, 1},
		{"many in one write", []string{startedLine + whoamiLine + otherPath + whoamiLine + tokenizeLine}, "/sessions/whoami", nil, 3},
		{"no newline yet", []string{strings.TrimSuffix(whoamiLine, "\n")}, "/sessions/whoami", nil, 0},
		{"by status", []string{whoamiLine + otherPath}, "/sessions/whoami/x", []int{http.StatusNotFound}, 1},
		{"not text_status", []string{whoamiLine}, "/sessions/whoami", []int{http.StatusOK}, 1},
		{"another status", []string{whoamiLine + tokenizeLine}, "/sessions/whoami", []int{http.StatusTemporaryRedirect}, 0},
		{"any of statuses", []string{whoamiLine + otherPath}, "/sessions/whoami/x", []int{http.StatusOK, http.StatusNotFound}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &requestCounter{}
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := c.count(tc.path, tc.statuses...); got != tc.want {
				t.Errorf("count(%q, %v) = %d, want %d", tc.path, tc.statuses, got, tc.want)
			}
		})
	}
}

func TestRunRejectsTakenPort(t *testing.T) {
	t.Setenv("KRATOS_BIN", "/bin/true") // never started: the port check comes first
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	_, err = Run(t.Context(), WithPorts(busy, 0))
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(busy)) {
		t.Fatalf("Run with a taken public port: err = %v, want one naming port %d", err, busy)
	}
}

func TestLastLines(t *testing.T) {
	if got := lastLines("a\nb\nc\n", 2); got != "b\nc\n" {
		t.Errorf("lastLines = %q, want %q", got, "b\nc\n")
	}
	if got := lastLines("a\nb", 5); got != "a\nb" {
		t.Errorf("lastLines = %q, want %q", got, "a\nb")
	}
}
