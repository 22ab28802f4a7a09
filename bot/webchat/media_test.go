package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// Test photos: just their magic bytes and some filler.
var (
	pngPhoto  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"), bytes.Repeat([]byte{3}, 200)...)
	jpegPhoto = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{5}, 200)...)
	webpPhoto = append([]byte("RIFF\x10\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{9}, 200)...)
)

// part is one part of a multipart upload.
type part struct {
	name, filename, ctype string
	body                  []byte
}

func field(name, value string) part { return part{name: name, body: []byte(value)} }
func file(ctype string, body []byte) part {
	return part{name: "file", filename: "anh.png", ctype: ctype, body: body}
}

func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name="%s"`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename="%s"`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(p.body)
	}
	w.Close()
	return w.FormDataContentType(), b.Bytes()
}

// uploadResult is an answer of /chat/api/upload.
type uploadResult struct {
	code  int
	ctype string
	retry string
	body  struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Media struct {
			ID string `json:"id"`
		} `json:"media"`
	}
}

// rawUpload posts body to /chat/api/upload?query with content type ctype.
func (e *env) rawUpload(visitor, origin, query, ctype string, body []byte) uploadResult {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/chat/api/upload"+query, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	switch origin {
	case "":
		req.Header.Set("Origin", e.srv.URL)
	case "-":
	default:
		req.Header.Set("Origin", origin)
	}
	if visitor != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: visitor})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	res := uploadResult{code: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), retry: resp.Header.Get("Retry-After")}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &res.body); err != nil {
		e.t.Errorf("upload answered %d with a body that is not JSON: %q", resp.StatusCode, raw)
	}
	return res
}

func (e *env) upload(visitor string, parts ...part) uploadResult {
	e.t.Helper()
	ctype, body := multipartBody(e.t, parts...)
	return e.rawUpload(visitor, "", "", ctype, body)
}

