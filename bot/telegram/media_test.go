package telegram

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

func mediaOut(kind bot.MediaKind, ref, text string, buttons ...[]bot.Button) bot.Outbound {
	out := outbound(text, buttons...)
	out.Media = &bot.Media{Kind: kind, Ref: ref}
	return out
}

func TestDeliverMedia(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		kind   bot.MediaKind
		method string
		text   string
	}{
		{bot.MediaPhoto, "sendPhoto", "Ảnh **lỗi** <ngay> & 🙂"},
		{bot.MediaDocument, "sendDocument", ""},
		{bot.MediaVoice, "sendVoice", "nghe"},
		{bot.MediaAudio, "sendAudio", "  \n"},
		{bot.MediaVideo, "sendVideo", "xem"},
	}
	for i, tt := range tests {
		fileID := "AgAC-" + strconv.Itoa(i) + "_x"
		out := mediaOut(tt.kind, "telegram:"+fileID, tt.text, []bot.Button{{Text: "Về menu", Data: "nav:menu"}})
		if err := f.a.Deliver(context.Background(), out); err != nil {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		sent := f.api.Sent()
		m := sent[len(sent)-1]
		wantCaption := ""
		if strings.TrimSpace(tt.text) != "" {
			wantCaption = ToHTML(tt.text)
		}
		if m.Method != tt.method || m.ChatID != "42" || m.File == nil || m.File.FileID != fileID || m.File.Uploaded ||
			m.Text != wantCaption || len(m.Keyboard) != 1 || m.Keyboard[0][0].CallbackData != "nav:menu" {
			t.Fatalf("%s: sent %+v (file %+v)", tt.kind, m, m.File)
		}
	}
	if p := f.api.Sent()[0]; p.Plain != "Ảnh lỗi <ngay> & 🙂" || p.ParseMode != "HTML" {
		t.Fatalf("caption reads %q (%s)", p.Plain, p.ParseMode)
	}
	// exactly at the caption limit is fine
	if err := f.a.Deliver(context.Background(), mediaOut(bot.MediaPhoto, "telegram:x", "**"+strings.Repeat("🙂", 512)+"**")); err != nil {
		t.Fatalf("1024-unit caption: %v", err)
	}
}

