//go:build e2e

package kratostest_test

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/kratostest"
	"github.com/example/ory-gin-starter/dev/oryflow"
	"github.com/example/ory-gin-starter/dev/proc"
)

// TestE2ERunForPrograms starts Kratos the way make dev and make bench do: fixed ports,
// a log file, whoami calls counted, and no port left open after Close.
func TestE2ERunForPrograms(t *testing.T) {
	pub, adm := freePort(t), freePort(t)
	logPath := filepath.Join(t.TempDir(), "kratos.log")
	k, err := kratostest.Run(t.Context(), kratostest.WithPorts(pub, adm), kratostest.WithLogFile(logPath))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if want := "http://127.0.0.1:" + strconv.Itoa(pub); k.PublicURL() != want {
		t.Errorf("PublicURL = %q, want %q", k.PublicURL(), want)
	}

	res := k.Register(t, k.NewEmail(), kratostest.Password)
	before := k.Requests("/sessions/whoami")
	for range 3 {
		if _, err := k.Whoami(oryflow.Credentials{SessionToken: res.SessionToken}, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Kratos logs the request just after it answers.
	deadline := time.Now().Add(2 * time.Second)
	for k.Requests("/sessions/whoami")-before < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := k.Requests("/sessions/whoami") - before; got != 3 {
		t.Errorf("Requests(/sessions/whoami) grew by %d after 3 whoami calls, want 3", got)
	}

	k.Close()
	select {
	case <-k.Done():
	default:
		t.Error("Done not closed after Close")
	}
	for _, p := range []int{pub, adm} {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			c.Close()
			t.Errorf("port %d still open after Close", p)
		}
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "completed handling request") {
		t.Errorf("log file lacks Kratos's request log:\n%s", log)
	}
	if _, err := http.Get(k.PublicURL() + "/health/ready"); err == nil {
		t.Error("Kratos still answers after Close")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	p, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
