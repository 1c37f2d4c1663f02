package composecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/modfile"
)

// Each version has one source of truth; these tests hold every other place to it.
// Kratos: the build module's requirement (dev/kratosbuild/go.mod). Go: the root go.mod.

const kratosModule = "github.com/ory/kratos"

func readModFile(t *testing.T, rel string) *modfile.File {
	t.Helper()
	path := filepath.Join(repoRoot(t), rel)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse(path, raw, nil)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return f
}

// kratosVersion is the Kratos version the build module requires: the truth.
func kratosVersion(t *testing.T) string {
	t.Helper()
	for _, r := range readModFile(t, "dev/kratosbuild/go.mod").Require {
		if r.Mod.Path == kratosModule {
			return r.Mod.Version
		}
	}
	t.Fatalf("dev/kratosbuild/go.mod does not require %s", kratosModule)
	return ""
}

// TestKratosImagesMatchBuildModule: compose runs the Kratos the tests build.
func TestKratosImagesMatchBuildModule(t *testing.T) {
	want := kratosVersion(t)
	p := mustLoad(t, copyCompose(t, nil), nil)
	n := 0
	for _, name := range serviceNames(p) {
		repo, tag, ok := strings.Cut(p.Services[name].Image, ":")
		if repo != "oryd/kratos" {
			continue
		}
		n++
		// A suffix such as -distroless names a variant of the same release.
		if !ok || (tag != want && !strings.HasPrefix(tag, want+"-")) {
			t.Errorf("service %s runs %s, want tag %s (dev/kratosbuild/go.mod requires %s %s)", name, p.Services[name].Image, want, kratosModule, want)
		}
	}
	if n == 0 {
		t.Error("no service runs an oryd/kratos image")
	}
}

// TestKratosConfigVersion: kratos.yml declares the config schema of the Kratos it runs on.
func TestKratosConfigVersion(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "kratos", "kratos.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Version string `yaml:"version"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if want := kratosVersion(t); cfg.Version != want {
		t.Errorf("kratos/kratos.yml version = %q, want %q (dev/kratosbuild/go.mod)", cfg.Version, want)
	}
}

// TestMakefileReadsKratosVersion: the Makefile takes Kratos's version from the build
// module (for the build's ldflags) and names none itself.
func TestMakefileReadsKratosVersion(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	root := repoRoot(t)
	cmd := exec.Command("make", "-s", "--no-print-directory", "--eval", "print-kratos-version: ; @echo $(KRATOS_VERSION)", "print-kratos-version")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make print-kratos-version: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), kratosVersion(t); got != want {
		t.Errorf("Makefile KRATOS_VERSION = %q, want %q (dev/kratosbuild/go.mod)", got, want)
	}
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if m := semver.FindString(string(raw)); m != "" {
		t.Errorf("Makefile names a version (%s): read it from its source of truth instead", m)
	}
}

var semver = regexp.MustCompile(`\bv\d+\.\d+(\.\d+)?\b`)

// TestNoVersionsInComments: a version written in a comment rots when the truth moves.
func TestNoVersionsInComments(t *testing.T) {
	root := repoRoot(t)
	kratos := kratosVersion(t)
	files := []struct{ path, comment string }{
		{"docker-compose.yml", "#"}, {"Dockerfile", "#"}, {"Makefile", "#"}, {".ci/run", "#"},
		{"dev/kratosbuild/go.mod", "//"}, {"dev/kratosbuild/main.go", "//"},
	}
	for _, dir := range []string{"dev/cmd", "dev/kratostest"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				rel, _ := filepath.Rel(root, path)
				files = append(files, struct{ path, comment string }{rel, "//"})
			}
			return nil
		})
	}
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(root, f.path))
		if err != nil {
			t.Error(err)
			continue
		}
		for i, line := range strings.Split(string(raw), "\n") {
			_, comment, ok := strings.Cut(line, f.comment)
			if !ok {
				continue
			}
			if strings.Contains(comment, kratos) || semver.MatchString(comment) {
				t.Errorf("%s:%d: a version in a comment: %s", f.path, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestGoVersionAgrees: the image builds with the Go release the module asks for.
func TestGoVersionAgrees(t *testing.T) {
	mod := readModFile(t, "go.mod")
	if mod.Go == nil {
		t.Fatal("go.mod has no go directive")
	}
	want := majorMinor(mod.Go.Version)
	stages := parseDockerfile(t)
	found := false
	for _, s := range stages {
		repo, tag, ok := strings.Cut(s.BaseName, ":")
		if repo != "golang" {
			continue
		}
		found = true
		if !ok || majorMinor(strings.SplitN(tag, "-", 2)[0]) != want {
			t.Errorf("Dockerfile stage %q builds FROM %s, want golang:%s (go.mod: go %s)", s.Name, s.BaseName, want, mod.Go.Version)
		}
	}
	if !found {
		t.Error("no golang build stage in the Dockerfile")
	}
}

// majorMinor returns "1.26" for "1.26", "1.26.0" and "1.26rc1".
func majorMinor(v string) string {
	m := regexp.MustCompile(`^\d+\.\d+`).FindString(v)
	return m
}
