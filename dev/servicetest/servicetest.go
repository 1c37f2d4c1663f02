// Package servicetest starts the service in-process for tests, the way main does
// (through its run function, on a free port). The helpers it is built on (a free
// port, a wait for a health endpoint, a log buffer) live in dev/proc, which programs
// can import too.
package servicetest

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/proc"
)

// RunFunc is the signature of the service's run function.
type RunFunc func(ctx context.Context, getenv func(string) string, stdout io.Writer) error

// ErrStillRunning is what Wait returns when run has not returned in time.
var ErrStillRunning = errors.New("run has not returned")

// Service is the service started through run on a free port.
type Service struct {
	// URL is the base URL, http://127.0.0.1:port.
	URL string
	// Addr is the host:port it listens on.
	Addr string
	// Logs receives everything run writes to stdout.
	Logs *proc.Buffer
	// Client is an HTTP client with a timeout, so that a hung service fails the test
	// instead of hanging it.
	Client *http.Client

	cancel context.CancelFunc
	exited chan struct{} // closed when run returns
	err    error         // run's result, set before exited is closed

	mu     sync.Mutex
	waited bool
}

// Start runs the service with env (PORT is set here, to a free port, unless env
// sets it: a test whose Kratos must know the service's URL picks the port first
// with proc.FreePort) and waits until GET /healthz answers 200. The test's cleanup stops the service, waits for run and
// reports its error, unless the test called Wait itself.
func Start(t testing.TB, run RunFunc, env map[string]string) *Service {
	t.Helper()
	return StartContext(t, context.Background(), run, env)
}

// StartContext is Start with run's context derived from ctx, for tests that pass
// values to run through it.
func StartContext(t testing.TB, ctx context.Context, run RunFunc, env map[string]string) *Service {
	t.Helper()
	vars := maps.Clone(env)
	if vars == nil {
		vars = map[string]string{}
	}
	port, err := strconv.Atoi(vars["PORT"])
	if vars["PORT"] == "" {
		port, err = proc.FreePort()
	}
	if err != nil {
		t.Fatal(err)
	}
	vars["PORT"] = strconv.Itoa(port)
	ctx, cancel := context.WithCancel(ctx)
	s := &Service{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Logs:   &proc.Buffer{},
		Client: &http.Client{Timeout: 10 * time.Second},
		cancel: cancel,
		exited: make(chan struct{}),
	}
	s.URL = "http://" + s.Addr
	go func() {
		defer close(s.exited)
		s.err = run(ctx, func(k string) string { return vars[k] }, s.Logs)
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		waited := s.waited
		s.mu.Unlock()
		if waited {
			return
		}
		if err := s.Stop(30 * time.Second); err != nil {
			t.Errorf("run() = %v", err)
		}
	})

	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := proc.WaitHealthy(wctx, s.URL+"/healthz", s.exited); err != nil {
		t.Fatalf("service not ready: %v\nlogs:\n%s", err, s.Logs)
	}
	return s
}

// Cancel cancels run's context: the service starts shutting down.
func (s *Service) Cancel() { s.cancel() }

// Wait waits up to timeout for run to return and returns its error, or
// ErrStillRunning. Once it has returned run's result, the cleanup no longer reports it.
func (s *Service) Wait(timeout time.Duration) error {
	select {
	case <-s.exited:
		s.mu.Lock()
		s.waited = true
		s.mu.Unlock()
		return s.err
	case <-time.After(timeout):
		return ErrStillRunning
	}
}

// Stop is Cancel, then Wait.
func (s *Service) Stop(timeout time.Duration) error {
	s.Cancel()
	return s.Wait(timeout)
}
