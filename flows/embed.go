package flows

import (
	"embed"
	"io/fs"
)

//go:embed bundled
var bundled embed.FS

// Bundled returns the flows embedded in the binary (flows/bundled/*.yaml,
// including locale.yaml and links.yaml), as a Strict layer: every bundled
// flow must say where it comes from, who owns it and when it was checked.
func Bundled() fs.FS {
	sub, err := fs.Sub(bundled, "bundled")
	if err != nil {
		panic(err) // "bundled" is a valid path: fs.Sub cannot fail
	}
	return Strict(sub)
}