// media GETs /chat/media/id as visitor (none if "").
func (e *env) media(visitor, id string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/chat/media/"+id, nil)
	if visitor != "" {
		req.AddCookie(&http.Cookie{Name: CookieName, Value: visitor})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestUploadBecomesInbound(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	s := e.events(v, nil, "")
	id := newMsgID()
	// the client says JPEG; the bytes are a PNG, and that is what is kept
	res := e.upload(v, field("id", id), field("seq", "1"), field("caption", "  ảnh lỗi\u0000 ở bước NFC 🇻🇳 "), file("image/jpeg", pngPhoto))
	if res.code != http.StatusOK || !res.body.OK || !uploadIDRE.MatchString(res.body.Media.ID) {
		t.Fatalf("upload: %d %+v", res.code, res.body)
	}
	mid := res.body.Media.ID
	got := e.core.inbounds()
	if len(got) != 1 {
		t.Fatalf("core got %d inbounds", len(got))
	}
	in := got[0]
	want := bot.Media{Kind: bot.MediaPhoto, Ref: "web:" + mid, MIME: "image/png", Size: int64(len(pngPhoto))}
	if in.Kind != bot.InMedia || in.Media == nil || *in.Media != want || in.Text != "ảnh lỗi ở bước NFC 🇻🇳" ||
		in.UpdateID != id || in.Seq != 1 || in.Key != webKey(v) || in.UserID != VisitorID(v) {
		t.Fatalf("inbound = %+v, media %+v", in, in.Media)
	}
	up, err := e.uploads.Upload(context.Background(), mid)
	if err != nil || up.Visitor != VisitorID(v) || up.MIME != "image/png" || !bytes.Equal(up.Data, pngPhoto) || up.MsgID != id {
		t.Fatalf("stored %+v, %v", up, err)
	}
	// the resident sees their photo in the conversation, live and after a reload
	_, m := s.next()
	if m.ID != id || m.From != fromResident || m.Media == nil || m.Media.ID != mid || m.Media.MIME != "image/png" || m.Text != in.Text {
		t.Fatalf("event = %+v", m)
	}
	if h := e.history(v, 0); len(h) != 1 || h[0].Media == nil || h[0].Media.ID != mid {
		t.Fatalf("history = %+v", h)
	}

	// a raw body works too, with the fields in the query; JPEG and WebP are photos
	for i, p := range [][]byte{jpegPhoto, webpPhoto} {
		res := e.rawUpload(v, "", fmt.Sprintf("?id=%s&seq=%d", newMsgID(), i+2), "application/octet-stream", p)
		if res.code != http.StatusOK {
			t.Fatalf("raw upload %d: %d %+v", i, res.code, res.body)
		}
		up, _ := e.uploads.Upload(context.Background(), res.body.Media.ID)
		if want := []string{"image/jpeg", "image/webp"}[i]; up.MIME != want {
			t.Errorf("raw upload %d kept as %q, want %q", i, up.MIME, want)
		}
	}
	// without a caption: an InMedia without text
	if res := e.upload(v, field("id", newMsgID()), field("seq", "4"), file("", pngPhoto)); res.code != http.StatusOK {
		t.Fatalf("no caption: %d", res.code)
	}
	if in := e.core.inbounds()[3]; in.Kind != bot.InMedia || in.Text != "" {
		t.Fatalf("no caption: %+v", in)
	}
}

// A retried upload (the page lost the answer) is kept, shown and handled once.
func TestRetriedUploadKeptOnce(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	id := newMsgID()
	var first string
	for i := range 3 {
		res := e.upload(v, field("id", id), field("seq", "1"), file("image/png", pngPhoto))
		if res.code != http.StatusOK {
			t.Fatalf("try %d: %d", i, res.code)
		}
		if i == 0 {
			first = res.body.Media.ID
		} else if res.body.Media.ID != first {
			t.Fatalf("try %d kept another upload: %s, first %s", i, res.body.Media.ID, first)
		}
	}
	if n := len(e.uploads.all()); n != 1 {
		t.Fatalf("%d uploads kept", n)
	}
	if h := e.history(v, 0); len(h) != 1 {
		t.Fatalf("shown %d times", len(h))
	}
	for _, in := range e.core.inbounds() {
		if in.UpdateID != id {
			t.Fatalf("a retry reached the core as %q", in.UpdateID)
		}
	}
}

func TestUploadRefusals(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Burst = 1000; c.AddrBurst = 1000 })
	v := e.visit()
	big := append(bytes.Clone(pngPhoto), make([]byte, bot.MaxUpload)...)
	ok := func() []part { return []part{field("id", newMsgID()), field("seq", "1")} }
	with := func(ps ...part) []part { return append(ok(), ps...) }
	html := []byte("<!doctype html><html><script>alert(1)</script></html>")
	cases := []struct {
		name    string
		visitor string
		origin  string
		parts   []part
		want    int
	}{
		{"wrong origin", v, "https://evil.example", with(file("image/png", pngPhoto)), http.StatusForbidden},
		{"no origin", v, "-", with(file("image/png", pngPhoto)), http.StatusForbidden},
		{"no cookie", "", "", with(file("image/png", pngPhoto)), http.StatusForbidden},
		{"forged cookie", VisitorID(v) + ".7.AAAAAAAAAAAAAAAAAAAAAA", "", with(file("image/png", pngPhoto)), http.StatusForbidden},
		{"html claiming png", v, "", with(file("image/png", html)), http.StatusUnsupportedMediaType},
		{"gif", v, "", with(file("image/gif", []byte("GIF89a\x01\x00\x01\x00"))), http.StatusUnsupportedMediaType},
		{"svg", v, "", with(file("image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`))), http.StatusUnsupportedMediaType},
		{"pdf", v, "", with(file("image/png", []byte("%PDF-1.7\n"))), http.StatusUnsupportedMediaType},
		{"png magic cut short", v, "", with(file("image/png", []byte("\x89PN"))), http.StatusUnsupportedMediaType},
		{"zero bytes", v, "", with(file("image/png", nil)), http.StatusBadRequest},
		{"no file", v, "", ok(), http.StatusBadRequest},
		{"two files", v, "", with(file("image/png", pngPhoto), file("image/png", pngPhoto)), http.StatusBadRequest},
		{"unknown field", v, "", with(field("html", "<b>"), file("image/png", pngPhoto)), http.StatusBadRequest},
		{"no id", v, "", []part{field("seq", "1"), file("image/png", pngPhoto)}, http.StatusBadRequest},
		{"bad id", v, "", []part{field("id", "../../etc"), field("seq", "1"), file("image/png", pngPhoto)}, http.StatusBadRequest},
		{"seq 0", v, "", []part{field("id", newMsgID()), field("seq", "0"), file("image/png", pngPhoto)}, http.StatusBadRequest},
		{"seq not a number", v, "", []part{field("id", newMsgID()), field("seq", "١"), file("image/png", pngPhoto)}, http.StatusBadRequest},
		{"id twice", v, "", with(field("id", newMsgID()), file("image/png", pngPhoto)), http.StatusBadRequest},
		{"invalid UTF-8 caption", v, "", with(field("caption", "\xff\xfe"), file("image/png", pngPhoto)), http.StatusBadRequest},
		{"long caption", v, "", with(field("caption", strings.Repeat("ạ", MaxText+1)), file("image/png", pngPhoto)), http.StatusRequestEntityTooLarge},
		{"huge field", v, "", with(field("caption", strings.Repeat("a", 9<<10)), file("image/png", pngPhoto)), http.StatusRequestEntityTooLarge},
		{"over 5 MiB", v, "", with(file("image/png", big)), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		ctype, body := multipartBody(t, c.parts...)
		res := e.rawUpload(c.visitor, c.origin, "", ctype, body)
		if res.code != c.want || res.body.Error == "" || !strings.HasPrefix(res.ctype, "application/json") {
			t.Errorf("%s: %d %q (%s), want %d with a JSON error", c.name, res.code, res.body.Error, res.ctype, c.want)
		}
	}
	// malformed bodies
	for name, r := range map[string]struct {
		query, ctype string
		body         []byte
		want         int
	}{
		"no boundary":         {"", "multipart/form-data", []byte("x"), http.StatusBadRequest},
		"truncated multipart": {"", "multipart/form-data; boundary=zz", []byte("--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\x89PNG"), http.StatusBadRequest},
		"raw without id":      {"?seq=1", "image/png", pngPhoto, http.StatusBadRequest},
		"raw html":            {"?id=abcdefgh1&seq=1", "image/png", html, http.StatusUnsupportedMediaType},
		"raw zero bytes":      {"?id=abcdefgh2&seq=1", "image/png", nil, http.StatusBadRequest},
		"raw over 5 MiB":      {"?id=abcdefgh3&seq=1", "image/png", big, http.StatusRequestEntityTooLarge},
		"raw seq twice":       {"?id=abcdefgh4&seq=1&seq=2", "image/png", pngPhoto, http.StatusBadRequest},
		"json":                {"?id=abcdefgh5&seq=1", "application/json", []byte(`{"text":"hi"}`), http.StatusUnsupportedMediaType},
	} {
		if res := e.rawUpload(v, "", r.query, r.ctype, r.body); res.code != r.want || res.body.Error == "" {
			t.Errorf("%s: %d %q, want %d with a JSON error", name, res.code, res.body.Error, r.want)
		}
	}
	if n := len(e.core.inbounds()); n != 0 {
		t.Errorf("refused uploads reached the core %d times", n)
	}
	if n := len(e.uploads.all()); n != 0 {
		t.Errorf("refused uploads kept %d files", n)
	}
	if h := e.history(v, 0); len(h) != 0 {
		t.Errorf("refused uploads are in the history: %+v", h)
	}

	// exactly 5 MiB is fine; a file name is never kept, however long or odd
	exact := append(bytes.Clone(pngPhoto), make([]byte, bot.MaxUpload-len(pngPhoto))...)
	if res := e.upload(v, with(file("image/png", exact))...); res.code != http.StatusOK {
		t.Errorf("exactly %d bytes: %d %q", bot.MaxUpload, res.code, res.body.Error)
	}
	for _, name := range []string{strings.Repeat("ả", 20000) + ".png", "../../etc/passwd", "a\u202egnp.exe", "👨‍👩‍👧.png"} {
		p := file("image/png", pngPhoto)
		p.filename = name
		if res := e.upload(v, with(p)...); res.code != http.StatusOK {
			t.Errorf("file name %.20q: %d %q", name, res.code, res.body.Error)
		}
	}
	for _, up := range e.uploads.all() {
		if up.MIME != "image/png" {
			t.Errorf("kept as %q", up.MIME)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "passwd") || strings.Contains(logs, "<script>") {
		t.Error("an upload's name or bytes reached the logs")
	}
}

// A flood of uploads from one visitor is limited like messages (429 with
// Retry-After); what is accepted is kept once each.
func TestUploadFlood(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			res := e.upload(v, field("id", newMsgID()), field("seq", fmt.Sprint(i+1)), file("image/png", pngPhoto))
			if res.code == http.StatusTooManyRequests && res.retry == "" {
				t.Error("429 without Retry-After")
			}
			mu.Lock()
			codes[res.code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusOK] == 0 || codes[http.StatusOK] > 5 || codes[http.StatusTooManyRequests] != 30-codes[http.StatusOK] {
		t.Fatalf("answers %v, want at most the burst of 5 accepted and the rest 429", codes)
	}
	if n := len(e.uploads.all()); n != codes[http.StatusOK] {
		t.Fatalf("%d uploads kept, %d accepted", n, codes[http.StatusOK])
	}
}

func TestUploadStoreDown(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	e.uploads.err = errors.New("database down")
	res := e.upload(v, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto))
	if res.code != http.StatusServiceUnavailable || res.retry == "" {
		t.Fatalf("store down: %d Retry-After %q, want 503 with Retry-After", res.code, res.retry)
	}
	if len(e.core.inbounds()) != 0 {
		t.Fatal("an unstored photo reached the core")
	}
}

func TestMediaOnlyForItsVisitor(t *testing.T) {
	e := newEnv(t)
	v, other := e.visit(), e.visit()
	res := e.upload(v, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto))
	if res.code != http.StatusOK {
		t.Fatal(res.code)
	}
	id := res.body.Media.ID
	resp, body := e.media(v, id)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngPhoto) {
		t.Fatalf("owner: %d, %d bytes", resp.StatusCode, len(body))
	}
	for h, want := range map[string]string{
		"Content-Type":           "image/png",
		"X-Content-Type-Options": "nosniff",
		"Content-Disposition":    "inline",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") {
		t.Errorf("Cache-Control = %q, want private", cc)
	}
	// anyone else: the same plain 404 as for nothing at all
	_, nothing := e.media(v, strings.Repeat("0", 32))
	for name, get := range map[string][2]string{
		"other visitor":  {other, id},
		"no cookie":      {"", id},
		"forged cookie":  {VisitorID(v) + ".7.AAAAAAAAAAAAAAAAAAAAAA", id},
		"unknown id":     {v, strings.Repeat("0", 32)},
		"malformed id":   {v, "..%2F..%2Fetc"},
		"upper case id":  {v, strings.ToUpper(id)},
		"id with suffix": {v, id + ".png"},
	} {
		resp, body := e.media(get[0], get[1])
		if resp.StatusCode != http.StatusNotFound || !bytes.Equal(body, nothing) {
			t.Errorf("%s: %d %q, want the plain 404 %q", name, resp.StatusCode, body, nothing)
		}
	}
	// the store failing is not a 404
	e.uploads.err = errors.New("database down")
	if resp, _ := e.media(v, id); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("store down: %d, want 503", resp.StatusCode)
	}
}

func deliverMedia(e *env, visitor, id string, md bot.Media, text string) error {
	return e.a.Deliver(context.Background(), bot.Outbound{ID: id, Key: webKey(visitor), Text: text, Media: &md})
}

func TestDeliverTelegramPhoto(t *testing.T) {
	e := newEnv(t)
	v := e.visit()
	s := e.events(v, nil, "")
	e.fetcher.add("telegram:AgACphoto", jpegPhoto)
	md := bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgACphoto", Size: int64(len(jpegPhoto))}

	// Telegram is unreachable: retried (not rejected), nothing shown yet
	e.fetcher.fail = errors.New("getFile: connection refused")
	if err := deliverMedia(e, v, "tg/1", md, "Lan: làm như hình"); err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("fetch failure: %v, want a retryable error", err)
	}
	s.quiet(50 * time.Millisecond)
	e.fetcher.fail = nil
	for range 2 { // the retry, and a retry after a crash: shown and kept once
		if err := deliverMedia(e, v, "tg/1", md, "Lan: làm như hình"); err != nil {
			t.Fatal(err)
		}
	}
	_, m := s.next()
	if m.ID != "tg/1" || m.From != fromBot || m.Text != "Lan: làm như hình" || m.Media == nil || m.Media.MIME != "image/jpeg" || m.Note != "" {
		t.Fatalf("event = %+v", m)
	}
	s.quiet(50 * time.Millisecond)
	if n := len(e.uploads.all()); n != 1 {
		t.Fatalf("%d uploads kept", n)
	}
	resp, body := e.media(v, m.Media.ID)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, jpegPhoto) || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("the visitor reads their photo: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := e.media(e.visit(), m.Media.ID); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another visitor reads it: %d", resp.StatusCode)
	}
}

