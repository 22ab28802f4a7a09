package zalo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// The adapter fits the ports it is wired to.
var (
	_ bot.Deliverer                    = (*Adapter)(nil)
	_ http.Handler                     = (*Adapter)(nil)
	_ Handler                          = (*bot.Service)(nil)
	_ telegram.MediaSource             = (*Adapter)(nil) // a Zalo resident's photo shown to a Telegram volunteer
	_ Fetcher                          = (*telegram.Adapter)(nil)
	_ interface{ Limits() bot.Limits } = (*Adapter)(nil)
)

func photoOut(ref, text string, buttons ...[]bot.Button) bot.Outbound {
	out := outbound(text, buttons...)
	out.Media = &bot.Media{Kind: bot.MediaPhoto, Ref: ref}
	return out
}

// get fetches a media address from the fixture's public server.
func (f *fixture) get(t *testing.T, method, addr string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func checkFetches(t *testing.T, m zalotest.SentMessage, data []byte, mime string) {
	t.Helper()
	if len(m.Fetches) != zalotest.PhotoFetches {
		t.Fatalf("%d fetches", len(m.Fetches))
	}
	for i, fe := range m.Fetches {
		if fe.Status != 200 || fe.MIME != mime || !bytes.Equal(fe.Data, data) {
			t.Fatalf("fetch %d of %s: status %d, %q, %d bytes (%s)", i, m.Photo, fe.Status, fe.MIME, len(fe.Data), fe.Err)
		}
	}
}

// A photo kept in the store (a broadcast's image) is sent by a stable
// address that Zalo can fetch as often as it likes; a wrong mac, another
// id or a deleted upload is a 404.
func TestDeliverPhotoFromUpload(t *testing.T) {
	f := newFixture(t)
	up := f.uploads.put("broadcasts", png, "image/png")
	out := photoOut("web:"+up.ID, "Thông báo **mới**", []bot.Button{{Text: "Xem thêm", Data: "flow:more"}})
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	calls := f.api.Calls()
	if len(calls) != 2 || calls[0].Method != "sendChatAction" || calls[0].Action != "typing" || calls[1].Method != "sendPhoto" {
		t.Fatalf("calls %+v", calls)
	}
	sent := f.api.Sent(chatID)
	if len(sent) != 1 {
		t.Fatalf("sent %+v", sent)
	}
	m := sent[0]
	prefix := f.media.URL + MediaPath + up.ID + "/"
	if !strings.HasPrefix(m.Photo, prefix) || !strings.HasSuffix(m.Photo, ".png") || len(m.Photo) != len(prefix)+32+len(".png") {
		t.Fatalf("photo address %q", m.Photo)
	}
	if want := "Thông báo mới\n1. Xem thêm\n\n👉 Bác trả lời 1 để chọn."; m.Caption != want {
		t.Fatalf("caption %q, want %q", m.Caption, want)
	}
	checkFetches(t, m, png, "image/png")
	if len(f.menus.get(chatKey).Choices) != 1 {
		t.Fatal("menu not stored")
	}

	// the same address for every recipient, every time
	other := out
	other.Key.ChatID, other.ID = "another-chat", "b1/2"
	if err := f.a.Deliver(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if got := f.api.Sent("another-chat")[0].Photo; got != m.Photo {
		t.Fatalf("address %q, then %q", m.Photo, got)
	}
	if n := f.uploads.reads.Load(); n != 1 {
		t.Fatalf("the store was read %d times for 2 deliveries and 4 fetches, want once", n)
	}

	// served with the right headers, for GET and HEAD
	resp := f.get(t, http.MethodGet, m.Photo)
	body, _ := io.ReadAll(resp.Body)
	h := resp.Header
	if resp.StatusCode != 200 || !bytes.Equal(body, png) || h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(h.Get("Cache-Control"), "public") || !strings.Contains(h.Get("Cache-Control"), "max-age=86400") {
		t.Fatalf("GET: %d %v", resp.StatusCode, h)
	}
	if resp := f.get(t, http.MethodHead, m.Photo); resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	if resp := f.get(t, http.MethodPost, m.Photo); resp.StatusCode != 405 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	noExt := strings.TrimSuffix(m.Photo, ".png")
	if resp := f.get(t, http.MethodGet, noExt); resp.StatusCode != 200 {
		t.Fatalf("without the extension: %d", resp.StatusCode)
	}

	// anything but the address gocua made is a 404
	mac := noExt[len(prefix):]
	flipped := []byte(mac)
	flipped[5] ^= 1
	stranger := f.uploads.put("broadcasts", jpeg, "image/jpeg")
	for name, addr := range map[string]string{
		"wrong mac":            prefix + string(flipped) + ".png",
		"mac in upper case":    prefix + strings.ToUpper(mac) + ".png",
		"short mac":            prefix + mac[:16] + ".png",
		"no mac":               f.media.URL + MediaPath + up.ID,
		"no mac, a slash":      f.media.URL + MediaPath + up.ID + "/",
		"another id, same mac": f.media.URL + MediaPath + stranger.ID + "/" + mac + ".jpg",
		"odd extension":        noExt + ".html",
		"extra path":           noExt + "/x.png",
		"malformed id":         f.media.URL + MediaPath + "..%2F..%2Fetc/" + mac,
		"nothing":              f.media.URL + MediaPath,
	} {
		if resp := f.get(t, http.MethodGet, addr); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", name, resp.StatusCode)
		}
	}

	// deleted: 404 once the serving cache forgets it
	f.uploads.remove(up.ID)
	f.advance(cacheTTL + time.Second)
	if resp := f.get(t, http.MethodGet, m.Photo); resp.StatusCode != 404 {
		t.Fatalf("deleted upload: %d, want 404", resp.StatusCode)
	}
}

// A photo a Telegram volunteer sends is fetched from Telegram once, stored
// once as the resident's upload (a retry neither fetches nor stores it
// again) and sent by its stable address.
func TestDeliverPhotoFromTelegram(t *testing.T) {
	f := newFixture(t)
	f.fetcher.files["telegram:AgACAgUAAxk-x_1"] = jpeg
	out := photoOut("telegram:AgACAgUAAxk-x_1", "")
	f.api.FailNext("sendPhoto", 1, zalotest.ServerError(502))
	if err := f.a.Deliver(context.Background(), out); err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("first attempt: %v, want a retryable error", err)
	}
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if stored, saves := f.uploads.count(); stored != 1 || saves != 1 || f.fetcher.count() != 1 {
		t.Fatalf("stored %d uploads with %d saves, %d fetches; want 1, 1, 1", stored, saves, f.fetcher.count())
	}
	sent := f.api.Sent(chatID)
	if len(sent) != 1 || !strings.HasSuffix(sent[0].Photo, ".jpg") || sent[0].Caption != "" {
		t.Fatalf("sent %+v", sent)
	}
	checkFetches(t, sent[0], jpeg, "image/jpeg")
	for _, up := range f.uploads.all() {
		if up.Visitor != "zalo-bot:"+chatID || up.MsgID != out.ID || up.MIME != "image/jpeg" || !bytes.Equal(up.Data, jpeg) {
			t.Fatalf("stored %+v", up)
		}
	}
	if calls := f.api.CallsTo("sendPhoto"); len(calls) != 2 || calls[0].Photo != calls[1].Photo {
		t.Fatalf("the retry used another address: %+v", calls)
	}

	// after a restart (nothing remembered) the store still keeps one copy
	g := newFixture(t)
	g.uploads, g.fetcher = f.uploads, f.fetcher
	a, err := New(g.a.cfg, g.rec, g.menus, fakeTexts{}, nil, WithUploads(f.uploads), WithFetcher(f.fetcher))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if stored, _ := f.uploads.count(); stored != 1 {
		t.Fatalf("%d uploads after a restart's retry", stored)
	}
}

