package zalo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

const privateText = "mật khẩu bí mật 001203004567"

var textBody = zalotest.Text("2d758cb5e222177a4e35", chatID, privateText).Body()

func TestWebhookRefusals(t *testing.T) {
	f := newFixture(t, privateText, "bí mật")
	msg := func(fields string) string {
		return `{"ok":true,"result":{"event_name":"message.text.received","message":{` + fields + `}}}`
	}
	tests := []struct {
		name   string
		body   string
		secret string
		want   int
	}{
		{"wrong secret", string(textBody), "nope", 403},
		{"missing secret", string(textBody), "", 403},
		{"secret prefix", string(textBody), secret[:5], 403},
		{"secret with suffix", string(textBody), secret + "x", 403},
		{"secret in another case", string(textBody), strings.ToUpper(secret), 403},
		{"2 MiB body", msg(`"message_id":"a","chat":{"id":"b"},"text":"` + strings.Repeat("bí mật ", 2<<20/7) + `"`), secret, 413},
		{"unterminated", `{`, secret, 400},
		{"not JSON", `bí mật`, secret, 400},
		{"not an object", `[1,2]`, secret, 400},
		{"null", `null`, secret, 400},
		{"empty", ``, secret, 400},
		{"empty object", `{}`, secret, 400},
		{"envelope without result", `{"ok":true}`, secret, 400},
		{"null result", `{"ok":true,"result":null}`, secret, 400},
		{"result not an object", `{"ok":true,"result":"bí mật"}`, secret, 400},
		{"trailing garbage", string(textBody) + ` bí mật`, secret, 400},
		{"event_name of the wrong type", `{"event_name":1,"message":{}}`, secret, 400},
		{"no message", `{"ok":true,"result":{"event_name":"message.text.received"}}`, secret, 400},
		{"no message_id", msg(`"chat":{"id":"b"},"text":"bí mật"`), secret, 400},
		{"empty message_id", msg(`"message_id":"","chat":{"id":"b"},"text":"bí mật"`), secret, 400},
		{"no chat", msg(`"message_id":"a","text":"bí mật"`), secret, 400},
		{"no chat id", msg(`"message_id":"a","chat":{"chat_type":"PRIVATE"},"text":"bí mật"`), secret, 400},
		{"chat id with a slash", msg(`"message_id":"a","chat":{"id":"../x"},"text":"bí mật"`), secret, 400},
		{"chat id an object", msg(`"message_id":"a","chat":{"id":{"x":1}},"text":"bí mật"`), secret, 400},
		{"message id a fraction", msg(`"message_id":1.5,"chat":{"id":"b"},"text":"bí mật"`), secret, 400},
		{"id too long", msg(`"message_id":"` + strings.Repeat("a", 129) + `","chat":{"id":"b"}`), secret, 400},
		{"text of the wrong type", msg(`"message_id":"a","chat":{"id":"b"},"text":{"bí":"mật"}`), secret, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.postString(tt.body, tt.secret); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if n := len(f.rec.got()); n != 0 {
		t.Fatalf("Handle called for %d refused updates", n)
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d Bot API calls for refused updates", n)
	}
}

func TestWebhookMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead, http.MethodDelete} {
		req := httptest.NewRequest(m, WebhookPath, strings.NewReader(string(textBody)))
		req.Header.Set(SecretHeader, secret)
		w := httptest.NewRecorder()
		f.a.ServeHTTP(w, req)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != http.MethodPost {
			t.Fatalf("%s: %d (Allow %q)", m, w.Code, w.Header().Get("Allow"))
		}
	}
	if len(f.rec.got()) != 0 {
		t.Fatal("Handle called")
	}
}

func TestWebhookWithoutSecretRefusesEverything(t *testing.T) {
	api := zalotest.New(t)
	logs := &safeBuffer{}
	a, err := New(Config{Token: api.Token(), APIURL: api.URL()}, &recorder{}, &memMenus{}, fakeTexts{}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"", "anything", secret} {
		if got := zalotest.Post(a, WebhookPath, sec, textBody).Code; got != 403 {
			t.Fatalf("secret %q: status %d, want 403", sec, got)
		}
	}
	if n := strings.Count(logs.String(), "GOCUA_ZALO_BOT_WEBHOOK_SECRET"); n != 1 {
		t.Fatalf("configuration warning logged %d times, want once:\n%s", n, logs.String())
	}
}

