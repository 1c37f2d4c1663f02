package proc

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitOK(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 { // not ready for the first two polls
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	running := make(chan struct{})
	if err := WaitOK(t.Context(), srv.URL, running, 5*time.Second); err != nil {
		t.Fatalf("WaitOK = %v, want nil once the server answers 200", err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("polled %d times, want 3", n)
	}

	exited := make(chan struct{})
	close(exited)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	err = WaitOK(t.Context(), "http://127.0.0.1:"+strconv.Itoa(port), exited, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Errorf("WaitOK on an exited process = %v, want an error saying it exited", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := WaitOK(ctx, "http://127.0.0.1:"+strconv.Itoa(port), running, 5*time.Second); err == nil {
		t.Error("WaitOK with a cancelled context = nil, want an error")
	}
	if err := WaitOK(t.Context(), "http://127.0.0.1:"+strconv.Itoa(port), running, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not ready") {
		t.Errorf("WaitOK past its timeout = %v, want not ready", err)
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
	l.Close()
	if Busy(port) {
		t.Errorf("Busy(%d) = true after the listener closed", port)
	}
}
