// Command stack prepares what the composed-stack test needs and then runs it: a Docker
// engine (started when none answers, and stopped again at the end), the Compose v2
// plugin (built from the Go module proxy when `docker compose` is missing), and the
// images docker-compose.yml and the Dockerfile name. An image that is neither present
// nor pullable is replaced by a local stand-in (see standins.go), and the run says so.
//
//	stack [-compose-version vX.Y.Z] [-pull-timeout 45s] -- COMMAND ARGS...
//
// It runs from the repository root. Environment: NEED_DEBOOTSTRAP, a shell command
// that installs debootstrap (the Makefile's need macro), run only when a stand-in
// must be built and debootstrap is missing. The engine logs to .run/dockerd.log.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("stack", flag.ContinueOnError)
	version := fs.String("compose-version", composeVersion, "Compose v2 release to build when `docker compose` is missing")
	pullTimeout := fs.Duration("pull-timeout", 45*time.Second, "bound on each `docker pull`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	command := fs.Args()
	if len(command) == 0 {
		return errors.New("usage: stack [-compose-version vX.Y.Z] [-pull-timeout 45s] -- COMMAND ARGS...")
	}
	start := time.Now()
	step := func(name string, since time.Time) {
		fmt.Fprintf(stdout, ">> %s: %s\n", name, time.Since(since).Round(100*time.Millisecond))
	}

	t := time.Now()
	stopEngine, err := ensureEngine(ctx, stdout)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := stopEngine(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	step("engine ready", t)

	t = time.Now()
	if err := ensureCompose(ctx, *version, stdout); err != nil {
		return err
	}
	step("compose plugin ready", t)

	t = time.Now()
	images, err := projectImages(ctx)
	if err != nil {
		return err
	}
	b := &standins{getenv: getenv, stdout: stdout}
	var report []string
	for _, img := range images {
		line, err := ensureImage(ctx, img, *pullTimeout, b, stdout)
		if err != nil {
			return err
		}
		report = append(report, line)
	}
	step("images ready", t)
	summary := "images:\n   " + strings.Join(report, "\n   ")
	fmt.Fprintf(stdout, ">> %s\n", summary)

	t = time.Now()
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	runErr := cmd.Run()
	step("test", t)
	// Said again at the end, where people read: a pass on stand-ins is not a pass on the
	// registry's images.
	fmt.Fprintf(stdout, ">> %s\n", summary)
	step("total", start)
	if runErr != nil {
		return fmt.Errorf("%s: %w", strings.Join(command, " "), runErr)
	}
	return nil
}

// docker runs the docker CLI and returns its trimmed standard output; the error
// carries standard error.
func docker(ctx context.Context, args ...string) (string, error) {
	return output(exec.CommandContext(ctx, "docker", args...))
}

func output(cmd *exec.Cmd) (string, error) {
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
