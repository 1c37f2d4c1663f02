package kratostest

import (
	"net"
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
		name   string
		writes []string
		want   int64
	}{
		{"one whoami", []string{whoamiLine}, 1},
		{"with a query string", []string{tokenizeLine}, 1},
		{"started lines are not answers", []string{startedLine}, 0},
		{"another path", []string{otherPath}, 0},
		{"split across writes", []string{whoamiLine[:40], whoamiLine[40:90], whoamiLine[90:]}, 1},
		{"many in one write", []string{startedLine + whoamiLine + otherPath + whoamiLine + tokenizeLine}, 3},
		{"no newline yet", []string{strings.TrimSuffix(whoamiLine, "\n")}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &requestCounter{path: "/sessions/whoami"}
			for _, w := range tc.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			if got := c.count.Load(); got != tc.want {
				t.Errorf("count = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPortOrFree(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	if _, err := portOrFree(busy); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("portOrFree(busy port) err = %v, want one saying it is in use", err)
	}
	free, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := portOrFree(free); got != free || err != nil {
		t.Errorf("portOrFree(%d) = %d, %v; want the same port", free, got, err)
	}
	if got, err := portOrFree(0); got == 0 || err != nil {
		t.Errorf("portOrFree(0) = %d, %v; want a free port", got, err)
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