// Events gocua does not handle are acknowledged (Zalo must not resend
// them) without calling the core or the Bot API.
func TestWebhookIgnoredEvents(t *testing.T) {
	f := newFixture(t, "bí mật")
	group := zalotest.Text("g1", "group42", "bí mật")
	group.ChatType = "GROUP"
	groupLower := group
	groupLower.ChatType, groupLower.MessageID = "group", "g2"
	groupImage := zalotest.Image("g3", "group42", "https://f1.zdn.vn/a.jpg", "")
	groupImage.ChatType = "GROUP"
	fromBot := zalotest.Text("b1", chatID, "bí mật")
	fromBot.IsBot = true
	otherType := zalotest.Text("o1", chatID, "bí mật")
	otherType.ChatType = "CHANNEL"
	tests := []struct {
		name string
		body string
	}{
		{"unknown event", `{"ok":true,"result":{"event_name":"message.reaction.received","message":{"message_id":"x","chat":{"id":"y"},"text":"bí mật"}}}`},
		{"future event without a message", `{"ok":true,"result":{"event_name":"bot.something.new"}}`},
		{"empty event name", `{"event_name":"","message":{"message_id":"x","chat":{"id":"y"}}}`},
		{"group text", string(group.Body())},
		{"group text, lower case", string(groupLower.Body())},
		{"group image", string(groupImage.Body())},
		{"a chat type Zalo adds later", string(otherType.Body())},
		{"from a bot", string(fromBot.Body())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.postString(tt.body, secret); got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
		})
	}
	if n := len(f.rec.got()); n != 0 {
		t.Fatalf("Handle called %d times", n)
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d Bot API calls, want none", n)
	}
}

