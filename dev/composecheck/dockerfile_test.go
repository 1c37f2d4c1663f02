package composecheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// No Docker engine runs here, so the Dockerfile is checked with BuildKit's own parser
// and instruction reader (what `docker build` uses) plus its build checks (linter).

func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("Dockerfile does not parse: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	var lint []string
	l := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		lint = append(lint, fmt.Sprintf("%s: %s (line %v)", rule, msg, loc))
	}})
	stages, _, err := instructions.Parse(res.AST, l)
	if err != nil {
		t.Fatalf("Dockerfile instructions: %v", err)
	}
	for _, w := range lint {
		t.Errorf("Dockerfile build check: %s", w)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, runtime)", len(stages))
	}
	build, final := stages[0], stages[1]

	// Which Go release: TestGoVersionAgrees holds it to go.mod.
	if !strings.HasPrefix(build.BaseName, "golang:") || build.Name != "build" {
		t.Errorf("build stage = FROM %s AS %s, want FROM golang:... AS build", build.BaseName, build.Name)
	}
	if final.BaseName != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("final stage base = %q, want gcr.io/distroless/static-debian12:nonroot", final.BaseName)
	}

	// Build stage order: COPY go.mod go.sum, RUN go mod download, COPY . ., RUN go build.
	step := map[string]int{}
	for i, c := range build.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			src := c.SourcePaths
			if slices.Contains(src, "go.mod") && slices.Contains(src, "go.sum") && len(src) == 2 {
				step["copy-mod"] = i
			}
			if slices.Equal(src, []string{"."}) {
				step["copy-all"] = i
			}
		case *instructions.RunCommand:
			line := strings.Join(c.CmdLine, " ")
			if strings.Contains(line, "go mod download") {
				step["download"] = i
			}
			if strings.Contains(line, "go build") {
				step["build"] = i
				// grpcnotrace: the OTLP exporter links gRPC, whose request tracing
				// (x/net/trace) would keep the linker from dropping unused code
				// anywhere in the binary.
				for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-tags grpcnotrace", `-ldflags "-s -w"`, "-o /out/app ."} {
					if !strings.Contains(line, want) {
						t.Errorf("go build step %q lacks %s", line, want)
					}
				}
			}
		}
	}
	order := []string{"copy-mod", "download", "copy-all", "build"}
	for i, name := range order {
		if _, ok := step[name]; !ok {
			t.Errorf("build stage has no %s step", name)
			continue
		}
		if i > 0 && step[name] < step[order[i-1]] {
			t.Errorf("build stage: %s comes before %s; dependencies must be downloaded in their own layer first", name, order[i-1])
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		mustExist(t, filepath.Join(repoRoot(t), f), false)
	}

	// Final stage: the binary from the build stage, non-root, port 8080, exec-form entrypoint.
	var binary, user string
	var exposed []string
	var entry *instructions.EntrypointCommand
	var health *instructions.HealthCheckCommand
	for _, c := range final.Commands {
		switch c := c.(type) {
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.CopyCommand:
			if c.From == "build" && slices.Equal(c.SourcePaths, []string{"/out/app"}) {
				binary = c.DestPath
			}
		case *instructions.UserCommand:
			user = c.User
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.EntrypointCommand:
			entry = c
		case *instructions.RunCommand:
			t.Errorf("final stage runs %q: distroless has no shell", c.CmdLine)
		}
	}
	if binary == "" {
		t.Error("final stage does not COPY --from=build /out/app")
	}
	if user != "nonroot:nonroot" {
		t.Errorf("final stage USER = %q, want nonroot:nonroot", user)
	}
	if !slices.Contains(exposed, "8080") {
		t.Errorf("final stage EXPOSE = %v, want 8080", exposed)
	}
	if entry == nil || entry.PrependShell || len(entry.CmdLine) == 0 || entry.CmdLine[0] != binary {
		t.Errorf("final stage ENTRYPOINT = %+v, want exec form [%q]", entry, binary)
	}
	// Compose's depends_on/--wait and `docker run` need a health state; distroless has no
	// shell or wget, so the probe is the binary's own healthcheck argument, exec form.
	if want := []string{"CMD", binary, "healthcheck"}; health == nil || !slices.Equal(health.Health.Test, want) {
		var got []string
		if health != nil {
			got = health.Health.Test
		}
		t.Errorf("final stage HEALTHCHECK = %q, want %q", got, want)
	} else if h := health.Health; h.Interval <= 0 || h.Timeout <= 0 || h.Retries <= 0 {
		t.Errorf("final stage HEALTHCHECK interval/timeout/retries = %v/%v/%d: set all three, Docker's defaults take 30s to report healthy", h.Interval, h.Timeout, h.Retries)
	}
}

// TestDockerignore checks the build context: secrets and local outputs stay out, the
// app's sources and module files stay in.
func TestDockerignore(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(p string) bool {
		ok, err := pm.MatchesOrParentMatches(p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, p := range []string{
		".env", ".env.local", ".git/config", "bin/kratos", ".run/kratos.log", ".run/bin/dev",
		"dev/kratosbuild/go.mod", "dev/composecheck/go.mod", "coverage.out", "app.test",
	} {
		if !excluded(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{
		"go.mod", "go.sum", "main.go", "auth/middleware.go", "handlers/api.go",
		"openapi.yaml", ".env.example", "kratos/kratos.yml",
	} {
		if excluded(p) {
			t.Errorf(".dockerignore keeps %s out of the build context", p)
		}
	}
}
