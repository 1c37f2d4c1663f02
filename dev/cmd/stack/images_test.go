package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDockerfileImages(t *testing.T) {
	cases := []struct {
		name, dockerfile string
		want             []string
		wantErr          bool
	}{
		{"two stages", "FROM --platform=$BUILDPLATFORM golang:1 AS build\nRUN x\nFROM distroless:nonroot\nCOPY --from=build /a /a\n", []string{"golang:1", "distroless:nonroot"}, false},
		{"stage as base, scratch, repeats", "FROM debian AS a\nfrom a AS b\nFROM scratch\nFROM debian\n", []string{"debian"}, false},
		{"image from a build argument", "ARG IMG\nFROM $IMG\n", nil, true},
		{"no image", "FROM --platform=linux/amd64\n", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dockerfileImages(strings.NewReader(tc.dockerfile))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error = %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("images = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRepositoryDockerfileImages: the images read from the real Dockerfile each have a
// stand-in, so a machine without a registry can still run the stack.
func TestRepositoryDockerfileImages(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	images, err := dockerfileImages(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 {
		t.Fatalf("Dockerfile images = %q, want a build image and a runtime image", images)
	}
	for _, img := range images {
		if _, ok := standinFor(img); !ok {
			t.Errorf("no stand-in for %s", img)
		}
	}
}
