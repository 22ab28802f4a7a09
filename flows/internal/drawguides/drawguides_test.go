package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// committed is where `go generate ./flows` writes the diagrams.
const committed = "../../bundled/images"

// TestCommittedImagesAreReproducible renders every diagram in memory and
// compares it byte for byte with the committed file: the PNGs come from
// this program only (run `go generate ./flows` after changing it), and the
// directory holds no other PNG.
func TestCommittedImagesAreReproducible(t *testing.T) {
	var names []string
	for _, g := range guides {
		names = append(names, g.name)
		want, err := os.ReadFile(filepath.Join(committed, g.name))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./flows)", g.name, err)
			continue
		}
		got := render(g)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from a fresh rendering (%d vs %d bytes): run go generate ./flows, never edit it by hand", g.name, len(want), len(got))
		}
		if !bytes.Equal(render(g), got) {
			t.Errorf("%s: two renderings differ", g.name)
		}
	}
	files, err := filepath.Glob(filepath.Join(committed, "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.Contains(names, filepath.Base(f)) {
			t.Errorf("%s is not drawn by drawguides: remove it or add it to guides", f)
		}
	}
}

// TestImagesFitTheLimits: 720×1280, small files (flat colours).
func TestImagesFitTheLimits(t *testing.T) {
	for _, g := range guides {
		data := render(g)
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", g.name, err)
		}
		if cfg.Width != Width || cfg.Height != Height {
			t.Errorf("%s is %d×%d, want %d×%d", g.name, cfg.Width, cfg.Height, Width, Height)
		}
		if len(data) > 60<<10 {
			t.Errorf("%s is %d bytes, want < 60 KB", g.name, len(data))
		}
	}
}
