package flows

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// picsFlow is a flow whose first step shows image (a YAML scalar).
func picsFlow(image string) string {
	return `id: pics
title: {vi: "Ảnh"}
menu: 5
start: a
steps:
  - id: a
    say: {vi: "Xem ảnh"}
    image: ` + image + `
    next: b
  - id: b
    end: {vi: "Xong"}
`
}

// TestCheckImageErrors: every bad `image:` is an error at the image line of
// its file.
func TestCheckImageErrors(t *testing.T) {
	big := append(pngOf(t, 300, 300), make([]byte, MaxImageBytes)...)
	var gifData bytes.Buffer
	if err := gif.Encode(&gifData, image.NewPaletted(image.Rect(0, 0, 300, 300), color.Palette{color.Black, color.White}), nil); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, image string
		files       fstest.MapFS
		want        string
	}{
		{"missing", "images/none.png", nil, "no such file"},
		{"text", "images/a.png", fstest.MapFS{"images/a.png": {Data: []byte("not an image at all")}}, "text/plain; charset=utf-8, not a PNG or JPEG"},
		{"gif", "images/a.png", fstest.MapFS{"images/a.png": {Data: gifData.Bytes()}}, "image/gif, not a PNG or JPEG"},
		{"broken png", "images/a.png", fstest.MapFS{"images/a.png": {Data: pngOf(t, 300, 300)[:20]}}, "not a readable png"},
		{"too big", "images/a.png", fstest.MapFS{"images/a.png": {Data: big}}, "larger than 5 MB"},
		{"too small", "images/a.png", fstest.MapFS{"images/a.png": {Data: pngOf(t, 199, 400)}}, "199×400 pixels"},
		{"too large", "images/a.jpg", fstest.MapFS{"images/a.jpg": {Data: jpegOf(t, 300, 4097)}}, "300×4097 pixels"},
		{"directory", "images", fstest.MapFS{"images/a.png": {Data: pngOf(t, 300, 300)}}, "is a directory"},
		{"parent", "../images/a.png", nil, "without .."},
		{"absolute", "/images/a.png", nil, "without .."},
		{"http", "http://example.gov.vn/a.png", nil, "must be an https:// address"},
		{"no host", "'https:///a.png'", nil, "must be an https:// address"},
		{"ftp", "ftp://example.gov.vn/a.png", nil, "must be an https:// address"},
		{"empty", `""`, nil, "image is empty"},
		{"loopback", "https://127.0.0.1:8443/a.png", nil, "must be a public address: 127.0.0.1 is a private"},
		{"short loopback", "https://127.1/a.png", nil, "must be a public address"},
		{"hex loopback", "https://0x7f000001/a.png", nil, "must be a public address"},
		{"localhost", "https://localhost/a.png", nil, "names this machine"},
		{"mapped", "'https://[::ffff:127.0.0.1]/a.png'", nil, "must be a public address"},
		{"metadata", "https://169.254.169.254/a.png", nil, "must be a public address"},
		{"private", "https://10.0.0.1/a.png", nil, "must be a public address"},
		{"unique local", "'https://[fd00::1]/a.png'", nil, "must be a public address"},
		{"no dot", "https://fileserver/a.png", nil, "has no dot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := fstest.MapFS{"pics.yaml": {Data: []byte(picsFlow(tc.image))}}
			for k, v := range tc.files {
				files[k] = v
			}
			issues := Issues(Check(bundledNow, Named("good", os.DirFS("testdata/good")), Named("img", files))).Errors()
			if len(issues) != 1 {
				t.Fatalf("want 1 error, got %v", issues)
			}
			is := issues[0]
			if is.Kind != IssueBadImage || is.File != "img/pics.yaml" || is.Line != 8 || is.Flow != "pics" || is.Step != "a" || !strings.Contains(is.Msg, tc.want) {
				t.Errorf("got %s (%s), want img/pics.yaml:8: pics/a: …%s…", is, is.Kind, tc.want)
			}
			if _, err := Load(Named("good", os.DirFS("testdata/good")), Named("img", files)); err == nil {
				t.Error("Load accepted the bad image")
			}
		})
	}
}

