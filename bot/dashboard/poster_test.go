package dashboard

import (
	"image"
	"image/draw"
	"image/png"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"
)

// svgCodes rasterizes the QR codes drawn as SVG on a page (8 pixels a
// module), in page order.
func svgCodes(t *testing.T, body string) []image.Image {
	t.Helper()
	svgs := regexp.MustCompile(`(?s)<svg class="qr"[^>]*viewBox="0 0 (\d+) (\d+)"[^>]*>(.*?)</svg>`).FindAllStringSubmatch(body, -1)
	rect := regexp.MustCompile(`<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1"/>`)
	var out []image.Image
	for _, m := range svgs {
		n, _ := strconv.Atoi(m[1])
		const scale = 8
		img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
		draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
		if !strings.Contains(m[3], `<rect width="`+m[1]+`" height="`+m[1]+`" fill="#fff"/>`) {
			t.Errorf("no white background: %.200s", m[3])
		}
		for _, r := range rect.FindAllStringSubmatch(m[3], -1) {
			x, _ := strconv.Atoi(r[1])
			y, _ := strconv.Atoi(r[2])
			w, _ := strconv.Atoi(r[3])
			draw.Draw(img, image.Rect(x*scale, y*scale, (x+w)*scale, (y+1)*scale), image.Black, image.Point{}, draw.Src)
		}
		out = append(out, img)
	}
	return out
}

// decodeQR reads one QR code with ZXing's reader.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("no QR code: %v", err)
	}
	return res.GetText()
}

// decodeAll reads every QR code of an image, looked at half size (the
// decoder is slow under the race detector; the modules stay several
// pixels wide).
func decodeAll(t *testing.T, img image.Image) []string {
	t.Helper()
	b := img.Bounds()
	half := image.NewGray(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := range half.Rect.Dy() {
		for x := range half.Rect.Dx() {
			half.Set(x, y, img.At(b.Min.X+2*x, b.Min.Y+2*y))
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(half)
	if err != nil {
		t.Fatal(err)
	}
	res, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code: %v", err)
	}
	var out []string
	for _, r := range res {
		out = append(out, r.GetText())
	}
	slices.Sort(out)
	return out
}

func TestPosterQRCodesOpenTheBot(t *testing.T) {
	for _, c := range []struct {
		name       string
		bots       Bots
		main, zalo string
		web        string // the web chat's link printed beside Telegram's
		png        bool   // the PNG is checked too (slow under the race detector)
	}{
		{"telegram on", Bots{TelegramUsername: "@gocua_hue_bot", WebChat: "https://ward.example/chat", Zalo: "https://zalo.me/1234567890"},
			"https://t.me/gocua_hue_bot?start=a1", "https://zalo.me/1234567890", "https://ward.example/chat?area=a1", true},
		{"telegram off", Bots{WebChat: "https://ward.example/chat?lang=vi"}, "https://ward.example/chat?area=a1&lang=vi", "", "", true},
		{"telegram only", Bots{TelegramUsername: "gocua_hue_bot"}, "https://t.me/gocua_hue_bot?start=a1", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, withBots(Config{Areas: wardAreas(t)}, c.bots))
			org := e.login(orgID)
			res := org.get(Prefix + "areas/a1/poster")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", res.StatusCode, res.Body)
			}
			for _, want := range []string{"Phường Thuận Hóa", "Bác mở camera điện thoại, quét mã này", "Gặp tình nguyện viên",
				`class="poster"`, c.main, "/dashboard/areas/a1/poster.png"} {
				if !strings.Contains(res.Body, strings.ReplaceAll(want, "&", "&amp;")) {
					t.Errorf("poster lacks %q", want)
				}
			}
			if c.web != "" && !strings.Contains(res.Body, c.web) {
				t.Errorf("no web chat link %s", c.web)
			}
			noInlineHere(t, res.Body)
			codes := svgCodes(t, res.Body)
			want := []string{c.main}
			if c.zalo != "" {
				want = append(want, c.zalo)
			}
			if len(codes) != len(want) {
				t.Fatalf("%d QR codes on the page, want %d", len(codes), len(want))
			}
			for i, img := range codes {
				if got := decodeQR(t, img); got != want[i] {
					t.Errorf("SVG QR code %d: %q, want %q", i, got, want[i])
				}
			}

			if !c.png {
				return
			}
			// the PNG: A4 at 150 dpi, the same codes
			res = org.get(Prefix + "areas/a1/poster.png")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
				t.Fatalf("png: %d %v", res.StatusCode, res.Header)
			}
			img, err := png.Decode(strings.NewReader(res.Body))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != 1240 || b.Dy() != 1754 {
				t.Errorf("png of %v", b)
			}
			got := decodeAll(t, img)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("PNG QR codes %q, want %q", got, want)
			}
		})
	}
}

