package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// standinLabel marks the images this program built; its value says what stands in.
const standinLabel = "dev.ory-gin-starter.standin"

// projectImages lists the images the project names, from the files themselves: the
// Dockerfile's FROM lines (stages excepted) and the image of every compose service that
// is not built (read through `docker compose config`, the real loader).
func projectImages(ctx context.Context) ([]string, error) {
	f, err := os.Open("Dockerfile")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	images, err := dockerfileImages(f)
	if err != nil {
		return nil, err
	}
	out, err := docker(ctx, "compose", "config", "--format", "json")
	if err != nil {
		return nil, err
	}
	var cfg struct {
		Services map[string]struct {
			Image string          `json:"image"`
			Build json.RawMessage `json:"build"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		return nil, fmt.Errorf("docker compose config: %w", err)
	}
	for _, s := range cfg.Services {
		if s.Build == nil && s.Image != "" && !slices.Contains(images, s.Image) {
			images = append(images, s.Image)
		}
	}
	slices.Sort(images)
	return images, nil
}

// dockerfileImages returns the base images of a Dockerfile's stages, not counting
// earlier stages and scratch.
func dockerfileImages(r io.Reader) ([]string, error) {
	var images, stages []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.EqualFold(f[0], "FROM") {
			continue
		}
		f = slices.DeleteFunc(f[1:], func(s string) bool { return strings.HasPrefix(s, "--") })
		if len(f) == 0 {
			return nil, fmt.Errorf("Dockerfile: %q names no image", sc.Text())
		}
		img := f[0]
		if strings.Contains(img, "$") {
			return nil, fmt.Errorf("Dockerfile: FROM %s: images from build arguments are not supported here", img)
		}
		if img != "scratch" && !slices.Contains(stages, img) && !slices.Contains(images, img) {
			images = append(images, img)
		}
		if len(f) == 3 && strings.EqualFold(f[1], "AS") {
			stages = append(stages, f[2])
		}
	}
	return images, sc.Err()
}

// ensureImage makes img present: as it is, pulled, or as a local stand-in, never
// replacing an image that exists. It returns one line for the run's summary.
func ensureImage(ctx context.Context, img string, pullTimeout time.Duration, b *standins, stdout io.Writer) (string, error) {
	if label, err := docker(ctx, "image", "inspect", "--format", "{{index .Config.Labels \""+standinLabel+"\"}}", img); err == nil {
		if label != "" && label != "<no value>" {
			return fmt.Sprintf("%-44s LOCAL STAND-IN (%s), not the registry's image", img, label), nil
		}
		return fmt.Sprintf("%-44s present", img), nil
	}
	fmt.Fprintf(stdout, ">> %s missing: docker pull (at most %s)\n", img, pullTimeout)
	pctx, cancel := context.WithTimeout(ctx, pullTimeout)
	_, err := docker(pctx, "pull", "--quiet", img)
	cancel()
	if err == nil {
		return fmt.Sprintf("%-44s pulled", img), nil
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	fmt.Fprintf(stdout, ">> cannot pull %s (%v)\n", img, firstLine(err.Error()))
	fmt.Fprintf(stdout, ">> !!! building a LOCAL STAND-IN for %s: this run does not test the registry's image !!!\n", img)
	label, err := b.build(ctx, img)
	if err != nil {
		return "", fmt.Errorf("stand-in for %s: %w", img, err)
	}
	return fmt.Sprintf("%-44s LOCAL STAND-IN (%s), built now, not the registry's image", img, label), nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
