package flows

import (
	"embed"
	"io/fs"
)

//go:generate go run ./internal/drawguides -out bundled/images

//go:embed bundled/*.yaml bundled/images/*.png
var bundled embed.FS

// Bundled returns the flows embedded in the binary (flows/bundled/*.yaml,
// including locale.yaml and links.yaml, and the step pictures
// flows/bundled/images/*.png drawn by flows/internal/drawguides), as a
// Strict layer: every bundled flow must say where it comes from, who owns
// it and when it was checked.
func Bundled() fs.FS {
	sub, err := fs.Sub(bundled, "bundled")
	if err != nil {
		panic(err) // "bundled" is a valid path: fs.Sub cannot fail
	}
	return Strict(sub)
}
