package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// guidePNG is a picture the size of a phone screenshot, as a guide's would be.
func guidePNG(t *testing.T, blue uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 360, 640))
	for y := range 640 {
		for x := range 360 {
			img.Set(x, y, color.RGBA{uint8(x % 256), uint8(y % 256), blue, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A guide's step with a picture shows it on every channel, its text the
// caption: Telegram gets it uploaded, the web chat inline, the Zalo bot from
// gocua's stable address, the Zalo OA by upload.
func TestGuidePicturesOnEveryChannel(t *testing.T) {
	dir := t.TempDir()
	pic := guidePNG(t, 120)
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "images", "bam-vao-day.png"), pic, 0o644); err != nil {
		t.Fatal(err)
	}
	// a picture a ward's own https site keeps
	webPic := guidePNG(t, 200)
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(webPic)
	}))
	t.Cleanup(web.Close)
	// the site is example.com (its certificate's name): a guide's picture
	// must have a public address, so only this test's clients take that
	// name to the server on 127.0.0.1
	siteURL := "https://example.com:" + strconv.Itoa(web.Listener.Addr().(*net.TCPAddr).Port)
	siteTransport := web.Client().Transport.(*http.Transport).Clone()
	siteTransport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if strings.HasPrefix(addr, "example.com:") {
			addr = web.Listener.Addr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	siteClient := &http.Client{Transport: siteTransport}
	flow := `id: picture_guide
title: {vi: "Hình hướng dẫn", en: "Picture guide"}
keywords: {vi: ["xem hình hướng dẫn"], en: ["show the picture"]}
sources: ["https://dichvucong.gov.vn"]
verified: 2026-12-01
owner: "test"
start: look
steps:
  - id: look
    say: {vi: "Bác bấm vào ô có vòng đỏ như trong hình.", en: "Tap the circled box, as in the picture."}
    image: images/bam-vao-day.png
    next: online
  - id: online
    say: {vi: "Trang của phường có hình này.", en: "The ward's site has this picture."}
    image: ` + siteURL + `/huong-dan.png
    next: done
  - id: done
    end: {vi: "Xong rồi ạ.", en: "Done."}
`
	if err := os.WriteFile(filepath.Join(dir, "picture_guide.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	zb, oas := zalotest.New(t, zalotest.WithFetchClient(siteClient)), oatest.New(t)
	h := &zaloHarness{deskHarness: startDeskWith(t, nil, append(zaloOptions(t, zb, oas), withEnv("GOCUA_FLOWS_DIR", dir),
		withMain(func(m *Main) { m.MediaClient = siteClient }))...), zb: zb, oa: oas}
	const caption = "Bác bấm vào ô có vòng đỏ như trong hình."

	// Telegram: uploaded once, as a photo with its caption
	resident := newChatID()
	h.send(textUpdate(nextUpdateID(), resident, "xem hình hướng dẫn"))
	h.settle()
	h.waitPhoto(resident, pic)
	h.send(buttonUpdate(nextUpdateID(), resident, firstFlowButton(t, h.sentTo(resident)[len(h.sentTo(resident))-1])))
	h.settle()
	waitUntil(t, 10*time.Second, "the site's picture on Telegram", func() bool {
		n := 0
		for _, m := range h.sentTo(resident) {
			if m.Method == "sendPhoto" && m.File != nil && m.File.Uploaded && bytes.Equal(m.File.Data, webPic) {
				n++
			}
		}
		return n == 1
	})

	// the web chat: inline, served to the visitor
	w := newWebResident(t)
	w.open(h.url)
	if code := w.send(h.url, "picture-1", 1, "xem hình hướng dẫn"); code != http.StatusOK {
		t.Fatalf("web chat answered %d", code)
	}
	h.settle()
	var mediaID string
	waitUntil(t, 10*time.Second, "the picture in the web chat", func() bool {
		for _, m := range w.botMessages(h.url) {
			if m.Text == caption && m.Media != nil {
				mediaID = m.Media.ID
				return true
			}
		}
		return false
	})
	served := func(id string) []byte {
		t.Helper()
		resp, err := w.client.Get(h.url + "/chat/media/" + id)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the web chat serves %d", resp.StatusCode)
		}
		return got
	}
	if !bytes.Equal(served(mediaID), pic) {
		t.Fatal("the web chat serves another picture")
	}
	next, _ := webButton(w.botMessages(h.url), func(b bot.Button) bool { return isContent(b.Data) })
	if code := w.tap(h.url, "picture-2", 2, next.Data, next.Text); code != http.StatusOK {
		t.Fatalf("web chat answered %d", code)
	}
	h.settle()
	waitUntil(t, 10*time.Second, "the site's picture in the web chat", func() bool {
		for _, m := range w.botMessages(h.url) {
			if m.Media != nil && m.Text == "Trang của phường có hình này." {
				return bytes.Equal(served(m.Media.ID), webPic)
			}
		}
		return false
	})

	// the Zalo bot: Zalo fetches it from gocua, twice, whole
	chat := newZaloChat()
	h.zaloBotSay(chat, "xem hình hướng dẫn")
	photo := h.waitZalo(chat, caption)
	if photo.Method != "sendPhoto" || len(photo.Fetches) != zalotest.PhotoFetches {
		t.Fatalf("zalo bot got %+v", photo)
	}
	for _, f := range photo.Fetches {
		if f.Status != http.StatusOK || !bytes.Equal(f.Data, pic) {
			t.Fatalf("Zalo fetched %d, %d bytes", f.Status, len(f.Data))
		}
	}
	h.zaloBotSay(chat, "1") // Tiếp tục: the site's picture goes to Zalo by its own address
	site := h.waitZalo(chat, "Trang của phường có hình này.")
	if site.Photo != siteURL+"/huong-dan.png" || len(site.Fetches) == 0 || !bytes.Equal(site.Fetches[0].Data, webPic) {
		t.Fatalf("zalo bot got %+v", site)
	}

	// the Zalo OA: uploaded, sent by attachment id with the caption
	user := newOAUser()
	h.oaText(user, "xem hình hướng dẫn")
	h.waitOA(user, caption)
	found := false
	for _, m := range h.oa.Sent(user) {
		found = found || m.AttachmentID != "" && bytes.Equal(m.Image, pic)
	}
	if !found {
		t.Fatalf("the OA got no picture by attachment id: %d messages", len(h.oa.Sent(user)))
	}
	var payload string
	for _, m := range h.oa.Sent(user) {
		for _, b := range m.Buttons {
			if b.Title == "Tiếp tục ▶" {
				payload = b.Payload
			}
		}
	}
	h.oaText(user, payload)
	h.waitOA(user, "Trang của phường có hình này.")
	found = false
	for _, m := range h.oa.Sent(user) {
		found = found || m.AttachmentID != "" && bytes.Equal(m.Image, webPic)
	}
	if !found {
		t.Fatal("the OA got no upload of the site's picture")
	}
}