func TestWebhookConvert(t *testing.T) {
	at := time.UnixMilli(zalotest.DefaultDate)
	key := chatKey
	base := func(id string, in bot.Inbound) bot.Inbound {
		in.Key, in.UpdateID, in.Seq, in.UserID, in.Name = key, id, zalotest.DefaultDate, chatID, "Lan"
		if in.At.IsZero() {
			in.At = at
		}
		return in
	}
	text := func(id, s string) zalotest.Update { return zalotest.Text(id, chatID, s) }
	with := func(u zalotest.Update, change func(*zalotest.Update)) zalotest.Update { change(&u); return u }
	const photo = "https://f21-zpc.zdn.vn/6153/0f1c2d.jpg"
	tests := []struct {
		name string
		u    zalotest.Update
		want bot.Inbound
	}{
		{"text", text("m1", "cài vneid 🙂"), base("m1", bot.Inbound{Kind: bot.InText, Text: "cài vneid 🙂"})},
		{"bare event", with(text("m2", "xin chào"), func(u *zalotest.Update) { u.Bare = true }),
			base("m2", bot.Inbound{Kind: bot.InText, Text: "xin chào"})},
		{"command", text("m3", "/start"), base("m3", bot.Inbound{Kind: bot.InCommand, Command: "start"})},
		{"command with @bot and args", text("m4", "/Start@gocua_bot  install_vneid now"),
			base("m4", bot.Inbound{Kind: bot.InCommand, Command: "start", Args: "install_vneid now"})},
		{"command with a newline", text("m5", "/HUY\nthôi"), base("m5", bot.Inbound{Kind: bot.InCommand, Command: "huy", Args: "thôi"})},
		{"a lone slash is text", text("m6", "/ hỏi"), base("m6", bot.Inbound{Kind: bot.InText, Text: "/ hỏi"})},
		{"text cleaned", text("m7", "a\u202eb\u200bc\r\nd\x00"), base("m7", bot.Inbound{Kind: bot.InText, Text: "abc\nd"})},
		{"text that cleaning empties", text("m8", "\u200b\x07"),
			base("m8", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaOther}})},
		{"empty text", text("m9", ""), base("m9", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaOther}})},
		{"image under photo", zalotest.Image("m10", chatID, photo, ""),
			base("m10", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-bot:" + photo}})},
		{"image under photo_url, with a caption", with(zalotest.Image("m11", chatID, "", "lỗi\u0007 này"), func(u *zalotest.Update) { u.PhotoURL = photo }),
			base("m11", bot.Inbound{Kind: bot.InMedia, Text: "lỗi này", Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-bot:" + photo}})},
		{"image with both: photo wins", with(zalotest.Image("m12", chatID, photo, ""), func(u *zalotest.Update) { u.PhotoURL = "https://other.zdn.vn/x.jpg" }),
			base("m12", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-bot:" + photo}})},
		{"image with a bad photo, a good photo_url", with(zalotest.Image("m13", chatID, "javascript:alert(1)", ""), func(u *zalotest.Update) { u.PhotoURL = photo }),
			base("m13", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-bot:" + photo}})},
		{"image without an address", zalotest.Image("m14", chatID, "", "chữ"),
			base("m14", bot.Inbound{Kind: bot.InMedia, Text: "chữ", Media: &bot.Media{Kind: bot.MediaOther}})},
		{"image with a caption in text", with(zalotest.Image("m15", chatID, photo, ""), func(u *zalotest.Update) { u.Text = "đây" }),
			base("m15", bot.Inbound{Kind: bot.InMedia, Text: "đây", Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-bot:" + photo}})},
		{"image address with a space", zalotest.Image("m16", chatID, "https://a.zdn.vn/a b.jpg", ""),
			base("m16", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaOther}})},
		{"sticker", zalotest.Sticker("m17", chatID, "bfe458bf64fa8da4d4eb", "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=1"),
			base("m17", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaSticker, Ref: "zalo-bot:https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=1"}})},
		{"sticker without an address", zalotest.Sticker("m18", chatID, "x", ""),
			base("m18", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaSticker}})},
		{"voice", zalotest.Voice("m19", chatID, "https://voice.zdn.vn/v.aac"),
			base("m19", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaVoice, Ref: "zalo-bot:https://voice.zdn.vn/v.aac"}})},
		{"voice under url", with(zalotest.Voice("m20", chatID, ""), func(u *zalotest.Update) { u.URL = "https://voice.zdn.vn/w.aac" }),
			base("m20", bot.Inbound{Kind: bot.InMedia, Media: &bot.Media{Kind: bot.MediaVoice, Ref: "zalo-bot:https://voice.zdn.vn/w.aac"}})},
		{"unsupported: a protected resident", zalotest.Unsupported("m21", chatID), base("m21", bot.Inbound{Kind: bot.InProtected})},
		{"unsupported with content anyway", with(zalotest.Unsupported("m22", chatID), func(u *zalotest.Update) { u.Text = "x" }),
			base("m22", bot.Inbound{Kind: bot.InProtected})},
		{"name cleaned to one line", with(text("m23", "a"), func(u *zalotest.Update) { u.Name = " Nguyễn\n Văn\u202e  A " }),
			func() bot.Inbound {
				in := base("m23", bot.Inbound{Kind: bot.InText, Text: "a"})
				in.Name = "Nguyễn Văn A"
				return in
			}()},
		{"no date: stamped on arrival", with(text("m24", "a"), func(u *zalotest.Update) { u.Date = -1 }),
			func() bot.Inbound {
				in := base("m24", bot.Inbound{Kind: bot.InText, Text: "a", At: time.UnixMilli(fixedNow)})
				in.Seq = 0
				return in
			}()},
		{"private in lower case", with(text("m25", "a"), func(u *zalotest.Update) { u.ChatType = "private" }),
			base("m25", bot.Inbound{Kind: bot.InText, Text: "a"})},
		{"sender other than the chat", with(text("m26", "a"), func(u *zalotest.Update) { u.FromID = "user7" }),
			func() bot.Inbound {
				in := base("m26", bot.Inbound{Kind: bot.InText, Text: "a"})
				in.UserID = "user7"
				return in
			}()},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(tt.u.Body(), secret); got != 200 {
				t.Fatalf("status %d", got)
			}
			if got := f.rec.last(t); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v (media %+v)\nwant %+v (media %+v)", got, got.Media, tt.want, tt.want.Media)
			}
		})
	}
}

