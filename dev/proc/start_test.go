package proc

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the service: run with
// PROC_TEST_SERVE=1, it prints a line and answers 200 on PORT until it is killed.
func TestMain(m *testing.M) {
	if os.Getenv("PROC_TEST_SERVE") == "1" {
		fmt.Println("serving")
		err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func TestStartLogFile(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "service.log")
	var out Buffer
	p, err := Start(t.Context(), Config{
		Bin:     os.Args[0],
		Env:     append(os.Environ(), "PROC_TEST_SERVE=1"),
		Out:     &out,
		LogFile: logPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "serving") {
		t.Errorf("log file = %q, want what the service printed", log)
	}
	if !strings.Contains(out.String(), "serving") {
		t.Errorf("Out = %q, want what the service printed as well", out.String())
	}
}
