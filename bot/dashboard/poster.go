package dashboard

import (
	"context"
	"embed"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	qr "github.com/piglig/go-qr"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/unicode/norm"
)

// A ward's poster: its name in large letters, a few steps, and a QR code
// that opens the bot with the ward already chosen. The page prints on A4;
// the PNG is the same poster drawn at 150 dpi, for sharing in a chat.

// posterLinks are the deep links a poster offers.
type posterLinks struct {
	Main     string // the big QR code's: Telegram when it is on, else the web chat ("" : neither)
	Telegram bool   // Main is Telegram's
	Web      string // the web chat's, when Main is Telegram's (printed as text)
	Zalo     string // the Zalo link (a second, small QR code)
}

// posterLinks are area code's deep links.
func (s *Server) posterLinks(ctx context.Context, code string) posterLinks {
	var l posterLinks
	var bots Bots
	if s.cfg.Bots != nil {
		bots = s.cfg.Bots(ctx)
	}
	web := ""
	if base := strings.TrimSpace(bots.WebChat); base != "" {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("area", code)
			u.RawQuery = q.Encode()
			web = u.String()
		}
	}
	if name := strings.TrimPrefix(strings.TrimSpace(bots.TelegramUsername), "@"); name != "" {
		l.Main, l.Telegram, l.Web = "https://t.me/"+url.PathEscape(name)+"?start="+url.QueryEscape(code), true, web
	} else {
		l.Main = web
	}
	l.Zalo = strings.TrimSpace(bots.Zalo)
	return l
}

// qrCode is a QR code as the page draws it: each run of dark modules of a
// row is one rect, in module units, inside a quiet zone of Border.
type qrCode struct {
	Text         string // what it encodes
	Size, Border int
	Runs         []qrRun
}

type qrRun struct{ X, Y, W int }

// Full is the side of the drawing with its quiet zone.
func (c qrCode) Full() int { return c.Size + 2*c.Border }

// newQR encodes text with medium error correction (or higher, when that
// fits in the same size).
func newQR(text string) (qrCode, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return qrCode{}, errf("qr code", err)
	}
	c := qrCode{Text: text, Size: code.Size(), Border: 4}
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; {
			if !code.Module(x, y) {
				x++
				continue
			}
			start := x
			for x < c.Size && code.Module(x, y) {
				x++
			}
			c.Runs = append(c.Runs, qrRun{X: start + c.Border, Y: y + c.Border, W: x - start})
		}
	}
	return c, nil
}

// draw paints the code with its quiet zone into dst at (x, y), scale
// pixels a module.
func (c qrCode) draw(dst draw.Image, x, y, scale int) {
	side := c.Full() * scale
	draw.Draw(dst, image.Rect(x, y, x+side, y+side), image.White, image.Point{}, draw.Src)
	for _, r := range c.Runs {
		draw.Draw(dst, image.Rect(x+r.X*scale, y+r.Y*scale, x+(r.X+r.W)*scale, y+(r.Y+1)*scale), image.Black, image.Point{}, draw.Src)
	}
}

// The poster's fonts: DejaVu Sans, cut down to Vietnamese (fonts/README.md).
// The Go fonts lack the letters with two marks (ấ, ệ, ữ…), Ơ, Ư and the
// combining marks.
//
//go:embed fonts/DejaVuSans-vi.ttf fonts/DejaVuSans-Bold-vi.ttf
var fontFS embed.FS

type posterFonts struct{ regular, bold *opentype.Font }

var loadPosterFonts = sync.OnceValues(func() (posterFonts, error) {
	var f posterFonts
	for _, x := range []struct {
		name string
		to   **opentype.Font
	}{{"fonts/DejaVuSans-vi.ttf", &f.regular}, {"fonts/DejaVuSans-Bold-vi.ttf", &f.bold}} {
		data, err := fontFS.ReadFile(x.name)
		if err != nil {
			return f, errf("poster font", err)
		}
		if *x.to, err = opentype.Parse(data); err != nil {
			return f, errf("poster font "+x.name, err)
		}
	}
	return f, nil
})

// The PNG poster: A4 at 150 dpi.
const (
	posterW, posterH = 1240, 1754
	posterMargin     = 80
)

var (
	posterRed   = color.RGBA{0xb3, 0x26, 0x1e, 0xff}
	posterInk   = color.RGBA{0x1b, 0x1f, 0x24, 0xff}
	posterMuted = color.RGBA{0x59, 0x63, 0x6e, 0xff}
)

// posterText is what a poster says, in its language.
type posterText struct {
	Kicker, Name, Province string
	Steps                  []string
	ZaloLabel, Warn        string
}

// canvas draws text on the PNG poster.
type canvas struct {
	img   *image.RGBA
	fonts posterFonts
	faces map[faceKey]font.Face
	err   error
}

type faceKey struct {
	bold bool
	px   int
}

func (c *canvas) face(bold bool, px int) font.Face {
	k := faceKey{bold, px}
	if f, ok := c.faces[k]; ok {
		return f
	}
	ft := c.fonts.regular
	if bold {
		ft = c.fonts.bold
	}
	f, err := opentype.NewFace(ft, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		c.err = err
		return basicfont.Face7x13 // drawPoster fails with c.err
	}
	c.faces[k] = f
	return f
}