// Zalo's ids are strings, and a 19-digit one — a float64 would keep 15 or
// 16 digits — must come through exactly, sent as a string or as a number.
// Dates are milliseconds.
func TestWebhookIDsStayStringsAndDatesAreMilliseconds(t *testing.T) {
	f := newFixture(t)
	const long = "8812345678901234567"
	bodies := []string{
		`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"` + long + `","date":1750316131602,"from":{"id":"` + long + `","display_name":"A","is_bot":false},"chat":{"id":"` + long + `","chat_type":"PRIVATE"},"text":"x"}}}`,
		`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":` + long + `,"date":"1750316131602","from":{"id":` + long + `},"chat":{"id":` + long + `,"chat_type":"PRIVATE"},"text":"x"}}}`,
	}
	for i, b := range bodies {
		if got := f.postString(b, secret); got != 200 {
			t.Fatalf("body %d: status %d", i, got)
		}
		in := f.rec.last(t)
		if in.UpdateID != long || in.Key.ChatID != long || in.UserID != long {
			t.Fatalf("body %d: ids %q %q %q, want %s", i, in.UpdateID, in.Key.ChatID, in.UserID, long)
		}
		if want := time.Date(2025, 6, 19, 6, 55, 31, 602e6, time.UTC); !in.At.Equal(want) || in.Seq != 1750316131602 {
			t.Fatalf("body %d: at %v seq %d, want %v (milliseconds, not seconds)", i, in.At.UTC(), in.Seq, want)
		}
	}
}

// A re-delivered body is the same Inbound, so the core recognises it by
// UpdateID.
func TestWebhookRedeliveryIsTheSameUpdate(t *testing.T) {
	f := newFixture(t)
	body := zalotest.Image("a1b2c3", chatID, "https://f1.zdn.vn/p.jpg", "ảnh").Body()
	for range 3 {
		if got := f.post(body, secret); got != 200 {
			t.Fatalf("status %d", got)
		}
	}
	got := f.rec.got()
	if len(got) != 3 || !reflect.DeepEqual(got[0], got[1]) || !reflect.DeepEqual(got[1], got[2]) || got[0].UpdateID != "a1b2c3" {
		t.Fatalf("re-deliveries differ: %+v", got)
	}
}

