package oa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

// The adapter is what the core and cmd/gocua take it for.
var (
	_ bot.Deliverer = (*Adapter)(nil)
	_ http.Handler  = (*Adapter)(nil)
	_ MediaSource   = (*Adapter)(nil)
	_ Fetcher       = (*telegram.Adapter)(nil)
)

var (
	jpegBytes = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{7}, 2000)...)
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{9}, 500)...)
)

func TestDeliverText(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	if err := f.a.Deliver(context.Background(), outbound("u1/0", user, "Bác bấm **Cài đặt** rồi chờ 🙂")); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(user)
	if len(sent) != 1 || sent[0].Text != "Bác bấm Cài đặt rồi chờ 🙂" || sent[0].Buttons != nil {
		t.Fatalf("sent %+v", sent)
	}
	calls := f.api.CallsTo(oatest.PathCS)
	if len(calls) != 1 {
		t.Fatalf("%d cs calls", len(calls))
	}
	h := calls[0].Header
	if h.Get("access_token") != f.api.AccessToken() || h.Get("Authorization") != "" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
	// the first send refreshed the configured seed: one OAuth call
	if n := f.api.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes", n)
	}
	tok := f.tokens.get("zalo-oa:" + oatest.AppID)
	if tok.Access != f.api.AccessToken() || tok.Refresh != f.api.CurrentRefreshToken() || tok.Seed != seedHash(oatest.RefreshToken) {
		t.Fatalf("stored pair %+v", tok)
	}
	want := []string{"sending " + user + " true", "own " + user + " " + sent[0].MessageID, "sending " + user + " false"}
	if got := f.own.log(); !slices.Equal(got, want) {
		t.Fatalf("own-message calls %q, want %q", got, want)
	}
}

func units(s string) int { return len(utf16.Encode([]rune(s))) }

// 2,500 characters go out as two messages of at most 2,000, cut at a
// word, nothing lost.
func TestDeliverSplitsLongText(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	var b strings.Builder
	for b.Len() == 0 || units(b.String()) < 2500 {
		b.WriteString("Bác mở ứng dụng VNeID 📱 ")
	}
	text := strings.TrimSpace(b.String())
	if err := f.a.Deliver(context.Background(), outbound("u1/0", user, text, []bot.Button{{Text: "Tiếp", Data: "s:next"}})); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(user)
	if len(sent) != 2 || len(f.api.CallsTo(oatest.PathCS)) != 2 {
		t.Fatalf("%d messages", len(sent))
	}
	for _, m := range sent {
		if n := units(m.Text); n > MaxText {
			t.Fatalf("a message is %d units", n)
		}
	}
	if got := sent[0].Text + " " + sent[1].Text; got != text {
		t.Fatal("text changed in the split")
	}
	if sent[0].Buttons != nil || len(sent[1].Buttons) != 1 {
		t.Fatalf("buttons not on the last part: %+v", sent)
	}
}

// Seven choices: five on the message, two on a follow-up under the
// locale's "menu_more" text, in the resident's language.
func TestDeliverPaginatesButtons(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	var rows [][]bot.Button
	for i := range 7 {
		rows = append(rows, []bot.Button{{Text: fmt.Sprintf("Mục %d", i+1), Data: fmt.Sprintf("s:%d", i+1)}})
	}
	out := outbound("u1/0", user, "Bác chọn việc cần làm", rows...)
	out.Lang = "en"
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(user)
	if len(sent) != 2 {
		t.Fatalf("%d messages", len(sent))
	}
	if sent[0].Text != "Bác chọn việc cần làm" || len(sent[0].Buttons) != 5 || sent[1].Text != "[en:menu_more]" || len(sent[1].Buttons) != 2 {
		t.Fatalf("sent %+v", sent)
	}
	for i, b := range append(sent[0].Buttons, sent[1].Buttons...) {
		if b.Type != "oa.query.hide" || b.Payload != fmt.Sprintf("#gc:s:%d", i+1) || b.Title != fmt.Sprintf("Mục %d", i+1) {
			t.Fatalf("button %d: %+v", i, b)
		}
	}
	// without a language, Vietnamese
	out.ID, out.Lang = "u2/0", ""
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if s := f.api.Sent(user); s[3].Text != "[vi:menu_more]" {
		t.Fatalf("follow-up text %q", s[3].Text)
	}
}

