package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// guidePNG is a picture the size of a phone screenshot, as a guide's would be.
func guidePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 360, 640))
	for y := range 640 {
		for x := range 360 {
			img.Set(x, y, color.RGBA{uint8(x % 256), uint8(y % 256), 120, 255})
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
	pic := guidePNG(t)
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "images", "bam-vao-day.png"), pic, 0o644); err != nil {
		t.Fatal(err)
	}
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
    next: done
  - id: done
    end: {vi: "Xong rồi ạ.", en: "Done."}
`
	if err := os.WriteFile(filepath.Join(dir, "picture_guide.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	h := startZalo(t, withEnv("GOCUA_FLOWS_DIR", dir))
	const caption = "Bác bấm vào ô có vòng đỏ như trong hình."

	// Telegram: uploaded once, as a photo with its caption
	resident := newChatID()
	h.send(textUpdate(nextUpdateID(), resident, "xem hình hướng dẫn"))
	h.settle()
	h.waitPhoto(resident, pic)

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
	resp, err := w.client.Get(h.url + "/chat/media/" + mediaID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, pic) {
		t.Fatalf("the web chat serves %d, %d bytes", resp.StatusCode, len(got))
	}

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
}