func TestPosterInEnglish(t *testing.T) {
	e := newTestEnv(t, withBots(Config{Areas: wardAreas(t)}, Bots{TelegramUsername: "gocua_bot"}))
	org := e.login(orgID)
	body := org.get(Prefix + "areas/a1/poster?lang=en").Body
	if !strings.Contains(body, "Open your phone camera and scan this code") || !strings.Contains(body, "poster.png?lang=en") {
		t.Errorf("english poster: %s", body)
	}
	if res := org.get(Prefix + "areas/a1/poster.png?lang=en"); res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("english png: %d", res.StatusCode)
	}
}

// TestPosterFontsCoverVietnamese checks the embedded fonts draw every
// Vietnamese letter: the precomposed ones (U+1EA0–U+1EF9, and those of
// Latin-1 and Latin Extended-A) and the combining tone marks.
func TestPosterFontsCoverVietnamese(t *testing.T) {
	fonts, err := loadPosterFonts()
	if err != nil {
		t.Fatal(err)
	}
	var letters []rune
	for r := rune(0x1EA0); r <= 0x1EF9; r++ {
		letters = append(letters, r)
	}
	letters = append(letters, []rune("ĂăÂâĐđÊêÔôƠơƯưÀÁÃÈÉÌÍÒÓÕÙÚÝàáãèéìíòóõùúýĨĩŨũ“”–…")...)
	letters = append(letters, 0x0300, 0x0301, 0x0303, 0x0309, 0x0323)
	for name, f := range map[string]*opentype.Font{"regular": fonts.regular, "bold": fonts.bold} {
		var buf sfnt.Buffer
		for _, r := range letters {
			if i, err := f.GlyphIndex(&buf, r); err != nil || i == 0 {
				t.Errorf("%s lacks %U %c", name, r, r)
			}
		}
	}
}

func TestWrapKeepsLinesWithinTheWidth(t *testing.T) {
	fonts, err := loadPosterFonts()
	if err != nil {
		t.Fatal(err)
	}
	c := &canvas{fonts: fonts, faces: map[faceKey]font.Face{}}
	face := c.face(true, 60)
	for _, text := range []string{
		"Phường Thuận Hóa",
		norm.NFC.String("Xã Hương Trà Đông Nghiêm Ưỡng Ngọc Quỳnh Thượng Nguyễn Trãi Phường Rất Dài Thật Là Dài"),
		"https://ward.example/chat?area=" + strings.Repeat("x", 200),
		strings.Repeat("Ừ", 300),
		"",
		"  \n  ",
	} {
		lines := wrap(face, text, 500)
		for _, l := range lines {
			if w := font.MeasureString(face, l).Ceil(); w > 500 {
				t.Errorf("%q is %d px wide", l, w)
			}
		}
		if got := strings.Join(strings.Fields(strings.Join(lines, "")), ""); got != strings.Join(strings.Fields(text), "") {
			t.Errorf("wrapping lost text: %q", got)
		}
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
}

func TestPosterPNGDrawsALongName(t *testing.T) {
	main, err := newQR("https://t.me/gocua_bot?start=" + strings.Repeat("a", 64))
	if err != nil {
		t.Fatal(err)
	}
	img, err := drawPoster(posterText{Kicker: "Hỗ trợ", Name: strings.Repeat("Phường Nguyễn Thị Minh Khai ", 6), Province: "Tỉnh Thừa Thiên",
		Steps: []string{strings.Repeat("Bác bấm vào đây ", 12), "Hai", "Ba", "Bốn"}, Warn: "Cẩn thận"}, &main, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, img)
	if len(got) != 1 || got[0] != main.Text {
		t.Errorf("decoded %q", got)
	}
}
