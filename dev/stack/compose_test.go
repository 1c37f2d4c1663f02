//go:build stack

package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example/ory-gin-starter/dev/proc"
)

// project is one run of docker-compose.yml under its own project name and host ports.
type project struct {
	root, name                     string
	appPort, publicPort, adminPort int
	env                            []string
}

// newProject picks a unique project name and free host ports, and registers the
// cleanup that always runs `down -v` (the project's logs first, when the test failed).
func newProject(t *testing.T) *project {
	t.Helper()
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// Compose reads .env (interpolation and the app's env_file), so a developer's
	// .env could point the app at their Ory Network project. The stack runs from a
	// copy of the files git would commit, which is what a fresh clone gets.
	root := t.TempDir()
	if err := copyCheckout(repo, root); err != nil {
		t.Fatal(err)
	}
	p := &project{root: root, name: fmt.Sprintf("ogs-stacktest-%d-%d", os.Getpid(), time.Now().Unix()%100000)}
	for _, port := range []*int{&p.appPort, &p.publicPort, &p.adminPort} {
		if *port, err = proc.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	p.env = append(os.Environ(),
		"COMPOSE_PROJECT_NAME="+p.name,
		"PORT="+strconv.Itoa(p.appPort),
		"KRATOS_PUBLIC_PORT="+strconv.Itoa(p.publicPort),
		"KRATOS_ADMIN_PORT="+strconv.Itoa(p.adminPort),
		// A developer's exported Ory settings must not redirect the app off the stack.
		"ORY_SDK_URL=", "ORY_ADMIN_URL=", "ORY_PROJECT_SLUG=",
	)
	t.Cleanup(func() {
		if t.Failed() {
			if out, err := p.run(2*time.Minute, "logs", "--no-color", "--tail", "60"); err == nil {
				t.Logf("docker compose logs (last lines per service):\n%s", out)
			}
		}
		if out, err := p.run(5*time.Minute, "down", "-v", "--rmi", "local", "--remove-orphans"); err != nil {
			t.Errorf("cleanup: docker compose down -v: %v\n%s", err, out)
		}
	})
	return p
}

// run runs `docker compose ARGS...` for the project, bounded by timeout, and returns
// its combined output.
func (p *project) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"compose", "--project-directory", p.root, "-f", filepath.Join(p.root, "docker-compose.yml"), "-p", p.name}, args...)...)
	cmd.Dir, cmd.Env = p.root, p.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
	}
	return out.String(), err
}

// must runs `docker compose ARGS...` and fails the test with its output on an error.
func (p *project) must(t *testing.T, timeout time.Duration, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	out, err := p.run(timeout, args...)
	if err != nil {
		t.Fatalf("docker compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// leftovers lists what the engine still holds of the project: containers, networks,
// volumes and images carrying its compose label.
func (p *project) leftovers(t *testing.T) []string {
	t.Helper()
	filter := "label=com.docker.compose.project=" + p.name
	var left []string
	for _, kind := range [][]string{
		{"ps", "-a", "--format", "container {{.Names}}"},
		{"network", "ls", "--format", "network {{.Name}}"},
		{"volume", "ls", "--format", "volume {{.Name}}"},
		{"image", "ls", "--format", "image {{.Repository}}:{{.Tag}}"},
	} {
		args := append(kind[:len(kind)-2:len(kind)-2], "--filter", filter, kind[len(kind)-2], kind[len(kind)-1])
		out, err := exec.Command("docker", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				left = append(left, line)
			}
		}
	}
	return left
}

// copyCheckout copies into dst the files of the repository at src that git tracks
// or would track (ignored ones, such as .env, bin/ and .run/, are left out).
func copyCheckout(src, dst string) error {
	out, err := exec.Command("git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		info, err := os.Lstat(from)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