func TestDeliverLinkButtonAndTitles(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	long := strings.Repeat("Thủ tục hộ tịch ", 12)
	err := f.a.Deliver(context.Background(), outbound("u1/0", user, "Bác xem",
		[]bot.Button{{Text: "Cổng **DVC**", URL: "https://dichvucong.gov.vn"}, {Text: long, Data: "s:x"}}))
	if err != nil {
		t.Fatal(err)
	}
	b := f.api.Sent(user)[0].Buttons
	if len(b) != 2 || b[0] != (oatest.Button{Title: "Cổng DVC", Type: "oa.open.url", URL: "https://dichvucong.gov.vn"}) {
		t.Fatalf("buttons %+v", b)
	}
	if n := units(b[1].Title); n > MaxButtonTitle || !strings.HasSuffix(b[1].Title, "…") || !strings.HasPrefix(long, strings.TrimSuffix(b[1].Title, "…")) {
		t.Fatalf("title %q (%d units)", b[1].Title, n)
	}
}

// Messages Zalo would refuse as they are, or that the adapter cannot send,
// wrap bot.ErrRejected and cost no call.
func TestDeliverRejectsInvalidMessages(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	tests := []struct {
		name string
		out  bot.Outbound
	}{
		{"no text", outbound("1", user, " \n ")},
		{"button without text", outbound("2", user, "x", []bot.Button{{Text: " ", Data: "s:1"}})},
		{"button without data or URL", outbound("3", user, "x", []bot.Button{{Text: "a"}})},
		{"button data too long", outbound("4", user, "x", []bot.Button{{Text: "a", Data: strings.Repeat("d", MaxButtonPayload)}})},
		{"not an http link", outbound("5", user, "x", []bot.Button{{Text: "a", URL: "tel:1900"}})},
		{"a sticker", bot.Outbound{ID: "6", Key: key(user), Text: "x", Media: &bot.Media{Kind: bot.MediaSticker}}},
		{"a document", bot.Outbound{ID: "7", Key: key(user), Media: &bot.Media{Kind: bot.MediaDocument, Ref: "telegram:abc"}}},
		{"a photo without a ref", bot.Outbound{ID: "8", Key: key(user), Media: &bot.Media{Kind: bot.MediaPhoto}}},
		{"another channel", bot.Outbound{ID: "9", Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}, Text: "x"}},
		{"a malformed user id", bot.Outbound{ID: "10", Key: key("12/../34"), Text: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.a.Deliver(context.Background(), tt.out)
			if !errors.Is(err, bot.ErrRejected) {
				t.Fatalf("err %v, want ErrRejected", err)
			}
		})
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d calls for invalid messages", n)
	}
}

// fakeMedia is a MediaSource for web chat uploads.
type fakeMedia struct {
	files map[string][]byte
	opens int
}

func (m *fakeMedia) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	m.opens++
	b, ok := m.files[ref]
	if !ok {
		return bot.Media{}, nil, bot.ErrNoUpload
	}
	return bot.Media{Kind: bot.MediaPhoto, Ref: ref, Size: int64(len(b))}, io.NopCloser(bytes.NewReader(b)), nil
}

// fakeFetcher stands for the Telegram adapter.
type fakeFetcher struct {
	files map[string][]byte
	max   []int64
}