// A broadcast's photo from Telegram is fetched and stored once for all its
// recipients.
func TestDeliverPhotoBulkSharesOneCopy(t *testing.T) {
	f := newFixture(t)
	f.fetcher.files["telegram:AgAC-poster"] = png
	var addrs []string
	for i, chat := range []string{"c1", "c2", "c3"} {
		out := photoOut("telegram:AgAC-poster", "Lịch tiêm chủng")
		out.Key.ChatID, out.ID, out.Lane = chat, "b7/"+string(rune('0'+i)), bot.LaneBulk
		if err := f.a.Deliver(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, f.api.Sent(chat)[0].Photo)
	}
	if stored, saves := f.uploads.count(); stored != 1 || saves != 1 || f.fetcher.count() != 1 {
		t.Fatalf("stored %d with %d saves and %d fetches, want one of each", stored, saves, f.fetcher.count())
	}
	if addrs[0] != addrs[1] || addrs[1] != addrs[2] {
		t.Fatalf("addresses %v", addrs)
	}
}

// A photo a Zalo resident sent can go to another Zalo chat: fetched from
// Zalo and served like the others (Zalo's own addresses may expire).
func TestDeliverPhotoFromZalo(t *testing.T) {
	f := newFixture(t)
	f.api.SetPhoto("a.png", png, "image/png")
	if err := f.a.Deliver(context.Background(), photoOut("zalo-bot:"+f.api.PhotoURL("a.png"), "ảnh")); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(chatID)
	if len(sent) != 1 || !strings.HasPrefix(sent[0].Photo, f.media.URL+MediaPath) {
		t.Fatalf("sent %+v", sent)
	}
	checkFetches(t, sent[0], png, "image/png")
}

