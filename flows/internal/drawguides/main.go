// Command drawguides draws the pictures of the bundled flows' steps
// (flows/bundled/images): simplified phone and computer screens showing
// where to tap, with no text at all (the step's message is the caption).
// The output is reproducible: the same code always writes the same bytes,
// and a test compares the committed files with a fresh rendering.
//
//	go run ./flows/internal/drawguides -out flows/bundled/images
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("out", "flows/bundled/images", "directory to write the PNG files to")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "drawguides:", err)
		os.Exit(1)
	}
	for _, g := range guides {
		if err := os.WriteFile(filepath.Join(*out, g.name), render(g), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "drawguides:", err)
			os.Exit(1)
		}
	}
}