// Files the page cannot show are delivered as their text with a notice,
// and reported rejected so the sender does not retry them.
func TestDeliverRejectedMedia(t *testing.T) {
	e := newEnv(t)
	v, other := e.visit(), e.visit()
	e.fetcher.add("telegram:AgACbig", append(bytes.Clone(pngPhoto), make([]byte, bot.MaxUpload)...))
	e.fetcher.add("telegram:BQACpdf", []byte("%PDF-1.7\n"))
	e.fetcher.add("telegram:AgACempty", nil)
	calls := e.fetcher.calls
	cases := []struct {
		id   string
		md   bot.Media
		note string
	}{
		{"r/1", bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgACbig"}, noteTooBig},
		{"r/2", bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgACbig", Size: 20 << 20}, noteTooBig},
		{"r/3", bot.Media{Kind: bot.MediaDocument, Ref: "telegram:BQACpdf", MIME: "image/png"}, noteUnsupported},
		{"r/4", bot.Media{Kind: bot.MediaVideo, Ref: "telegram:BAACvideo", MIME: "video/mp4"}, noteUnsupported},
		{"r/5", bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgACempty"}, noteUnsupported},
		{"r/6", bot.Media{Kind: bot.MediaPhoto, Ref: "web:" + strings.Repeat("0", 32)}, noteUnavailable},
		{"r/7", bot.Media{Kind: bot.MediaPhoto, Ref: "zalo:123"}, noteUnavailable},
		{"r/8", bot.Media{Kind: bot.MediaPhoto}, noteUnavailable},
	}
	for _, c := range cases {
		err := deliverMedia(e, v, c.id, c.md, "Lan: "+c.id)
		if !errors.Is(err, bot.ErrRejected) {
			t.Errorf("%s: %v, want ErrRejected", c.id, err)
		}
	}
	h := e.history(v, 0)
	if len(h) != len(cases) {
		t.Fatalf("history has %d messages, want %d", len(h), len(cases))
	}
	for i, c := range cases {
		if h[i].ID != c.id || h[i].Text != "Lan: "+c.id || h[i].Note != c.note || h[i].Media != nil {
			t.Errorf("%s shown as %+v, want its text and note %q", c.id, h[i], c.note)
		}
	}
	if n := e.fetcher.calls - calls; n != 3 {
		t.Errorf("%d fetches, want 3 (not for what says it is too big or not an image)", n)
	}
	if n := len(e.uploads.all()); n != 0 {
		t.Errorf("rejected files kept: %d", n)
	}
	// the page shows every notice in both languages
	for _, c := range cases {
		if e.a.locale["vi"][c.note] == "" || e.a.locale["en"][c.note] == "" {
			t.Errorf("no text for notice %q", c.note)
		}
	}

	// another visitor's upload is copied, never shared
	res := e.upload(other, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto))
	if err := deliverMedia(e, v, "copy/1", bot.Media{Kind: bot.MediaPhoto, Ref: "web:" + res.body.Media.ID}, ""); err != nil {
		t.Fatal(err)
	}
	last := e.history(v, 0)[len(cases)]
	if last.Media == nil || last.Media.ID == res.body.Media.ID {
		t.Fatalf("copy = %+v", last.Media)
	}
	if resp, body := e.media(v, last.Media.ID); resp.StatusCode != http.StatusOK || !bytes.Equal(body, pngPhoto) {
		t.Fatalf("the copy: %d", resp.StatusCode)
	}
	if resp, _ := e.media(v, res.body.Media.ID); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the original is readable by the recipient: %d", resp.StatusCode)
	}
	// the visitor's own upload is referenced as it is
	mine := e.upload(v, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto))
	if err := deliverMedia(e, v, "own/1", bot.Media{Kind: bot.MediaPhoto, Ref: "web:" + mine.body.Media.ID}, ""); err != nil {
		t.Fatal(err)
	}
	if h := e.history(v, 0); h[len(h)-1].Media == nil || h[len(h)-1].Media.ID != mine.body.Media.ID {
		t.Fatalf("own upload delivered as %+v", h[len(h)-1].Media)
	}

	// the store failing is retried
	e.uploads.err = errors.New("database down")
	e.fetcher.add("telegram:AgACok", pngPhoto)
	if err := deliverMedia(e, v, "down/1", bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgACok"}, ""); err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("store down: %v, want a retryable error", err)
	}
}