// wrap cuts text into lines at most width pixels wide: at spaces, and
// inside a word (a link) that is wider than a line.
func wrap(face font.Face, text string, width int) []string {
	w := fixed.I(width)
	fits := func(s string) bool { return font.MeasureString(face, s) <= w }
	var lines []string
	for _, para := range strings.Split(text, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			if try := strings.TrimSpace(line + " " + word); fits(try) {
				line = try
				continue
			}
			if line != "" {
				lines = append(lines, line)
			}
			for !fits(word) && utf8.RuneCountInString(word) > 1 {
				cut := len(word)
				for cut > 0 && !fits(word[:cut]) {
					_, size := utf8.DecodeLastRuneInString(word[:cut])
					cut -= size
				}
				if cut == 0 {
					_, cut = utf8.DecodeRuneInString(word)
				}
				lines = append(lines, word[:cut])
				word = word[cut:]
			}
			line = word
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// lineHeight is the distance between two lines of a face's size.
func lineHeight(px int) int { return px * 5 / 4 }

// text draws lines from top y, centered between left and right (or from
// left), and returns the y below them.
func (c *canvas) text(lines []string, face font.Face, px int, col color.Color, left, right, y int, center bool) int {
	d := font.Drawer{Dst: c.img, Src: image.NewUniform(col), Face: face}
	ascent := face.Metrics().Ascent.Round()
	for _, l := range lines {
		x := left
		if center {
			x = left + (right-left-font.MeasureString(face, l).Round())/2
		}
		d.Dot = fixed.P(x, y+ascent)
		d.DrawString(l)
		y += lineHeight(px)
	}
	return y
}

// drawPoster draws the PNG poster.
func drawPoster(t posterText, main, zalo *qrCode) (*image.RGBA, error) {
	fonts, err := loadPosterFonts()
	if err != nil {
		return nil, err
	}
	c := &canvas{img: image.NewRGBA(image.Rect(0, 0, posterW, posterH)), fonts: fonts, faces: map[faceKey]font.Face{}}
	draw.Draw(c.img, c.img.Bounds(), image.White, image.Point{}, draw.Src)
	nfc := norm.NFC.String
	left, right := posterMargin, posterW-posterMargin
	width := right - left

	// a red band on top
	draw.Draw(c.img, image.Rect(0, 0, posterW, 24), image.NewUniform(posterRed), image.Point{}, draw.Src)
	y := posterMargin - 10

	kf := c.face(true, 44)
	y = c.text(wrap(kf, nfc(t.Kicker), width), kf, 44, posterRed, left, right, y, true) + 8

	// the ward's name: on one line if it fits large, else on two
	name := nfc(t.Name)
	px, nameLines := 0, []string(nil)
	for _, try := range []struct{ from, to, lines int }{{132, 96, 1}, {132, 60, 2}} {
		for p := try.from; p >= try.to && px == 0; p -= 6 {
			if l := wrap(c.face(true, p), name, width); len(l) <= try.lines {
				px, nameLines = p, l
			}
		}
	}
	if px == 0 { // a name this long: small, on as many lines as it takes
		px, nameLines = 60, wrap(c.face(true, 60), name, width)
	}
	y = c.text(nameLines, c.face(true, px), px, posterInk, left, right, y, true)
	if t.Province != "" {
		pf := c.face(false, 36)
		y = c.text(wrap(pf, nfc(t.Province), width), pf, 36, posterMuted, left, right, y, true)
	}
	y += 16
	draw.Draw(c.img, image.Rect(left, y, right, y+6), image.NewUniform(posterRed), image.Point{}, draw.Src)
	y += 32

	// the steps, numbered in red
	const stepPx, indent = 40, 64
	sf := c.face(true, stepPx)
	for i, step := range t.Steps {
		c.text([]string{fmt.Sprintf("%d.", i+1)}, sf, stepPx, posterRed, left, left+indent, y, false)
		y = c.text(wrap(sf, nfc(step), width-indent), sf, stepPx, posterInk, left+indent, right, y, false) + 8
	}
	y += 16

	// the warning at the bottom
	bottom := posterH - posterMargin + 20
	wf := c.face(true, 32)
	warn := wrap(wf, nfc(t.Warn), width)
	bottom -= len(warn) * lineHeight(32)
	c.text(warn, wf, 32, posterRed, left, right, bottom, true)
	bottom -= 28
	if main == nil {
		return c.done()
	}
	// the main QR code as large as the space left allows, its link under
	// it; Zalo's, small, in a gutter on its right
	gutter := 0
	if zalo != nil {
		gutter = 260
	}
	lf := c.face(false, 34)
	link := wrap(lf, main.Text, width-gutter)
	linkH := 12 + len(link)*lineHeight(34)
	avail := min(bottom-y-linkH, width-gutter, 900)
	scale := max(avail/main.Full(), 4)
	side := main.Full() * scale
	top := y + max((bottom-y-linkH-side)/2, 0)
	x := left + (width-gutter-side)/2
	main.draw(c.img, x, top, scale)
	c.text(link, lf, 34, posterInk, left, right-gutter, top+side+12, true)
	if zalo != nil {
		zs := max(200/zalo.Full(), 2)
		zside := zalo.Full() * zs
		zx, ztop := right-zside, top+side-zside
		zalo.draw(c.img, zx, ztop, zs)
		gx, gw := x+side+16, right-(x+side+16)
		zf, zl := c.face(true, 28), c.face(false, 22)
		label, zlink := wrap(zf, nfc(t.ZaloLabel), gw), wrap(zl, zalo.Text, gw)
		ty := ztop - 8 - len(label)*lineHeight(28) - len(zlink)*lineHeight(22)
		ty = c.text(label, zf, 28, posterInk, gx, right, ty, false)
		c.text(zlink, zl, 22, posterMuted, gx, right, ty, false)
	}
	return c.done()
}

// done is the drawing, or why it failed.
func (c *canvas) done() (*image.RGBA, error) {
	if c.err != nil {
		return nil, errf("poster face", c.err)
	}
	return c.img, nil
}