// TestCheckImageOnlyOnShownSteps: a branch or handoff shows no image.
func TestCheckImageOnlyOnShownSteps(t *testing.T) {
	flow := `id: pics
start: a
steps:
  - id: a
    image: https://example.gov.vn/a.png
    branch:
      - else: b
  - id: b
    end: {vi: "Xong"}
`
	issues := Issues(Check(bundledNow, Named("good", os.DirFS("testdata/good")), Named("img", fstest.MapFS{"pics.yaml": {Data: []byte(flow)}}))).Errors()
	if len(issues) != 1 || issues[0].Kind != IssueBadImage || issues[0].Line != 5 || !strings.Contains(issues[0].Msg, "only a say, ask or end step") {
		t.Fatalf("got %v", issues)
	}
}

var imageRefPattern = regexp.MustCompile(`^flow:[0-9a-f]{24}$`)

// TestImageOutputAndOpen: the message of a step with an image carries its
// ref (a local file's "flow:" + hash, a URL as it is) and OpenImage gives the
// bytes back; steps without one, and a question asked again, carry none.
func TestImageOutputAndOpen(t *testing.T) {
	pngData, jpgData := pngOf(t, 720, 1280), jpegOf(t, 400, 300)
	flow := `id: pics
title: {vi: "Ảnh"}
menu: 5
start: a
steps:
  - id: a
    image: images/a.png
    say: {vi: "Xem ảnh"}
    next: q
  - id: q
    image: https://example.gov.vn/q.jpg
    ask: {text: {vi: "Được chưa?"}, type: yesno, save: ok}
    next: b
  - id: b
    say: {vi: "Không ảnh"}
    next: e
  - id: e
    image: images/e.jpg
    end: {vi: "Xong"}
`
	s, err := Load(Named("good", os.DirFS("testdata/good")), Named("img", fstest.MapFS{
		"pics.yaml":    {Data: []byte(flow)},
		"images/a.png": {Data: pngData},
		"images/e.jpg": {Data: jpgData},
	}))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pngData)
	refA := "flow:" + hex.EncodeToString(sum[:])[:24]

	images := func(r Result) []string {
		var out []string
		for _, o := range r.Out {
			out = append(out, o.Image)
		}
		return out
	}
	data := func(t *testing.T, o Output, label string) string {
		t.Helper()
		for _, row := range o.Buttons {
			for _, b := range row {
				if b.Text == label {
					return b.Data
				}
			}
		}
		t.Fatalf("no button %q in %+v", label, o)
		return ""
	}
	want := func(t *testing.T, r Result, imgs ...string) {
		t.Helper()
		if got := images(r); strings.Join(got, "|") != strings.Join(imgs, "|") {
			t.Fatalf("images %q, want %q (out %+v)", got, imgs, r.Out)
		}
	}

	r := s.Advance(State{}, Input{Kind: InputButton, Data: DataOpen("pics")}, t0)
	want(t, r, refA)
	if r.Out[0].Text != "Xem ảnh" {
		t.Errorf("caption %q", r.Out[0].Text)
	}
	next := s.Text("vi", "nav_next", nil)
	r = s.Advance(r.State, Input{Kind: InputButton, Data: data(t, r.Out[0], next)}, t0)
	want(t, r, "https://example.gov.vn/q.jpg")
	r2 := s.Advance(r.State, Input{Kind: InputText, Text: "màu xanh"}, t0) // a wrong answer: asked again, without the picture
	if r2.State.Step != "q" || len(r2.Out) == 0 {
		t.Fatalf("wrong answer: %+v", r2)
	}
	for _, img := range images(r2) {
		if img != "" {
			t.Errorf("the question asked again carries image %q", img)
		}
	}
	r = s.Advance(r.State, Input{Kind: InputButton, Data: data(t, r.Out[0], s.Text("vi", "yes", nil))}, t0)
	want(t, r, "")
	r = s.Advance(r.State, Input{Kind: InputButton, Data: data(t, r.Out[0], next)}, t0)
	if len(r.Out) != 2 || !imageRefPattern.MatchString(r.Out[0].Image) || r.Out[1].Image != "" {
		t.Fatalf("end: %q, want the end message's image then the menu without one", images(r))
	}
	refE := r.Out[0].Image

	for _, tc := range []struct {
		ref, mime string
		data      []byte
	}{{refA, "image/png", pngData}, {refE, "image/jpeg", jpgData}} {
		if !imageRefPattern.MatchString(tc.ref) {
			t.Errorf("ref %q is not flow: + 24 hex digits", tc.ref)
		}
		got, mime, err := s.OpenImage(tc.ref)
		if err != nil || mime != tc.mime || !bytes.Equal(got, tc.data) {
			t.Errorf("OpenImage(%q) = %d bytes, %q, %v; want %d bytes, %s", tc.ref, len(got), mime, err, len(tc.data), tc.mime)
		}
		got[0] ^= 0xff // a copy: the set's image stays intact
		if again, _, _ := s.OpenImage(tc.ref); !bytes.Equal(again, tc.data) {
			t.Error("OpenImage returned the set's own bytes")
		}
	}
	for _, ref := range []string{"", "flow:000000000000000000000000", "https://example.gov.vn/q.jpg", refA + "0"} {
		if _, _, err := s.OpenImage(ref); !errors.Is(err, ErrNoImage) {
			t.Errorf("OpenImage(%q) = %v, want ErrNoImage", ref, err)
		}
	}

	// the same bytes under another layer give the same ref; changed bytes a
	// new ref and a new content version
	other, err := Load(Named("good", os.DirFS("testdata/good")), Named("copy", fstest.MapFS{
		"pics.yaml":    {Data: []byte(flow)},
		"images/a.png": {Data: pngData},
		"images/e.jpg": {Data: jpgData},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := other.OpenImage(refA); err != nil || other.Version() != s.Version() {
		t.Errorf("a replica with the same files: %v, version %s vs %s", err, other.Version(), s.Version())
	}
	changed, err := Load(Named("good", os.DirFS("testdata/good")), Named("img", fstest.MapFS{
		"pics.yaml":    {Data: []byte(flow)},
		"images/a.png": {Data: pngOf(t, 720, 1281)},
		"images/e.jpg": {Data: jpgData},
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := changed.OpenImage(refA); !errors.Is(err, ErrNoImage) || changed.Version() == s.Version() {
		t.Errorf("a changed image: OpenImage(old ref) = %v, version %s (was %s)", err, changed.Version(), s.Version())
	}
}

// TestNoImageNoChange: content without images gives outputs without one.
func TestNoImageNoChange(t *testing.T) {
	s := mustLoadGood(t)
	r := s.Advance(State{}, Input{Kind: InputStart}, t0)
	r = s.Advance(r.State, Input{Kind: InputText, Text: "cài vneid"}, t0)
	for _, o := range r.Out {
		if o.Image != "" {
			t.Errorf("image %q without image: content", o.Image)
		}
	}
	if len(s.images) != 0 {
		t.Errorf("images %v", s.images)
	}
}

// TestBundledImages: the bundled steps with a picture show one of the
// drawn PNGs.
func TestBundledImages(t *testing.T) {
	s := loadBundled(t)
	steps := map[string]string{
		"install_vneid/android_open":      "images/install_chplay.png",
		"install_vneid/android_install":   "images/install_button.png",
		"register_level1/open":            "images/register_start.png",
		"register_level1/read_chip_place": "images/register_chip.png",
		"dvc_login/press_login":           "images/dvc_login_button.png",
		"dvc_login/qr_scan":               "images/dvc_qr_scan.png",
	}
	n := 0
	for _, f := range s.Flows() {
		for _, st := range f.Steps {
			at := f.ID + "/" + st.ID
			if st.Image == "" {
				continue
			}
			n++
			if steps[at] != st.Image {
				t.Errorf("%s shows %s, want %q", at, st.Image, steps[at])
			}
			r := s.Advance(State{}, Input{Kind: InputButton, Data: DataOpen(f.ID + "#" + st.ID)}, bundledNow)
			if len(r.Out) == 0 || !imageRefPattern.MatchString(r.Out[0].Image) {
				t.Fatalf("%s: outputs %+v", at, r.Out)
			}
			data, mime, err := s.OpenImage(r.Out[0].Image)
			if err != nil || mime != "image/png" {
				t.Fatalf("%s: %v %s", at, err, mime)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil || cfg.Width != 720 || cfg.Height != 1280 {
				t.Errorf("%s: %v %dx%d", at, err, cfg.Width, cfg.Height)
			}
		}
	}
	if n != len(steps) {
		t.Errorf("%d bundled steps show an image, want %d", n, len(steps))
	}
}
