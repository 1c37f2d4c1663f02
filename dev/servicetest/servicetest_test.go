package servicetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/proc"
)

// fakeRun serves /healthz on PORT until ctx is done, like the service's run.
func fakeRun(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:"+getenv("PORT"))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "listening %s greeting=%s\n", ln.Addr(), getenv("GREETING"))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, getenv("GREETING"))
	})}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.New("stopped")
}

func TestStart(t *testing.T) {
	s := Start(t, fakeRun, map[string]string{"GREETING": "hi"})
	resp, err := s.Client.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hi" {
		t.Errorf("GET /healthz = %d %q, want 200 \"hi\" (env passed through)", resp.StatusCode, body)
	}
	if got := s.Logs.String(); got != "listening "+s.Addr+" greeting=hi\n" {
		t.Errorf("logs = %q", got)
	}
	// Wait hands run's result to the test, which then owns it.
	if err := s.Stop(5 * time.Second); err == nil || err.Error() != "stopped" {
		t.Errorf("Stop() = %v, want run's error", err)
	}
	if err := s.Wait(time.Second); err == nil || err.Error() != "stopped" {
		t.Errorf("second Wait() = %v, want run's error again", err)
	}
}

func TestWaitStillRunning(t *testing.T) {
	s := Start(t, fakeRun, nil)
	if err := s.Wait(10 * time.Millisecond); !errors.Is(err, ErrStillRunning) {
		t.Errorf("Wait() = %v, want ErrStillRunning", err)
	}
	_ = s.Stop(5 * time.Second)
}

// TestStartOnChosenPort: a PORT in env is kept, so that a Kratos started first can
// be told the service's URL.
func TestStartOnChosenPort(t *testing.T) {
	port, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, fakeRun, map[string]string{"PORT": strconv.Itoa(port)})
	if want := "http://127.0.0.1:" + strconv.Itoa(port); s.URL != want {
		t.Errorf("URL = %s, want %s", s.URL, want)
	}
	_ = s.Stop(5 * time.Second) // fakeRun's "stopped"
}