// An https address (a broadcast's image given as one) goes to Zalo as it is.
func TestDeliverPhotoByAddress(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PublicURL = "" }, nil, WithUploads(nil))
	const addr = "https://cdn.example.gov.vn/poster.jpg?v=2"
	if err := f.a.Deliver(context.Background(), photoOut(addr, "")); err != nil {
		t.Fatal(err)
	}
	if sent := f.api.Sent(chatID); len(sent) != 1 || sent[0].Photo != addr {
		t.Fatalf("sent %+v", sent)
	}
}

func TestDeliverPhotoRefusedFiles(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(f *fixture) string // returns the ref
		rejected bool
	}{
		{"not a photo", func(f *fixture) string { f.fetcher.files["telegram:a"] = []byte("%PDF-1.4 form"); return "telegram:a" }, true},
		{"a GIF", func(f *fixture) string { f.fetcher.files["telegram:g"] = []byte("GIF89a......"); return "telegram:g" }, true},
		{"over MaxUpload", func(f *fixture) string {
			f.fetcher.files["telegram:big"] = append(bytes.Clone(png), make([]byte, bot.MaxUpload)...)
			return "telegram:big"
		}, true},
		{"gone from Telegram", func(f *fixture) string { return "telegram:missing" }, true},
		{"Telegram unreachable", func(f *fixture) string { f.fetcher.err = errors.New("telegram: getFile: 502"); return "telegram:x" }, false},
		{"the store is down", func(f *fixture) string {
			f.fetcher.files["telegram:s"] = png
			f.uploads.err = errors.New("postgres down")
			return "telegram:s"
		}, false},
		{"a stored upload that is not a photo", func(f *fixture) string {
			return "web:" + f.uploads.put("broadcasts", []byte("GIF89a"), "image/gif").ID
		}, true},
		{"the upload store is down", func(f *fixture) string {
			up := f.uploads.put("broadcasts", png, "image/png")
			f.uploads.err = errors.New("postgres down")
			return "web:" + up.ID
		}, false},
		{"a Zalo file gone", func(f *fixture) string { return "zalo-bot:" + f.api.PhotoURL("nope.jpg") }, true},
		{"a Zalo file that is not a photo", func(f *fixture) string {
			f.api.SetPhoto("v.aac", []byte("\xff\xf1\x50\x80 aac"), "audio/aac")
			return "zalo-bot:" + f.api.PhotoURL("v.aac")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ref := tt.prepare(f)
			err := f.a.Deliver(context.Background(), photoOut(ref, "x"))
			if err == nil || errors.Is(err, bot.ErrRejected) != tt.rejected {
				t.Fatalf("%v; want rejected %v", err, tt.rejected)
			}
			if n := len(f.api.CallsTo("sendPhoto")); n != 0 {
				t.Fatalf("%d sendPhoto calls", n)
			}
		})
	}
}

// A caption that the menu makes too long: the photo carries what fits, the
// rest follows as text; a failed typing notice changes nothing.
func TestDeliverPhotoLongCaption(t *testing.T) {
	f := newFixture(t)
	up := f.uploads.put("broadcasts", png, "image/png")
	f.api.FailNext("sendChatAction", 1, zalotest.ServerError(500))
	out := photoOut("web:"+up.ID, strings.Repeat("ả", 1995), []bot.Button{{Text: "Có", Data: "y"}, {Text: "Không", Data: "n"}})
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(chatID)
	if len(sent) != 2 || sent[0].Method != "sendPhoto" || sent[1].Method != "sendMessage" ||
		bot.TextLen(sent[0].Caption) > MaxText || !strings.HasPrefix(sent[1].Text, "1. Có") {
		t.Fatalf("sent %+v", sent)
	}
}

