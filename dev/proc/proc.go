// Package proc builds the service and runs it as its own process for the programs
// behind make dev, make bench and make loadtest: a built binary rather than `go run`,
// whose child would outlive a killed `go run`, so stopping stops exactly what started.
//
// It also holds the small helpers those programs share with the test harnesses
// (dev/servicetest, dev/kratostest): a free port, a wait for a health endpoint, a log
// buffer safe for concurrent writes. It does not import "testing", so programs can
// use it.
package proc

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Build compiles the Go package pkg of the module in root (e.g. "." for the service)
// into the file out.
func Build(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s %s: %w", out, pkg, err)
	}
	return nil
}

// Config says how to run a service binary.
type Config struct {
	Bin  string   // the binary
	Dir  string   // working directory; the service reads a .env found there
	Env  []string // the whole environment ("KEY=value"); PORT is added
	Port int      // listen port on 127.0.0.1; 0 picks a free one
	CPUs string   // run under taskset -c CPUs when set
	Out  io.Writer
	// LogFile, when set, is a file (created, or emptied) that gets everything the
	// service prints, as well as Out; it is closed when the process exits.
	LogFile string
	// Ready is the path polled until it answers 200 (default /healthz).
	Ready string
}

// Process is a running service.
type Process struct {
	URL  string // http://127.0.0.1:PORT
	Port int
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, once done is closed
}

// Start runs the binary and waits until it answers 200 on c.Ready, it exits, or ctx
// is done.
func Start(ctx context.Context, c Config) (*Process, error) {
	port, err := PortOrFree(c.Port)
	if err != nil {
		return nil, err
	}
	args := []string{c.Bin}
	if c.CPUs != "" {
		args = append([]string{"taskset", "-c", c.CPUs}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = append(append([]string(nil), c.Env...), "PORT="+strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = c.Out, c.Out
	var logFile *os.File
	if c.LogFile != "" {
		if logFile, err = os.Create(c.LogFile); err != nil {
			return nil, err
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if c.Out != nil {
			cmd.Stdout = io.MultiWriter(logFile, c.Out)
			cmd.Stderr = cmd.Stdout
		}
	}
	KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, fmt.Errorf("start %s: %w", c.Bin, err)
	}
	p := &Process{URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if logFile != nil {
			logFile.Close()
		}
		close(p.done)
	}()
	ready := c.Ready
	if ready == "" {
		ready = "/healthz"
	}
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := WaitHealthy(wctx, p.URL+ready, p.done); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the process's exit status once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM, waits for the process to exit (killing it after a grace
// period) and returns its exit status: nil for a clean exit.
func (p *Process) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("did not exit within %s of SIGTERM: killed", stopTimeout)
	}
}

// Kill ends the process at once and waits for it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