func (f *fakeFetcher) FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error) {
	f.max = append(f.max, max)
	b, ok := f.files[ref]
	if !ok {
		return nil, 0, fmt.Errorf("no such file: %w", bot.ErrRejected)
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

// A photo is uploaded once and its attachment id used again, for a while.
func TestDeliverPhotoUploadedOnce(t *testing.T) {
	media := &fakeMedia{files: map[string][]byte{"web:0123": jpegBytes}}
	f := newFixture(t, nil, nil, WithMedia(media))
	ctx := context.Background()
	photo := &bot.Media{Kind: bot.MediaPhoto, Ref: "web:0123"}
	for i, user := range []string{oatest.UserID(1), oatest.UserID(2)} {
		out := bot.Outbound{ID: fmt.Sprintf("b/%d", i), Key: key(user), Text: "Lịch hỗ trợ **thứ Bảy**", Media: photo}
		if err := f.a.Deliver(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	ups := f.api.Uploads()
	if len(ups) != 1 || !bytes.Equal(ups[0].Data, jpegBytes) || media.opens != 1 {
		t.Fatalf("%d uploads, %d opens", len(ups), media.opens)
	}
	for _, user := range []string{oatest.UserID(1), oatest.UserID(2)} {
		s := f.api.Sent(user)
		if len(s) != 1 || s[0].AttachmentID != ups[0].AttachmentID || s[0].Text != "Lịch hỗ trợ thứ Bảy" {
			t.Fatalf("sent %+v", s)
		}
	}
	// after 6 days the id is not trusted any more
	f.clock.Add(6*24*time.Hour + time.Minute)
	if err := f.a.Deliver(ctx, bot.Outbound{ID: "b/3", Key: key(oatest.UserID(3)), Media: photo}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.api.Uploads()); n != 2 {
		t.Fatalf("%d uploads after 6 days, want 2", n)
	}
}

// A photo with buttons goes first, then its text with the buttons.
func TestDeliverPhotoWithButtons(t *testing.T) {
	media := &fakeMedia{files: map[string][]byte{"web:1": pngBytes}}
	f := newFixture(t, nil, nil, WithMedia(media))
	user := oatest.UserID(1)
	out := bot.Outbound{ID: "b/0", Key: key(user), Text: "Thông báo", Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "web:1"},
		Buttons: [][]bot.Button{{{Text: "Ngừng nhận", Data: "b:stop"}}}}
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	s := f.api.Sent(user)
	if len(s) != 2 || s[0].AttachmentID == "" || s[0].Text != "" || s[1].Text != "Thông báo" || len(s[1].Buttons) != 1 {
		t.Fatalf("sent %+v", s)
	}
	if up := f.api.Uploads(); up[0].ContentType != "image/png" || up[0].Name != "photo.png" {
		t.Fatalf("upload %+v", up[0])
	}
}

// A volunteer's Telegram photo is fetched from Telegram and uploaded.
func TestDeliverPhotoFromTelegram(t *testing.T) {
	fetch := &fakeFetcher{files: map[string][]byte{"telegram:AgAD": jpegBytes}}
	f := newFixture(t, nil, nil, WithFetcher(fetch))
	user := oatest.UserID(1)
	out := bot.Outbound{ID: "r/0", Key: key(user), Text: "ảnh từ tình nguyện viên", Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgAD"}}
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if len(fetch.max) != 1 || fetch.max[0] != MaxImage {
		t.Fatalf("fetched with limits %v", fetch.max)
	}
	if s := f.api.Sent(user); len(s) != 1 || !bytes.Equal(s[0].Image, jpegBytes) {
		t.Fatalf("sent %+v", s)
	}
}

// Zalo forgets uploads: -100 uploads the photo again, once.
func TestDeliverPhotoExpiredAttachment(t *testing.T) {
	media := &fakeMedia{files: map[string][]byte{"web:1": jpegBytes}}
	f := newFixture(t, nil, nil, WithMedia(media))
	ctx := context.Background()
	photo := &bot.Media{Kind: bot.MediaPhoto, Ref: "web:1"}
	if err := f.a.Deliver(ctx, bot.Outbound{ID: "1", Key: key(oatest.UserID(1)), Media: photo}); err != nil {
		t.Fatal(err)
	}
	f.api.ExpireAttachment(f.api.Uploads()[0].AttachmentID)
	if err := f.a.Deliver(ctx, bot.Outbound{ID: "2", Key: key(oatest.UserID(2)), Media: photo}); err != nil {
		t.Fatal(err)
	}
	ups := f.api.Uploads()
	if len(ups) != 2 {
		t.Fatalf("%d uploads, want 2", len(ups))
	}
	if s := f.api.Sent(oatest.UserID(2)); len(s) != 1 || s[0].AttachmentID != ups[1].AttachmentID {
		t.Fatalf("sent %+v", s)
	}
	// still expired after the new upload: refused, not retried forever
	f.api.FailNext(-100, -100)
	err := f.a.Deliver(ctx, bot.Outbound{ID: "3", Key: key(oatest.UserID(3)), Media: photo})
	if !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("err %v", err)
	}
	if n := len(f.api.Uploads()); n != 3 {
		t.Fatalf("%d uploads, want 3", n)
	}
}

func TestDeliverPhotoRefused(t *testing.T) {
	media := &fakeMedia{files: map[string][]byte{
		"web:big":  append(slices.Clone(jpegBytes), make([]byte, MaxImage)...),
		"web:webp": []byte("RIFF\x00\x00\x00\x00WEBPVP8 " + strings.Repeat("x", 100)),
	}}
	f := newFixture(t, nil, nil, WithMedia(media))
	for _, ref := range []string{"web:big", "web:webp", "web:gone", "telegram:nofetcher"} {
		err := f.a.Deliver(context.Background(), bot.Outbound{ID: ref, Key: key(oatest.UserID(1)), Media: &bot.Media{Kind: bot.MediaPhoto, Ref: ref}})
		if !errors.Is(err, bot.ErrRejected) {
			t.Fatalf("%s: err %v, want ErrRejected", ref, err)
		}
	}
	if len(f.api.Uploads()) != 0 || len(f.api.AllSent()) != 0 {
		t.Fatal("refused photos were sent")
	}
}

// Zalo's error codes become the core's vocabulary; only -216/-220 are
// retried here (after a refresh).
func TestDeliverErrorMapping(t *testing.T) {
	f := newFixture(t, nil, nil)
	ctx := context.Background()
	user := oatest.UserID(1)
	if err := f.a.Deliver(ctx, outbound("prime", user, "x")); err != nil {
		t.Fatal(err)
	}
	var ra *bot.RetryAfterError
	tests := []struct {
		name   string
		code   int
		status int
		check  func(error) bool
		fix    string // what the error must tell the operator
	}{
		{"outside the window", -230, 0, func(err error) bool { return errors.Is(err, bot.ErrWindow) && errors.Is(err, bot.ErrRejected) }, ""},
		{"interaction expired", -232, 0, func(err error) bool { return errors.Is(err, bot.ErrWindow) }, ""},
		{"rate limited", -32, 0, func(err error) bool { return errors.As(err, &ra) && ra.After == time.Minute }, ""},
		{"HTTP 429", 0, 429, func(err error) bool { return errors.As(err, &ra) && ra.After > 0 }, ""},
		{"not a follower", -213, 0, func(err error) bool { return errors.Is(err, bot.ErrUnreachable) }, ""},
		{"banned or inactive", -227, 0, func(err error) bool { return errors.Is(err, bot.ErrUnreachable) }, ""},
		{"restricted by the user", -244, 0, func(err error) bool { return errors.Is(err, bot.ErrUnreachable) }, ""},
		{"invalid parameter", -201, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) && !errors.Is(err, bot.ErrWindow) }, ""},
		{"unsupported message type", -233, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, ""},
		{"v2 API shut down", -240, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, ""},
		{"out of quota", -211, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "quota"},
		{"needs a tier package", -224, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "package"},
		{"missing permission", -223, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "permission"},
		{"needs a Zalo Cloud Account", -320, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "Zalo Cloud Account"},
		{"out of money", -321, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "credit"},
		{"OA disabled", -204, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "disabled"},
		{"OA missing", -205, 0, func(err error) bool { return errors.Is(err, bot.ErrRejected) }, "GOCUA_ZALO_OA_APP_ID"},
		{"server error", 0, 500, plainError, ""},
		{"bad gateway", 0, 502, plainError, ""},
		{"an unknown code", -999, 0, plainError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.api.CallsTo(oatest.PathCS))
			if tt.status != 0 {
				f.api.FailNextHTTP(tt.status)
			} else {
				f.api.FailNext(tt.code)
			}
			err := f.a.Deliver(ctx, outbound("e/"+tt.name, user, "xin chào"))
			if err == nil || !tt.check(err) {
				t.Fatalf("err %v", err)
			}
			if n := len(f.api.CallsTo(oatest.PathCS)) - before; n != 1 {
				t.Fatalf("%d calls, want 1 (no retry here)", n)
			}
			if tt.fix != "" {
				if !strings.Contains(err.Error(), tt.fix) {
					t.Fatalf("error does not tell the operator (%q): %v", tt.fix, err)
				}
				if !strings.Contains(f.logs.String(), fmt.Sprintf(`"level":"ERROR","msg":"zalo oa cannot send until the operator fixes this","code":%d`, tt.code)) {
					t.Fatalf("not logged loudly:\n%s", f.logs.String())
				}
			}
			var apiErr *APIError
			if tt.code != 0 && (!errors.As(err, &apiErr) || apiErr.Code != tt.code) {
				t.Fatalf("no APIError %d in %v", tt.code, err)
			}
		})
	}
	if n := f.api.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes, want the first one only", n)
	}
}

