package proc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitHealthy(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 { // not ready for the first two polls
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	running := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := WaitHealthy(ctx, srv.URL, running); err != nil {
		t.Fatalf("WaitHealthy = %v, want nil once the server answers 200", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}
}

func TestWaitHealthyGivesUp(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	running := make(chan struct{})
	exited := make(chan struct{})
	close(exited)
	if err := WaitHealthy(t.Context(), url, exited); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitHealthy on an exited process = %v, want an error saying it exited", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := WaitHealthy(ctx, url, running); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitHealthy with a cancelled context = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := WaitHealthy(ctx, url, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitHealthy past its deadline = %v, want the context's deadline", err)
	}
}

func TestBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !Busy(port) {
		t.Errorf("Busy(%d) = false with a listener on it", port)
	}
	if _, err := PortOrFree(port); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("PortOrFree(%d) with a listener on it = %v, want in use", port, err)
	}
	l.Close()
	if Busy(port) {
		t.Errorf("Busy(%d) = true after the listener closed", port)
	}
	if got, err := PortOrFree(port); err != nil || got != port {
		t.Errorf("PortOrFree(%d) after the listener closed = %d, %v, want the same port", port, got, err)
	}
	if got, err := PortOrFree(0); err != nil || got == 0 {
		t.Errorf("PortOrFree(0) = %d, %v, want a free port", got, err)
	}
}