func TestWebhookCoreOutcome(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		panicking bool
		want      int
	}{
		{"taken", nil, false, 200},
		{"duplicate", fmt.Errorf("commit: %w", bot.ErrDuplicate), false, 200},
		{"store down", errors.New("redis: connection refused"), false, 503},
		{"conflict left", bot.ErrConflict, false, 503},
		{"panic", nil, true, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.rec.set(tt.err, tt.panicking)
			if got := f.post(textBody, secret); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
}

func TestWebhookWithoutHandler(t *testing.T) {
	api := zalotest.New(t)
	a, err := New(Config{Token: api.Token(), APIURL: api.URL(), WebhookSecret: secret}, nil, nil, fakeTexts{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := zalotest.Post(a, WebhookPath, secret, textBody).Code; got != 503 {
		t.Fatalf("status %d, want 503", got)
	}
}

// The core runs on a context that Zalo hanging up does not cancel, bounded
// by HandleTimeout.
func TestWebhookContextOutlivesTheRequest(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.HandleTimeout = 2 * time.Second }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(string(textBody))).WithContext(ctx)
	req.Header.Set(SecretHeader, secret)
	block := make(chan struct{})
	f.rec.mu.Lock()
	f.rec.block = block
	f.rec.mu.Unlock()
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		f.a.ServeHTTP(w, req)
		done <- w.Code
	}()
	cancel()
	time.Sleep(20 * time.Millisecond)
	close(block)
	if code := <-done; code != 200 {
		t.Fatalf("status %d", code)
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if f.rec.ctxErr[0] != nil {
		t.Fatalf("the core's context ended with the request: %v", f.rec.ctxErr[0])
	}
	if d := f.rec.deadline[0]; d <= 0 || d > 2*time.Second {
		t.Fatalf("deadline in %v, want within HandleTimeout", d)
	}
}

// A resident answers a numbered menu with a number or a label — without
// diacritics, emoji or case — and the core gets the button; anything else,
// an answer out of range, or a chat without a menu is text.
func TestWebhookNumberedChoice(t *testing.T) {
	f := newFixture(t)
	out := outbound("Bác cần gì?",
		[]bot.Button{{Text: "📲 Cài VNeID", Data: "flow:install_vneid"}, {Text: "🌐 Cổng DVC", URL: "https://dichvucong.gov.vn"}},
		[]bot.Button{{Text: "🆘 Gặp tình nguyện viên", Data: "nav:human"}},
		[]bot.Button{{Text: "Về menu", Data: "nav:menu"}})
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		answer string
		data   string // "" = text
	}{
		{"1", "flow:install_vneid"},
		{"2", "nav:human"},
		{" 3. ", "nav:menu"},
		{"số 2", "nav:human"},
		{"#1", "flow:install_vneid"},
		{"２", "nav:human"}, // full-width
		{"cai vneid", "flow:install_vneid"},
		{"CÀI VNEID!", "flow:install_vneid"},
		{"📲 Cài VNeID", "flow:install_vneid"},
		{"gap tinh nguyen vien", "nav:human"},
		{"4", ""},
		{"0", ""},
		{"cổng dvc", ""}, // a link takes no number and is not a choice
		{"tôi muốn cài vneid", ""},
		{"12345", ""},
	}
	for i, tt := range tests {
		u := zalotest.Text(fmt.Sprintf("c%d", i), chatID, tt.answer)
		if got := f.post(u.Body(), secret); got != 200 {
			t.Fatalf("%q: status %d", tt.answer, got)
		}
		in := f.rec.last(t)
		switch {
		case tt.data != "" && (in.Kind != bot.InButton || in.Data != tt.data || in.Text != ""):
			t.Errorf("%q: %v data %q text %q, want button %q", tt.answer, in.Kind, in.Data, in.Text, tt.data)
		case tt.data == "" && (in.Kind != bot.InText || in.Text == "" || in.Data != ""):
			t.Errorf("%q: %v data %q, want text", tt.answer, in.Kind, in.Data)
		}
	}
	// commands are never choices
	f.post(zalotest.Text("cmd", chatID, "/1").Body(), secret)
	if in := f.rec.last(t); in.Kind != bot.InCommand || in.Command != "1" {
		t.Fatalf("/1: %+v", in)
	}
	// another chat has no menu: its "1" is text
	f.post(zalotest.Text("other", "someone-else", "1").Body(), secret)
	if in := f.rec.last(t); in.Kind != bot.InText || in.Text != "1" {
		t.Fatalf("1 without a menu: %+v", in)
	}
	// a message without buttons (a volunteer's answer) forgets the menu:
	// "2" is text for the volunteer, not a tap on an older button
	if err := f.a.Deliver(context.Background(), outbound("Bác chờ chút nhé.")); err != nil {
		t.Fatal(err)
	}
	f.post(zalotest.Text("after", chatID, "2").Body(), secret)
	if in := f.rec.last(t); in.Kind != bot.InText || in.Text != "2" {
		t.Fatalf("2 after a message without buttons: %+v", in)
	}
	// a new menu replaces it: the old choice 3 is stale
	if err := f.a.Deliver(context.Background(), outbound("Có hay không?", []bot.Button{{Text: "Có", Data: "yes"}, {Text: "Không", Data: "no"}})); err != nil {
		t.Fatal(err)
	}
	f.post(zalotest.Text("stale", chatID, "3").Body(), secret)
	if in := f.rec.last(t); in.Kind != bot.InText || in.Text != "3" {
		t.Fatalf("3 of a replaced menu: %+v", in)
	}
	f.post(zalotest.Text("khong", chatID, "khong").Body(), secret)
	if in := f.rec.last(t); in.Kind != bot.InButton || in.Data != "no" {
		t.Fatalf("khong: %+v", in)
	}
}

