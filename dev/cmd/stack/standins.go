package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Stand-ins are built only for images that are neither present nor pullable (no
// registry answers on some machines). They are made from what this machine has: a
// Debian bookworm root filesystem (debootstrap, from Debian's mirror), this machine's
// Go toolchain, CA bundle and Kratos binary. Each carries standinLabel, so every run
// that uses one says so; an image that exists is never replaced.

//go:embed standins/*.Dockerfile
var dockerfiles embed.FS

const (
	// baseImage is the Debian root filesystem the other stand-ins start from; built
	// once and reused while it exists.
	baseImage    = "ory-gin-starter-standin/debian:bookworm"
	debianMirror = "http://deb.debian.org/debian"
)

type standins struct {
	getenv func(string) string
	stdout io.Writer
}

// build builds the stand-in for img and returns what it is made of.
func (b *standins) build(ctx context.Context, img string) (string, error) {
	_, tag, _ := strings.Cut(img, ":")
	dockerfile, ok := standinFor(img)
	if !ok {
		return "", errors.New("no stand-in known for this image: make it pullable, or add one in dev/cmd/stack")
	}
	var contextDir, what string
	switch dockerfile {
	case "golang.Dockerfile":
		goroot, err := output(exec.CommandContext(ctx, "go", "env", "GOROOT"))
		if err != nil {
			return "", err
		}
		version, err := output(exec.CommandContext(ctx, "go", "env", "GOVERSION"))
		if err != nil {
			return "", err
		}
		release, suffix, _ := strings.Cut(tag, "-")
		if !strings.HasPrefix(version+".", "go"+release+".") || suffix != "bookworm" {
			return "", fmt.Errorf("this machine has %s on Debian bookworm, which cannot stand in for %s", version, img)
		}
		contextDir = goroot
		what = "Debian bookworm, this machine's " + version + " and CA bundle"
	case "distroless.Dockerfile":
		dir, err := os.MkdirTemp("", "standin-distroless-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		contextDir = dir
		what = "empty image with this machine's CA bundle and nonroot 65532"
	case "kratos.Dockerfile":
		dir, version, err := b.kratosContext(ctx, tag)
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		contextDir = dir
		what = "Debian bookworm, the Makefile's Kratos " + version + ", user ory"
	}
	if err := b.base(ctx); err != nil {
		return "", err
	}
	df, err := dockerfiles.ReadFile("standins/" + dockerfile)
	if err != nil {
		return "", err
	}
	// The classic builder: stand-ins need nothing BuildKit has, and it needs no buildx.
	cmd := exec.CommandContext(ctx, "docker", "build", "--quiet", "-f", "-",
		"--build-arg", "BASE="+baseImage, "--label", standinLabel+"="+what, "-t", img, contextDir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	cmd.Stdin = strings.NewReader(string(df))
	if _, err := output(cmd); err != nil {
		return "", err
	}
	// The classic builder keeps a multi-stage build's earlier stages as untagged images.
	if _, err := docker(ctx, "image", "prune", "--force", "--filter", "label="+standinLabel); err != nil {
		return "", err
	}
	fmt.Fprintf(b.stdout, ">> built LOCAL STAND-IN %s: %s\n", img, what)
	return what, nil
}

// standinFor names the stand-in Dockerfile for img, if there is one.
func standinFor(img string) (string, bool) {
	name, tag, _ := strings.Cut(img, ":")
	switch {
	case name == "golang":
		return "golang.Dockerfile", true
	case strings.HasPrefix(name, "gcr.io/distroless/static") && tag == "nonroot":
		return "distroless.Dockerfile", true
	case name == "oryd/kratos":
		return "kratos.Dockerfile", true
	}
	return "", false
}

// kratosContext returns a build context holding the Kratos binary the Makefile built
// (KRATOS_BIN), after checking it is the version the tag names.
func (b *standins) kratosContext(ctx context.Context, tag string) (dir, version string, err error) {
	bin := b.getenv("KRATOS_BIN")
	if bin == "" {
		return "", "", errors.New("KRATOS_BIN is not set (make stack sets it to bin/kratos)")
	}
	out, err := output(exec.CommandContext(ctx, bin, "version"))
	if err != nil {
		return "", "", err
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Version:"); ok {
			version = strings.TrimSpace(v)
		}
	}
	if version != tag {
		return "", "", fmt.Errorf("%s is Kratos %q, the image tag is %s", bin, version, tag)
	}
	dir, err = os.MkdirTemp("", "standin-kratos-")
	if err != nil {
		return "", "", err
	}
	if err := copyFile(bin, filepath.Join(dir, "kratos"), 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, version, nil
}

// base builds baseImage unless it exists: debootstrap's minimal bookworm with wget, and
// this machine's CA bundle (containers here reach the Go module proxy and Debian's
// mirror through it), imported as an image.
func (b *standins) base(ctx context.Context) error {
	if _, err := docker(ctx, "image", "inspect", baseImage); err == nil {
		return nil
	}
	if _, err := exec.LookPath("debootstrap"); err != nil {
		install := b.getenv("NEED_DEBOOTSTRAP")
		if install == "" {
			return errors.New("debootstrap is missing and NEED_DEBOOTSTRAP (the command that installs it) is not set: install debootstrap")
		}
		cmd := exec.CommandContext(ctx, "bash", "-c", install)
		cmd.Stdout, cmd.Stderr = b.stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("install debootstrap: %w", err)
		}
	}
	rootfs, err := filepath.Abs(filepath.Join(".run", "standin-rootfs"))
	if err != nil {
		return err
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return err
	}
	defer os.RemoveAll(rootfs)
	logPath := filepath.Join(".run", "debootstrap.log")
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(b.stdout, ">> building the stand-ins' Debian bookworm base with debootstrap from %s (first time only, a few minutes; log %s)\n", debianMirror, logPath)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include=wget", "bookworm", rootfs, debianMirror)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap: %w; see %s", err, logPath)
	}
	bundle := b.getenv("SSL_CERT_FILE")
	if bundle == "" {
		bundle = "/etc/ssl/certs/ca-certificates.crt"
	}
	if err := copyFile(bundle, filepath.Join(rootfs, "etc", "ssl", "certs", "ca-certificates.crt"), 0o644); err != nil {
		return fmt.Errorf("this machine's CA bundle: %w", err)
	}
	tar := exec.CommandContext(ctx, "tar", "--numeric-owner", "-C", rootfs, "-c", ".")
	imp := exec.CommandContext(ctx, "docker", "import",
		"--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"--change", `CMD ["bash"]`,
		"--change", "LABEL "+standinLabel+"="+strconv.Quote("debootstrap minbase bookworm and this machine's CA bundle"),
		"-", baseImage)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return err
	}
	imp.Stdin = pipe
	var tarErr strings.Builder
	tar.Stderr = &tarErr
	if err := tar.Start(); err != nil {
		return err
	}
	_, impErr := output(imp)
	if impErr != nil {
		// Nothing reads tar's output any more.
		_ = tar.Process.Kill()
		_ = tar.Wait()
		return impErr
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar %s: %w: %s", rootfs, err, tarErr.String())
	}
	fmt.Fprintf(b.stdout, ">> built LOCAL STAND-IN base %s\n", baseImage)
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
