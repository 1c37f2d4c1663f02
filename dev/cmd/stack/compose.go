package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The Compose v2 plugin built when `docker compose` is missing; its one source of truth.
const (
	composeModule  = "github.com/docker/compose/v2"
	composeVersion = "v2.40.3"
)

// ensureCompose builds the Compose v2 plugin from the Go module proxy into the Docker
// CLI's plugin folder when `docker compose` does not answer. `go install` refuses the
// module (its go.mod has exclude directives), so it builds inside the downloaded module.
func ensureCompose(ctx context.Context, version string, stdout io.Writer) error {
	if v, err := docker(ctx, "compose", "version", "--short"); err == nil {
		fmt.Fprintf(stdout, ">> Docker Compose %s\n", v)
		return nil
	}
	dir := os.Getenv("DOCKER_CONFIG")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		dir = filepath.Join(home, ".docker")
	}
	plugin := filepath.Join(dir, "cli-plugins", "docker-compose")
	fmt.Fprintf(stdout, ">> no `docker compose`: building Compose %s from the Go module proxy into %s (first time only, a few minutes)\n", version, plugin)
	t := time.Now()
	out, err := output(exec.CommandContext(ctx, "go", "mod", "download", "-json", composeModule+"@"+version))
	if err != nil {
		return err
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		return fmt.Errorf("go mod download %s@%s: %v %s", composeModule, version, err, mod.Error)
	}
	build := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X "+composeModule+"/internal.Version="+version,
		"-o", plugin, "./cmd")
	build.Dir = mod.Dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if _, err := output(build); err != nil {
		return err
	}
	v, err := docker(ctx, "compose", "version", "--short")
	if err != nil {
		return fmt.Errorf("built %s, but: %w", plugin, err)
	}
	if strings.TrimPrefix(v, "v") != strings.TrimPrefix(version, "v") {
		return fmt.Errorf("built Compose %s, but `docker compose version` says %s", version, v)
	}
	fmt.Fprintf(stdout, ">> built Docker Compose %s in %s\n", v, time.Since(t).Round(time.Second))
	return nil
}
