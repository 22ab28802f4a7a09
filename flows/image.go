package flows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // image.DecodeConfig of JPEG step images
	_ "image/png"  // image.DecodeConfig of PNG step images
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gocua/gocua/bot/netguard"
)

// Step image limits (Step.Image).
const (
	MaxImageBytes = 5 << 20 // bytes of one image file
	MinImageSide  = 200     // pixels, each side
	MaxImageSide  = 4096    // pixels, each side
)

// ImageRefPrefix starts the ref of an image file of a layer (Output.Image):
// "flow:" and the first 24 hex digits of the SHA-256 of its bytes.
const ImageRefPrefix = "flow:"

// ErrNoImage is wrapped by Set.OpenImage for a ref the set does not hold.
var ErrNoImage = errors.New("flows: no such image")

// flowImage is an image file read at load time.
type flowImage struct {
	data []byte
	mime string // image/png or image/jpeg
}

// imageRef is the stable ref of an image file's bytes.
func imageRef(data []byte) string {
	sum := sha256.Sum256(data)
	return ImageRefPrefix + hex.EncodeToString(sum[:])[:24]
}

// OpenImage returns the bytes and MIME type (image/png or image/jpeg) of an
// image file named by a "flow:" ref (Output.Image) of this set. The bytes are
// a copy. Any other ref, including an https:// one (the core sends those as
// they are), is an error wrapping ErrNoImage.
func (s *Set) OpenImage(ref string) ([]byte, string, error) {
	img, ok := s.images[ref]
	if !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrNoImage, ref)
	}
	return bytes.Clone(img.data), img.mime, nil
}

// loadImage resolves a step's `image:` against the layer that defines the
// flow: an https:// URL is its own ref; a file path is read, checked and
// kept in images under its "flow:" ref. The message says what is wrong.
func loadImage(layer fs.FS, name string, images map[string]*flowImage) (ref, problem string) {
	if strings.Contains(name, "://") || strings.HasPrefix(name, "//") {
		u, err := url.Parse(name)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return "", fmt.Sprintf("image %q must be an https:// address with a host, or a file path in this directory", name)
		}
		if err := netguard.CheckURL(name); err != nil {
			// gocua downloads it itself, for the channels that upload photos
			return "", fmt.Sprintf("image %q must be a public address: %s", name, netguard.Reason(err))
		}
		return name, ""
	}
	if name == "" || !fs.ValidPath(name) || name != path.Clean(name) || name == "." {
		return "", fmt.Sprintf("image %q must be a file path relative to this flows directory (like images/step.png), without .. or a leading /", name)
	}
	if layer == nil {
		return "", fmt.Sprintf("image %q: the layer cannot be read", name)
	}
	f, err := layer.Open(name)
	if err != nil {
		return "", fmt.Sprintf("image %q: no such file in this flows directory", name)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return "", fmt.Sprintf("image %q is a directory, not an image file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxImageBytes+1))
	if err != nil {
		return "", fmt.Sprintf("image %q cannot be read: %v", name, err)
	}
	if len(data) > MaxImageBytes {
		return "", fmt.Sprintf("image %q is larger than %d MB", name, MaxImageBytes>>20)
	}
	mime := http.DetectContentType(data)
	if mime != "image/png" && mime != "image/jpeg" {
		return "", fmt.Sprintf("image %q is %s, not a PNG or JPEG image", name, mime)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || "image/"+format != mime {
		return "", fmt.Sprintf("image %q is not a readable %s image", name, strings.TrimPrefix(mime, "image/"))
	}
	if cfg.Width < MinImageSide || cfg.Height < MinImageSide || cfg.Width > MaxImageSide || cfg.Height > MaxImageSide {
		return "", fmt.Sprintf("image %q is %d×%d pixels; each side must be %d to %d", name, cfg.Width, cfg.Height, MinImageSide, MaxImageSide)
	}
	ref = imageRef(data)
	images[ref] = &flowImage{data: data, mime: mime}
	return ref, ""
}