func TestOpenMedia(t *testing.T) {
	f := newFixture(t)
	f.api.SetPhoto("p.png", png, "application/octet-stream") // the bytes say what it is
	f.api.SetPhoto("v.aac", []byte("\xff\xf1\x50\x80\x02\x1f\xfc voice"), "audio/aac")
	f.api.SetPhoto("empty", nil, "image/jpeg")
	f.api.SetPhoto("big", make([]byte, MaxMedia+1), "image/jpeg")

	md, rc, err := f.a.OpenMedia(context.Background(), "zalo-bot:"+f.api.PhotoURL("p.png"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(data, png) {
		t.Fatalf("read %d bytes: %v", len(data), err)
	}
	if md.Kind != bot.MediaPhoto || md.MIME != "image/png" || md.Name != "photo.png" || md.Size != int64(len(png)) || md.Ref != "zalo-bot:"+f.api.PhotoURL("p.png") {
		t.Fatalf("media %+v", md)
	}

	md, rc, err = f.a.OpenMedia(context.Background(), "zalo-bot:"+f.api.PhotoURL("v.aac"))
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if md.Kind != bot.MediaVoice || md.MIME != "audio/aac" || md.Name != "voice.aac" {
		t.Fatalf("voice %+v", md)
	}

	for name, ref := range map[string]string{
		"another platform's ref": "telegram:AgAC",
		"a web upload":           "web:" + strings.Repeat("a", 32),
		"no prefix":              f.api.PhotoURL("p.png"),
		"not http":               "zalo-bot:file:///etc/passwd",
		"no host":                "zalo-bot:https:///x",
		"gone":                   "zalo-bot:" + f.api.PhotoURL("gone.jpg"),
		"empty":                  "zalo-bot:" + f.api.PhotoURL("empty"),
		"over 10 MiB":            "zalo-bot:" + f.api.PhotoURL("big"),
	} {
		if _, rc, err := f.a.OpenMedia(context.Background(), ref); !errors.Is(err, bot.ErrRejected) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("%s: %v, want ErrRejected", name, err)
		}
	}
}

// Zalo's addresses come from the webhook, but the adapter fetches what it is
// told: without AllowPrivateMedia it never reaches into the host's networks.
func TestOpenMediaRefusesPrivateAddresses(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.AllowPrivateMedia = false }, nil)
	var hits atomic.Int32
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); _, _ = w.Write(png) }))
	t.Cleanup(inside.Close)
	port := inside.URL[strings.LastIndex(inside.URL, ":"):]
	for _, addr := range []string{
		inside.URL + "/p.png",
		"http://localhost" + port + "/p.png",
		"http://[::1]" + port + "/p.png",
		"http://10.0.0.1/p.png",
		"http://169.254.169.254/latest/meta-data/",
		"http://0.0.0.0" + port + "/p.png",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, rc, err := f.a.OpenMedia(ctx, "zalo-bot:"+addr)
		cancel()
		if rc != nil {
			rc.Close()
		}
		if !errors.Is(err, bot.ErrRejected) {
			t.Errorf("%s: %v, want ErrRejected", addr, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the private server was reached %d times", n)
	}
	// and a photo sent from a private address is refused the same way
	err := f.a.Deliver(context.Background(), photoOut("zalo-bot:"+inside.URL+"/p.png", ""))
	if !errors.Is(err, bot.ErrRejected) || hits.Load() != 0 {
		t.Fatalf("deliver: %v (hits %d)", err, hits.Load())
	}
}

func TestMediaHandlerWithoutSecretOrStore(t *testing.T) {
	for name, opts := range map[string]struct {
		cfg  func(*Config)
		opts []Option
	}{
		"no secret": {func(c *Config) { c.WebhookSecret = "" }, nil},
		"no store":  {nil, []Option{WithUploads(nil)}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixtureWith(t, opts.cfg, nil, opts.opts...)
			up := f.uploads.put("broadcasts", png, "image/png")
			key := deriveMediaKey(secret)
			probe := &Adapter{mediaKey: key}
			addr := f.media.URL + MediaPath + up.ID + "/" + probe.mac(up.ID) + ".png"
			if resp := f.get(t, http.MethodGet, addr); resp.StatusCode != 404 {
				t.Fatalf("%d, want 404", resp.StatusCode)
			}
		})
	}
}

// A channel that is off is a nil pointer in the interface: no fetcher,
// not a panic.
func TestTypedNilOptions(t *testing.T) {
	var tg *telegram.Adapter
	f := newFixture(t)
	a, err := New(f.a.cfg, f.rec, (*memMenus)(nil), fakeTexts{}, nil, WithFetcher(tg), WithUploads((*memUploads)(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Deliver(context.Background(), photoOut("telegram:AgAC", "")); !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("%v, want ErrRejected", err)
	}
	if got := zalotest.Post(a, WebhookPath, secret, zalotest.Text("t", chatID, "1").Body()).Code; got != 200 {
		t.Fatalf("webhook without menus: %d", got)
	}
}

// The store failing is not a 404 (Zalo would show a broken photo for
// good): 503, to try again.
func TestMediaHandlerStoreDown(t *testing.T) {
	f := newFixture(t)
	up := f.uploads.put("broadcasts", png, "image/png")
	addr := f.a.mediaAddress(up.ID, up.MIME)
	f.uploads.mu.Lock()
	f.uploads.err = errors.New("postgres down")
	f.uploads.mu.Unlock()
	resp := f.get(t, http.MethodGet, addr)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d (Retry-After %q), want 503", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