// Without its menu the adapter cannot tell "2" from text: it answers 503,
// so Zalo delivers the message again.
func TestWebhookMenuStoreDown(t *testing.T) {
	f := newFixture(t)
	f.menus.fail(errors.New("redis down"))
	if got := f.post(zalotest.Text("x", chatID, "2").Body(), secret); got != 503 {
		t.Fatalf("status %d, want 503", got)
	}
	if len(f.rec.got()) != 0 {
		t.Fatal("the core got a message whose menu could not be read")
	}
	// commands and media do not need it
	if got := f.post(zalotest.Text("y", chatID, "/start").Body(), secret); got != 200 {
		t.Fatalf("command: status %d", got)
	}
	if got := f.post(zalotest.Unsupported("z", chatID).Body(), secret); got != 200 {
		t.Fatalf("unsupported: status %d", got)
	}
}

// Odd and huge text never makes the webhook fail: invalid UTF-8, control
// and bidi characters, and a body of emoji just under MaxBody.
func TestWebhookHugeAndOddText(t *testing.T) {
	f := newFixture(t)
	emoji := strings.Repeat("👨‍👩‍👧", (1<<20-400)/len("👨‍👩‍👧"))
	tests := []struct {
		name string
		body []byte
	}{
		{"invalid UTF-8", []byte(`{"event_name":"message.text.received","message":{"message_id":"u1","chat":{"id":"c"},"text":"a` + "\xff\xfe" + `b","from":{"id":"c","display_name":"` + "\xc3" + `"}}}`)},
		{"escaped lone surrogates", []byte(`{"event_name":"message.text.received","message":{"message_id":"u2","chat":{"id":"c"},"text":"\ud800 x \udfff"}}`)},
		{"only control characters", zalotest.Text("u3", "c", "\x00\x01\u202e\u2066").Body()},
		{"1 MiB of emoji", zalotest.Text("u4", "c", emoji).Body()},
		{"1 MiB of emoji as a caption", zalotest.Image("u5", "c", "https://a.zdn.vn/x.jpg", emoji[:len(emoji)-200]).Body()},
		{"combining marks", zalotest.Text("u6", "c", "ma\u0303 "+strings.Repeat("\u0301", 5000)).Body()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if int64(len(tt.body)) > f.a.cfg.MaxBody {
				t.Fatalf("test body is %d bytes, over MaxBody", len(tt.body))
			}
			if got := f.post(tt.body, secret); got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
			in := f.rec.last(t)
			for _, s := range []string{in.Text, in.Name} {
				if !utf8.ValidString(s) || bot.CleanText(s) != s {
					t.Fatalf("uncleaned text reached the core: %+q", s[:min(len(s), 40)])
				}
			}
		})
	}
}

// Over a real connection, as Zalo posts: envelope and bare, with the
// secret header.
func TestWebhookOverHTTP(t *testing.T) {
	f := newFixture(t)
	mux := http.NewServeMux()
	mux.Handle("POST "+WebhookPath, f.a)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	bare := zalotest.Voice("v1", chatID, "https://voice.zdn.vn/v.aac")
	bare.Bare = true
	for _, body := range [][]byte{textBody, bare.Body()} {
		st, err := zalotest.PostURL(context.Background(), srv.Client(), srv.URL+WebhookPath, secret, body)
		if err != nil || st != 200 {
			t.Fatalf("status %d: %v", st, err)
		}
	}
	if st, _ := zalotest.PostURL(context.Background(), srv.Client(), srv.URL+WebhookPath, "", textBody); st != 403 {
		t.Fatalf("without the secret: %d", st)
	}
	if got := f.rec.got(); len(got) != 2 || got[0].Text != privateText || got[1].Media.Kind != bot.MediaVoice {
		t.Fatalf("core got %+v", got)
	}
}
