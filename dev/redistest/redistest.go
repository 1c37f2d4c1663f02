// Package redistest starts a real redis-server for tests, on a free loopback port,
// with nothing saved to disk: each test gets its own, stopped in its cleanup.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/proc"
)

// startTimeout bounds the wait for a redis-server to accept connections.
const startTimeout = 15 * time.Second

// Server is a redis-server the test started.
type Server struct {
	// Addr is 127.0.0.1:port; it stays the same across Restart.
	Addr string
	// URL is redis://Addr/0.
	URL string

	tb   testing.TB // nil when started by Run
	bin  string
	port int
	dir  string
	logs *proc.Buffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs redis-server on a free port until the test ends. It fails the test
// at once when redis-server is not installed (make installs it).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Run(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	s.tb = tb
	tb.Cleanup(s.Close)
	return s
}

// Run is Start for programs (make bench): the caller stops the server. Restart,
// Flush and Thaw are for tests only.
func Run(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed (make unit, e2e and bench install Debian's redis-server): %w", err)
	}
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, port: port, dir: dir, logs: &proc.Buffer{}}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "redis://" + s.Addr + "/0"
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", s.dir)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	proc.KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		if _, err := s.Do("PING"); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start:\n%s", s.logs)
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("redis-server not answering on %s after %s:\n%s", s.Addr, startTimeout, s.logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop kills the server (as a crash would) and waits for it to exit. Safe to call
// more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot die otherwise
	_ = cmd.Process.Kill()
	<-done
}

// Close stops the server and removes its folder.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

// Restart starts a stopped server again on the same port, empty.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	if err := s.start(context.Background()); err != nil {
		s.tb.Fatal(err)
	}
}

// Freeze stops the server process (SIGSTOP): connections stay open and every
// command hangs, as with an overloaded or partitioned Redis. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Flush empties the server (FLUSHALL), as an operator or an eviction storm might.
func (s *Server) Flush() {
	s.tb.Helper()
	if _, err := s.Do("FLUSHALL"); err != nil {
		s.tb.Fatalf("FLUSHALL: %v", err)
	}
}

// Do sends one command over a fresh connection and returns the first line of the
// reply (bulk strings: their value; nil: ""). Errors from Redis are errors. It is
// for tests that poke at the server directly, with no client library.
func (s *Server) Do(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch {
	case line == "":
		return "", fmt.Errorf("empty reply")
	case line[0] == '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line[1:], nil
}