// plainError is an error the sender retries.
func plainError(err error) bool {
	var ra *bot.RetryAfterError
	return !errors.Is(err, bot.ErrRejected) && !errors.Is(err, bot.ErrUnreachable) && !errors.As(err, &ra)
}

// Zalo refusing the access token costs one refresh and one more call.
func TestDeliverRefreshesOnInvalidToken(t *testing.T) {
	for _, tt := range []struct {
		name   string
		refuse func(*oatest.Server)
	}{
		{"-216 answered", func(s *oatest.Server) { s.FailNext(-216) }},
		{"-220 answered", func(s *oatest.Server) { s.FailNext(-220) }},
		{"token killed on Zalo's side", func(s *oatest.Server) { s.ExpireAccess() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			ctx := context.Background()
			user := oatest.UserID(1)
			if err := f.a.Deliver(ctx, outbound("1", user, "một")); err != nil {
				t.Fatal(err)
			}
			tt.refuse(f.api)
			if err := f.a.Deliver(ctx, outbound("2", user, "hai")); err != nil {
				t.Fatal(err)
			}
			if n := f.api.Refreshes(); n != 2 {
				t.Fatalf("%d refreshes, want 2", n)
			}
			if n := len(f.api.CallsTo(oatest.PathCS)); n != 3 {
				t.Fatalf("%d cs calls, want 3", n)
			}
			if s := f.api.Sent(user); len(s) != 2 || s[1].Text != "hai" {
				t.Fatalf("sent %+v", s)
			}
			// refused again after the refresh: a plain error, no loop
			f.api.FailNext(-216, -216)
			err := f.a.Deliver(ctx, outbound("3", user, "ba"))
			if err == nil || !plainError(err) {
				t.Fatalf("err %v", err)
			}
			if n := f.api.Refreshes(); n != 3 {
				t.Fatalf("%d refreshes, want 3", n)
			}
		})
	}
}

