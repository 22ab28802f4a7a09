package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// testPNG is a small real PNG, so the browser can draw it.
func testPNG(t *testing.T, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webTicket is the open ticket of a web chat visitor.
func (h *deskHarness) webTicket(visitor string) int64 {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conv, _, err := h.main.Redis.Load(context.Background(), bot.ConvKey{Channel: bot.ChannelWeb, ChatID: visitor}, "")
		if err == nil && conv.Ticket != 0 {
			return conv.Ticket
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the web visitor has no ticket: %+v %v", conv, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPhoto waits until the volunteer's chat received an uploaded photo
// with these bytes.
func (h *deskHarness) waitPhoto(chat int64, data []byte) telegramtest.SentMessage {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, m := range h.sentTo(chat) {
			if m.Method == "sendPhoto" && m.File != nil && m.File.Uploaded && bytes.Equal(m.File.Data, data) {
				return m
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("chat %d got no uploaded photo; got %q", chat, texts(h.sentTo(chat)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A web chat resident asks for a volunteer; a Telegram volunteer claims the
// ticket in the group and answers with text and a photo, which appear live
// in the open page; the resident's photo reaches the volunteer as an upload.
func TestBrowserWebHandoff(t *testing.T) {
	b := newBrowser(t)
	h := startDesk(t)
	vol := h.volunteer()

	b.do("open /chat", chromedp.Navigate(h.url+"/chat"), chromedp.WaitVisible(chromedp.ID("input")))
	b.waitText("🙋 Gặp tình nguyện viên")
	b.tap("🙋 Gặp tình nguyện viên")
	// the two short questions: the problem, then the ward (skipped)
	b.waitText("Bác đang cần giúp việc gì")
	b.tap("VNeID")
	b.waitText("xã/phường")
	b.tap("⏭ Bỏ qua")
	b.waitText("danh sách chờ")
	b.say("Em bấm quét NFC mà không được")
	b.waitText("Em bấm quét NFC mà không được")
	visitor := b.visitor(h.url + "/chat")
	id := h.webTicket(visitor)
	evaluate[bool](b, `(window.gocuaNoReload = true)`) // gone if the page reloads

	// the volunteer claims it from the group
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
	h.settle()
	h.waitFor(vol, "Em bấm quét NFC")
	b.waitText("đã nhận yêu cầu")

	// the volunteer's text, live
	h.send(textUpdate(nextUpdateID(), vol, "Chào Bác, cháu là Lan. Bác chụp màn hình giúp cháu nhé"))
	h.settle()
	b.waitText("Bác chụp màn hình giúp cháu nhé")

	// the volunteer's photo, fetched from Telegram and shown as an image
	volPhoto := testPNG(t, color.RGBA{200, 30, 30, 255})
	h.api.AddFile("AgACvolunteerguide", volPhoto)
	h.raw(telegramtest.PhotoMessage(nextUpdateID(), vol, vol, "AgACvolunteerguide", "Bác bấm vào đây"))
	h.settle()
	b.waitText("Bác bấm vào đây")
	waitImage(b, `#log .msg.bot img.photo`)
	theirs := evaluate[map[string]string](b, `(function () { var i = document.querySelectorAll('#log .msg.bot img.photo');
		i = i[i.length - 1]; return {src: i.getAttribute('src'), alt: i.alt}; })()`)
	if theirs["alt"] == "" || len(theirs["src"]) != len("/chat/media/")+32 {
		t.Errorf("the volunteer's photo = %v, want /chat/media/<id> with alt text", theirs)
	}

	// the resident attaches a photo: it shows in the page and reaches the volunteer as an upload
	mine := testPNG(t, color.RGBA{20, 120, 220, 255})
	path := filepath.Join(t.TempDir(), "man-hinh.png")
	if err := os.WriteFile(path, mine, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := evaluate[int](b, `document.querySelectorAll('#attach[aria-label]').length`); n != 1 {
		t.Error("no labelled attach button")
	}
	b.do("attach a photo", chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}))
	waitImage(b, `#log .msg.me img.photo`)
	h.settle()
	got := h.waitPhoto(vol, mine)
	if got.File.Name == "" {
		t.Errorf("the upload has no file name: %+v", got.File)
	}

	if !evaluate[bool](b, `window.gocuaNoReload === true`) {
		t.Error("the page reloaded: the messages were not live")
	}
}

// waitImage waits until the last image matching sel has loaded.
func waitImage(b *browser, sel string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := evaluate[bool](b, `(function () { var i = document.querySelectorAll(`+jsString(sel)+`);
			i = i[i.length - 1]; return !!i && i.complete && i.naturalWidth === 64; })()`)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no loaded image %s; the chat shows:\n%s", sel, b.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