// Without an upload store (or a fetcher) a photo is its text and a notice.
func TestDeliverMediaWithoutUploads(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Uploads, c.Media = nil, nil })
	v := e.visit()
	err := deliverMedia(e, v, "x/1", bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgAC"}, "xem ảnh")
	if !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("%v, want ErrRejected", err)
	}
	if h := e.history(v, 0); len(h) != 1 || h[0].Note != noteUnavailable || h[0].Text != "xem ảnh" {
		t.Fatalf("history = %+v", h)
	}
	if res := e.upload(v, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto)); res.code != http.StatusNotFound {
		t.Fatalf("upload without a store: %d", res.code)
	}
	if resp, _ := e.media(v, strings.Repeat("a", 32)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("media without a store: %d", resp.StatusCode)
	}
}

// FuzzUpload posts any body, content type and query to /chat/api/upload as
// a visitor the page issued: every answer is one the endpoint documents,
// never 5xx (the fakes do not fail); a photo is kept and reaches the core
// only when answered 200, and what is kept is a JPEG, PNG or WebP by its
// bytes.
func FuzzUpload(f *testing.F) {
	mp := func(parts ...part) (string, []byte) { return multipartBody(&testing.T{}, parts...) }
	ct, body := mp(field("id", "abcdefgh1"), field("seq", "1"), file("image/png", pngPhoto))
	f.Add(ct, body, "")
	ct, body = mp(field("id", "abcdefgh2"), field("seq", "1"), field("caption", "ảnh\u202e"), file("image/png", []byte("<svg/>")))
	f.Add(ct, body, "")
	f.Add("image/png", jpegPhoto, "id=abcdefgh3&seq=2&caption=%F0%9F%87%BB%F0%9F%87%B3")
	f.Add("image/webp", webpPhoto, "id=abcdefgh4&seq=1&seq=2")
	f.Add("multipart/form-data; boundary=", []byte("--\r\n"), "")
	f.Add("multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\x89PNG\r\n\x1a\n\r\n--x--\r\n"), "")
	f.Add("", []byte{}, "id=abcdefgh5&seq=9223372036854775807")
	f.Add("text/plain", []byte("GIF89a"), "id=abcdefgh6&seq=1")

	hist, uploads, core := &memHistory{}, newMemUploads(), &fakeCore{}
	a, err := New(Config{Rate: 1e9, Burst: 1 << 30, Keepalive: time.Hour, NewVisitorRate: 1e9, NewVisitorBurst: 1 << 30,
		AddrRate: 1e9, AddrBurst: 1 << 30, Keys: testKeys, Uploads: uploads, MaxUpload: 1 << 16},
		core, hist, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	page := httptest.NewRecorder()
	a.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/chat", nil))
	cookie := page.Result().Cookies()[0]

	f.Fuzz(func(t *testing.T, ctype string, body []byte, query string) {
		before, calls := len(uploads.all()), len(core.inbounds())
		req := httptest.NewRequest(http.MethodPost, "/chat/api/upload", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Origin", "http://example.com")
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		req.AddCookie(cookie)
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
		got := core.inbounds()[calls:]
		if rec.Code != http.StatusOK {
			if len(got) != 0 || len(uploads.all()) != before {
				t.Fatalf("a refused upload (%d) was kept or handled", rec.Code)
			}
			return
		}
		if len(got) != 1 || got[0].Kind != bot.InMedia || got[0].Media == nil || !strings.HasPrefix(got[0].Media.Ref, "web:") {
			t.Fatalf("an accepted upload reached the core as %+v", got)
		}
		up, err := uploads.Upload(context.Background(), strings.TrimPrefix(got[0].Media.Ref, "web:"))
		if err != nil || sniffPhoto(up.Data) != up.MIME || up.MIME == "" || len(up.Data) > 1<<16 {
			t.Fatalf("kept %s, %d bytes, %v", up.MIME, len(up.Data), err)
		}
		if got[0].Text != strings.TrimSpace(bot.CleanText(got[0].Text)) {
			t.Fatalf("caption not cleaned: %q", got[0].Text)
		}
	})
}

// slowReader hands out its bytes a few at a time, pausing between reads:
// a phone on a weak connection.
type slowReader struct {
	data  []byte
	chunk int
	pause time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause)
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// An upload that takes longer than the server's read timeout (a photo over
// a slow rural connection) still arrives: the upload extends its own read
// deadline.
func TestSlowUploadOutlastsTheReadTimeout(t *testing.T) {
	e := newEnv(t)
	slow := httptest.NewUnstartedServer(e.a)
	slow.Config.ReadTimeout = 300 * time.Millisecond
	slow.Start()
	t.Cleanup(slow.Close)
	v := e.visit()
	ctype, body := multipartBody(t, field("id", newMsgID()), field("seq", "1"), file("image/png", pngPhoto))
	req, _ := http.NewRequest(http.MethodPost, slow.URL+"/chat/api/upload", &slowReader{data: body, chunk: max(len(body)/8, 1), pause: 150 * time.Millisecond})
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Origin", wardOrigin)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: v})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a slow upload was cut off: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("a slow upload answered %d: %s", resp.StatusCode, b)
	}
}
