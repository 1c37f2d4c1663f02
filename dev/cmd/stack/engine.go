package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/example/ory-gin-starter/dev/proc"
)

// ensureEngine returns when a Docker engine answers. It starts dockerd only when none
// does, and then returns the function that stops it; otherwise that function does
// nothing, since the engine belongs to someone else.
func ensureEngine(ctx context.Context, stdout io.Writer) (stop func() error, err error) {
	noop := func() error { return nil }
	if v, err := docker(ctx, "version", "--format", "{{.Server.Version}}"); err == nil {
		fmt.Fprintf(stdout, ">> Docker engine %s already running: using it, leaving it running\n", v)
		return noop, nil
	}
	if err := os.MkdirAll(".run", 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(".run", "dockerd.log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("dockerd")
	cmd.Stdout, cmd.Stderr = log, log
	proc.KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start dockerd (root needed): %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); log.Close() }()
	fmt.Fprintf(stdout, ">> no Docker engine answered: started dockerd (pid %d, log %s); it stops at the end\n", cmd.Process.Pid, logPath)
	stop = func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			fmt.Fprintln(stdout, ">> stopped the dockerd this run started")
			return nil
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("dockerd did not stop within a minute of SIGTERM: killed")
		}
	}

	wait, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if _, err := docker(wait, "info", "--format", "{{.ServerVersion}}"); err == nil {
			return stop, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("dockerd exited (%v): see %s", err, logPath)
		case <-wait.Done():
			_ = stop()
			return nil, fmt.Errorf("dockerd did not answer `docker info`: %w; see %s", wait.Err(), logPath)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