// When a later part of a message fails, the retry sends only what is left.
func TestDeliverResumesAfterPartialFailure(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	text := strings.Repeat("Bác kiểm tra lại thông tin. ", 100) // two parts
	out := outbound("long/0", user, text)
	f.api.FailNextHTTP(0, 0, http.StatusBadGateway) // the prime and part 1 go through, part 2 fails
	if err := f.a.Deliver(context.Background(), outbound("prime", user, "x")); err != nil {
		t.Fatal(err)
	}
	if err := f.a.Deliver(context.Background(), out); err == nil || !plainError(err) {
		t.Fatalf("err %v", err)
	}
	// another resident's message with the same id starts from its beginning:
	// ids are unique per conversation only
	other := oatest.UserID(2)
	if err := f.a.Deliver(context.Background(), outbound("long/0", other, text)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.api.Sent(other)); n != 2 {
		t.Fatalf("the other resident got %d of 2 parts", n)
	}
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	s := f.api.Sent(user)
	if len(s) != 3 || s[1].Text == s[2].Text {
		t.Fatalf("sent %d messages: %+v", len(s), s)
	}
	// a message delivered in full starts from the beginning next time
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	if n := len(f.api.Sent(user)); n != 5 {
		t.Fatalf("%d messages", n)
	}
}

// Without the mark of a send in progress nothing is sent: its echo would
// be taken for a person answering.
func TestDeliverNeedsTheOwnStore(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.own.err = errors.New("redis down")
	err := f.a.Deliver(context.Background(), outbound("1", oatest.UserID(1), "x"))
	if err == nil || !plainError(err) {
		t.Fatalf("err %v", err)
	}
	if len(f.api.CallsTo(oatest.PathCS)) != 0 {
		t.Fatal("sent without the mark")
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t, nil, nil)
	if l := f.a.Limits(); l.MaxText != 2000 || l.MaxCaption != 2000 || l.MaxCallbackData != MaxButtonPayload-len(ButtonPrefix) {
		t.Fatalf("limits %+v", l)
	}
}