func TestDeliverMediaRefused(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		out  bot.Outbound
	}{
		{"sticker", mediaOut(bot.MediaSticker, "telegram:CAAC", "")},
		{"location", mediaOut(bot.MediaLocation, "", "")},
		{"contact", mediaOut(bot.MediaContact, "", "")},
		{"other", mediaOut(bot.MediaOther, "telegram:x", "")},
		{"unknown kind", mediaOut("hologram", "telegram:x", "")},
		{"empty kind", mediaOut("", "telegram:x", "")},
		{"caption over 1024 units", mediaOut(bot.MediaPhoto, "telegram:x", strings.Repeat("🙂", 513))},
		{"huge caption", mediaOut(bot.MediaDocument, "telegram:x", strings.Repeat("chữ ", 100000))},
		{"file id with a path", mediaOut(bot.MediaPhoto, "telegram:a/../b", "")},
		{"file id with odd unicode", mediaOut(bot.MediaPhoto, "telegram:ảnh\u202e", "")},
		{"empty file id", mediaOut(bot.MediaPhoto, "telegram:", "")},
		{"no ref", mediaOut(bot.MediaPhoto, "", "")},
		{"web ref without a source", mediaOut(bot.MediaPhoto, "web:abc", "")},
		{"bad buttons", mediaOut(bot.MediaPhoto, "telegram:x", "", []bot.Button{{Text: "x"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.a.Deliver(context.Background(), tt.out)
			if !errors.Is(err, ErrInvalidMessage) || !errors.Is(err, bot.ErrRejected) {
				t.Fatalf("%v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d requests for refused media", n)
	}
}

// source is a MediaSource of in-memory files, recording what it closed.
type source struct {
	mu     sync.Mutex
	files  map[string]bot.Media
	data   map[string][]byte
	err    error
	opened int
	closed int
}

type closer struct {
	io.Reader
	s *source
}

func (c closer) Close() error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.closed++
	return nil
}

func (s *source) OpenMedia(_ context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return bot.Media{}, nil, s.err
	}
	md, ok := s.files[ref]
	if !ok {
		return bot.Media{}, nil, errors.New("no such upload")
	}
	s.opened++
	return md, closer{bytes.NewReader(s.data[ref]), s}, nil
}

func TestDeliverMediaUpload(t *testing.T) {
	src := &source{
		files: map[string]bot.Media{
			"web:1": {Kind: bot.MediaDocument, Name: "đơn\n\"xin\"/../việc.pdf\u202e", Size: 9},
			"web:2": {Kind: bot.MediaPhoto},
			"web:3": {Kind: bot.MediaPhoto, Size: MaxUploadPhoto + 1},
			"web:5": {Kind: bot.MediaPhoto},
		},
		data: map[string][]byte{"web:1": []byte("%PDF-1.4\n"), "web:2": []byte("\x89PNG"), "web:5": []byte("\x89PNG")},
	}
	f := newFixtureWith(t, nil, nil, nil, WithMediaSource(src))
	ctx := context.Background()
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaDocument, "web:1", "Đơn của **bác**")); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:2", "")); err != nil {
		t.Fatal(err)
	}
	sent := f.api.MediaSent()
	if len(sent) != 2 {
		t.Fatalf("sent %+v", sent)
	}
	d, p := sent[0], sent[1]
	if d.Method != "sendDocument" || !d.File.Uploaded || string(d.File.Data) != "%PDF-1.4\n" || d.File.Name != "đơn _xin__.._việc.pdf" || d.Plain != "Đơn của bác" {
		t.Fatalf("document %+v %+v", d, d.File)
	}
	if p.Method != "sendPhoto" || !p.File.Uploaded || p.File.Name != "photo" || p.File.Size != 4 {
		t.Fatalf("photo %+v %+v", p, p.File)
	}
	// over Telegram's upload limit: refused, and closed
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:3", "")); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("photo over 10 MB: %v", err)
	}
	// the same file again goes by the file_id Telegram gave it
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:2", "again")); err != nil {
		t.Fatal(err)
	}
	if again := f.api.MediaSent()[2]; again.File.Uploaded || again.File.FileID != p.File.FileID {
		t.Fatalf("second send of one file: %+v, want file_id %s", again.File, p.File.FileID)
	}
	// the source failing is worth retrying, unless it says otherwise
	src.err = errors.New("store down")
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:4", "")); err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("source down: %v", err)
	}
	src.err = bot.ErrRejected
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:4", "")); !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("source refusing: %v", err)
	}
	src.err = nil
	// Telegram refusing an upload still closes it
	f.api.FailNext("sendPhoto", "42", telegramtest.TooManyRequests(3))
	var ra *bot.RetryAfterError
	if err := f.a.Deliver(ctx, mediaOut(bot.MediaPhoto, "web:5", "")); !errors.As(err, &ra) || ra.After != 3*time.Second {
		t.Fatalf("429: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.opened != 4 || src.closed != 4 {
		t.Fatalf("opened %d, closed %d", src.opened, src.closed)
	}
}

func TestDeliverMediaErrorMapping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	out := mediaOut(bot.MediaVoice, "telegram:AwAC", "")
	var ra *bot.RetryAfterError
	f.api.FailNext("sendVoice", "42", telegramtest.TooManyRequests(5))
	if err := f.a.Deliver(ctx, out); !errors.As(err, &ra) || ra.After != 5*time.Second {
		t.Fatalf("429: %v", err)
	}
	f.api.FailNext("sendVoice", "42", telegramtest.Blocked())
	if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("403: %v", err)
	}
	f.api.FailNext("sendVoice", "42", telegramtest.Failure{Status: 400, Description: "Bad Request: wrong file identifier/HTTP URL specified"})
	if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrRejected) || !strings.Contains(err.Error(), "sendVoice") {
		t.Fatalf("400: %v", err)
	}
	f.api.FailNext("sendVoice", "42", telegramtest.ServerError())
	if err := f.a.Deliver(ctx, out); err == nil || errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("500: %v", err)
	}
}

