package ory_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/ory"
)

// TestMaxConnsBoundsCallsInFlight: every distinct token is a whoami call, so a
// flood of fake tokens against a slow Ory must not open a socket each. Calls past
// MaxConns wait for a connection and fail with their own timeout, never reaching
// Ory.
func TestMaxConnsBoundsCallsInFlight(t *testing.T) {
	t.Parallel()
	const maxConns, calls = 2, 10
	var (
		mu              sync.Mutex
		open, peakOpen  int // connections, as the server sees them
		inFlight, total int // requests in the handler, and all it got
		peakInFlight    int
	)
	arrived := make(chan struct{}, calls)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		total++
		peakInFlight = max(peakInFlight, inFlight)
		mu.Unlock()
		arrived <- struct{}{}
		<-r.Context().Done() // a hung Ory: answers nothing until the caller gives up
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			peakOpen = max(peakOpen, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	clients := ory.New(ory.Config{PublicURL: srv.URL, AdminURL: srv.URL, MaxConns: maxConns})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			_, _, err := clients.Frontend.ToSession(ctx).XSessionToken("ory_st_fake" + strconv.Itoa(i)).Execute()
			errs <- err
		}()
	}

	// Once the first calls hold every connection, give the rest time to (wrongly)
	// reach Ory before any deadline can free one.
	for range maxConns {
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatalf("Ory got fewer than %d calls before the timeout", maxConns)
		}
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	gotTotal, gotInFlight, gotOpen := total, peakInFlight, peakOpen
	mu.Unlock()
	if gotOpen > maxConns || gotInFlight > maxConns || gotTotal > maxConns {
		t.Errorf("with MaxConns %d, Ory saw %d connections, %d calls at once, %d calls in all; want at most %d each",
			maxConns, gotOpen, gotInFlight, gotTotal, maxConns)
	}

	for range calls {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("whoami error = %v, want the context's timeout", err)
		}
	}
}
