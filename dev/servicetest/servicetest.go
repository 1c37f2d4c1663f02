// Package servicetest starts the service in-process for tests, the way main does
// (through its run function, on a free port), and holds the small helpers that come
// with it: a free port, a log buffer safe for concurrent writes, and a wait for a
// health endpoint.
package servicetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
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
	Logs *Buffer
	// Client is an HTTP client with a timeout, so that a hung service fails the test
	// instead of hanging it.
	Client *http.Client

	cancel context.CancelFunc
	exited chan struct{} // closed when run returns
	err    error         // run's result, set before exited is closed

	mu     sync.Mutex
	waited bool
}

// Start runs the service with env (PORT is set here, to a free port) and waits until
// GET /healthz answers 200. The test's cleanup stops the service, waits for run and
// reports its error, unless the test called Wait itself.
func Start(t testing.TB, run RunFunc, env map[string]string) *Service {
	t.Helper()
	return StartContext(t, context.Background(), run, env)
}

// StartContext is Start with run's context derived from ctx, for tests that pass
// values to run through it.
func StartContext(t testing.TB, ctx context.Context, run RunFunc, env map[string]string) *Service {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vars := maps.Clone(env)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["PORT"] = strconv.Itoa(port)
	ctx, cancel := context.WithCancel(ctx)
	s := &Service{
		Addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Logs:   &Buffer{},
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
	if err := WaitHealthy(wctx, s.URL+"/healthz", s.exited); err != nil {
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

// WaitHealthy polls url until it answers 200. It gives up when ctx is done or when
// exited (the process or goroutine serving url has ended; may be nil) is closed.
func WaitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-exited:
			return fmt.Errorf("exited before %s answered 200", url)
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %w (last: %v)", url, ctx.Err(), last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Buffer is a bytes.Buffer safe for concurrent writes, such as a server's logs.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