func TestFetchMedia(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("\x89PNG"), 100) // 400 bytes
	f.api.AddFile("AgAC", data)
	rc, size, err := f.a.FetchMedia(ctx, "telegram:AgAC", 400)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) || size != 400 {
		t.Fatalf("read %d bytes (size %d): %v", len(got), size, err)
	}
	if _, _, err := f.a.FetchMedia(ctx, "telegram:AgAC", 399); !errors.Is(err, ErrFileTooLarge) || !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("over max: %v", err)
	}
	for _, ref := range []string{"web:1", "telegram:", "telegram:a/b", "AgAC", "telegram:ảnh"} {
		if _, _, err := f.a.FetchMedia(ctx, ref, 1000); !errors.Is(err, bot.ErrRejected) {
			t.Errorf("ref %q: %v", ref, err)
		}
	}
	if _, _, err := f.a.FetchMedia(ctx, "telegram:unknown", 1000); !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("unknown file: %v", err)
	}
	if _, _, err := f.a.FetchMedia(ctx, "telegram:AgAC", 0); !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("max 0: %v", err)
	}
	f.api.FailNext("getFile", "", telegramtest.TooManyRequests(2))
	var ra *bot.RetryAfterError
	if _, _, err := f.a.FetchMedia(ctx, "telegram:AgAC", 1000); !errors.As(err, &ra) {
		t.Fatalf("429: %v", err)
	}
	if n := len(f.api.CallsTo("getFile")); n != 4 {
		t.Fatalf("%d getFile calls; refs that are not Telegram's must not reach the API", n)
	}
}

// lyingFiles serves file downloads with more bytes than getFile announced,
// and passes Bot API calls on.
type lyingFiles struct {
	body          []byte
	contentLength int64 // -1: not sent
}

func (l lyingFiles) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/file/") {
		return http.DefaultTransport.RoundTrip(r)
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Header: http.Header{}, ContentLength: l.contentLength,
		Body: io.NopCloser(bytes.NewReader(l.body)), Request: r,
	}, nil
}

func TestFetchMediaLyingServer(t *testing.T) {
	for _, cl := range []int64{-1, 10} {
		lie := lyingFiles{body: bytes.Repeat([]byte("x"), 5000), contentLength: cl}
		f := newFixtureWith(t, nil, nil, nil, WithHTTPClient(&http.Client{Transport: lie}))
		f.api.AddFile("AgAC", []byte("0123456789")) // getFile says 10 bytes
		rc, _, err := f.a.FetchMedia(context.Background(), "telegram:AgAC", 100)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if !errors.Is(err, ErrFileTooLarge) || len(got) != 100 {
			t.Fatalf("content-length %d: read %d bytes, %v", cl, len(got), err)
		}
	}
	// a download announced as larger than max is refused before reading
	lie := lyingFiles{body: bytes.Repeat([]byte("x"), 5000), contentLength: 5000}
	f := newFixtureWith(t, nil, nil, nil, WithHTTPClient(&http.Client{Transport: lie}))
	f.api.AddFile("AgAC", []byte("0123456789"))
	if _, _, err := f.a.FetchMedia(context.Background(), "telegram:AgAC", 100); !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("announced 5000 bytes: %v", err)
	}
}

// A failing download never quotes the token (it is in the URL).
func TestFetchMediaErrorsHideToken(t *testing.T) {
	f := newFixtureWith(t, nil, nil, nil, WithHTTPClient(&http.Client{Transport: failingFiles{}}))
	f.api.AddFile("AgAC", []byte("x"))
	_, _, err := f.a.FetchMedia(context.Background(), "telegram:AgAC", 100)
	if err == nil || strings.Contains(err.Error(), f.api.Token()) || strings.Contains(err.Error(), f.api.Token()[11:]) {
		t.Fatalf("error %v", err)
	}
}

type failingFiles struct{}

func (failingFiles) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/file/") {
		return nil, errors.New("connection reset")
	}
	return http.DefaultTransport.RoundTrip(r)
}
