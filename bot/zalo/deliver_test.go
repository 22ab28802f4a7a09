package zalo

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

func TestDeliverText(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		out  bot.Outbound
		want string
	}{
		{"plain", outbound("Xin chào 🙂"), "Xin chào 🙂"},
		{"bold markers dropped", outbound("Bác **nhớ** giữ <mã> & **OTP**"), "Bác nhớ giữ <mã> & OTP"},
		{"an unpaired marker stays", outbound("2**3 = 8"), "2**3 = 8"},
		{"numbered menu in the default language", outbound("Bác cần gì?",
			[]bot.Button{{Text: "📲 Cài VNeID", Data: "flow:a"}, {Text: "Khác", Data: "flow:b"}}),
			"Bác cần gì?\n1. 📲 Cài VNeID\n2. Khác\n\n👉 Bác trả lời 1 hoặc 2 để chọn."},
		{"in the resident's language, with a link", func() bot.Outbound {
			o := outbound("What do you need?",
				[]bot.Button{{Text: "VNeID", Data: "flow:a"}, {Text: "Portal", URL: "https://dichvucong.gov.vn"}},
				[]bot.Button{{Text: "Other", Data: "flow:b"}}, []bot.Button{{Text: "Human", Data: "nav:human"}})
			o.Lang = "en"
			return o
		}(), ""}, // as bot.RenderMenu has it, checked below
		{"only links: no reply line", outbound("Xem:", []bot.Button{{Text: "Cổng", URL: "https://dichvucong.gov.vn"}}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(f.api.Sent(chatID))
			if err := f.a.Deliver(context.Background(), tt.out); err != nil {
				t.Fatal(err)
			}
			sent := f.api.Sent(chatID)[before:]
			want := tt.want
			if want == "" {
				want = bot.RenderMenu(fakeTexts{}, cmp.Or(tt.out.Lang, "vi"), tt.out.Text, tt.out.Buttons)
				if !strings.Contains(want, "https://dichvucong.gov.vn") || strings.Contains(want, "👉") != (tt.out.Lang == "en") {
					t.Fatalf("RenderMenu gives %q", want)
				}
			}
			if len(sent) != 1 || sent[0].Method != "sendMessage" || sent[0].Text != want {
				t.Fatalf("sent %+v\nwant %q", sent, want)
			}
		})
	}
	// the last message had only a link: it leaves no menu behind
	if m := f.menus.get(chatKey); len(m.Choices) != 0 {
		t.Fatalf("menu %+v after a message without choices", m)
	}
	// a message with payload buttons is the chat's menu
	if err := f.a.Deliver(context.Background(), tests[4].out); err != nil {
		t.Fatal(err)
	}
	if m := f.menus.get(chatKey); len(m.Choices) != 3 || m.Choices[2].Data != "nav:human" {
		t.Fatalf("menu %+v", m)
	}
	// a sendMessage call carries chat_id and text, nothing else
	c := f.api.CallsTo("sendMessage")[0]
	if len(c.Params) != 2 || c.ChatID != chatID {
		t.Fatalf("params %v", c.Params)
	}
}

// A text over 2000 characters goes as several messages of at most 2000,
// the numbered menu together in the last one.
func TestDeliverSplitsLongText(t *testing.T) {
	para := strings.Repeat("Bác mở ứng dụng VNeID, chọn mục Đăng nhập. ", 12) // ~500 characters
	long := strings.TrimSpace(strings.Repeat(para+"\n\n", 5))                 // ~2,500
	if n := bot.TextLen(long); n < 2400 || n > 2600 {
		t.Fatalf("test text is %d units", n)
	}
	menu := []bot.Button{{Text: "Đã xong", Data: "done"}, {Text: "Chưa được", Data: "again"}}
	tests := []struct {
		name    string
		out     bot.Outbound
		parts   int
		menuEnd bool
	}{
		{"2,500 characters", outbound(long), 2, false},
		{"2,500 characters and a menu", outbound(long, menu), 2, true},
		{"1,990 characters and a menu that does not fit after", outbound(strings.Repeat("á", 1990), menu), 2, true},
		{"no spaces at all", outbound(strings.Repeat("x", 4500)), 3, false},
		{"emoji counted in UTF-16 units", outbound(strings.Repeat("🙂", 1500)), 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if err := f.a.Deliver(context.Background(), tt.out); err != nil {
				t.Fatal(err)
			}
			sent := f.api.Sent(chatID)
			if len(sent) != tt.parts {
				t.Fatalf("%d messages, want %d", len(sent), tt.parts)
			}
			var joined []string
			for i, m := range sent {
				if n := bot.TextLen(m.Text); n > MaxText || n == 0 {
					t.Fatalf("part %d is %d units", i, n)
				}
				if i < len(sent)-1 && strings.Contains(m.Text, "1. Đã xong") {
					t.Fatalf("menu in part %d of %d", i, len(sent))
				}
				joined = append(joined, m.Text)
			}
			last := sent[len(sent)-1].Text
			if tt.menuEnd != strings.HasSuffix(last, "1. Đã xong\n2. Chưa được\n\n👉 Bác trả lời 1 hoặc 2 để chọn.") {
				t.Fatalf("last part ends %q", last[max(0, len(last)-80):])
			}
			// nothing lost but the spaces and newlines at the cuts
			squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if !strings.HasPrefix(squash(strings.Join(joined, "")), squash(bot.PlainText(tt.out.Text))) {
				t.Fatal("the parts do not add up to the text")
			}
			if tt.menuEnd && len(f.menus.get(chatKey).Choices) != 2 {
				t.Fatal("menu not stored")
			}
		})
	}
}

// A long message that failed half way is not sent again from the start:
// the retry sends what is left, and the menu is stored once all is out.
func TestDeliverRetrySendsOnlyWhatIsLeft(t *testing.T) {
	out := outbound(strings.Repeat("chữ ", 1200), []bot.Button{{Text: "A", Data: "a"}}) // 4,800 units: 3 parts
	ref := newFixture(t)
	if err := ref.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	want := ref.api.Sent(chatID)
	if len(want) != 3 {
		t.Fatalf("%d parts", len(want))
	}

	f := newFixture(t)
	f.api.FailAfter("sendMessage", 1, 1, zalotest.ServerError(502))
	err := f.a.Deliver(context.Background(), out)
	if err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("first attempt: %v, want a retryable error", err)
	}
	if n := len(f.api.Sent(chatID)); n != 1 {
		t.Fatalf("%d parts sent before the failure, want 1", n)
	}
	if len(f.menus.get(chatKey).Choices) != 0 {
		t.Fatal("menu stored before its lines were sent")
	}
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := f.api.Sent(chatID)
	if len(got) != 3 {
		t.Fatalf("%d messages after the retry, want 3", len(got))
	}
	for i := range got {
		if got[i].Text != want[i].Text {
			t.Fatalf("part %d differs", i)
		}
	}
	if len(f.menus.get(chatKey).Choices) != 1 {
		t.Fatal("menu not stored")
	}
	// delivered in full, the same id again is a new delivery (the core
	// never sends one twice; the sender does not ask twice)
	if err := f.a.Deliver(context.Background(), out); err != nil || len(f.api.Sent(chatID)) != 6 {
		t.Fatalf("again: %v, %d sent", err, len(f.api.Sent(chatID)))
	}
}

func TestDeliverErrors(t *testing.T) {
	tests := []struct {
		name       string
		fail       zalotest.Failure
		rejected   bool
		retryAfter time.Duration // 0: not a RetryAfterError
		unauth     bool
	}{
		{"ok:false on HTTP 200", zalotest.NotOK(403, "Internal server error"), false, 0, false},
		{"ok:false without a code", zalotest.Failure{HTTPStatus: 200, Body: `{"ok":false}`}, false, 0, false},
		{"HTTP 429", zalotest.QuotaExceeded(), false, DefaultRetryAfter, false},
		{"error_code 429 on HTTP 200", zalotest.NotOK(429, "Quota exceeded"), false, DefaultRetryAfter, false},
		{"429 with Retry-After", func() zalotest.Failure { f := zalotest.QuotaExceeded(); f.RetryAfter = 7; return f }(), false, 7 * time.Second, false},
		{"429 with parameters.retry_after", zalotest.Failure{HTTPStatus: 429, Body: `{"ok":false,"error_code":429,"description":"Quota exceeded","parameters":{"retry_after":12}}`}, false, 12 * time.Second, false},
		{"HTTP 429 from a proxy, not JSON", zalotest.ServerError(429), false, DefaultRetryAfter, false},
		{"400", zalotest.NotOK(400, "Bad Request"), true, 0, false},
		{"400 on HTTP 400", zalotest.Failure{HTTPStatus: 400, ErrorCode: 400, Description: "bad request"}, true, 0, false},
		{"404", zalotest.NotOK(404, "Not Found"), true, 0, false},
		{"errorCode spelling", zalotest.Failure{Body: `{"ok":false,"errorCode":400,"description":"x"}`}, true, 0, false},
		{"401", zalotest.Failure{HTTPStatus: 401, ErrorCode: 401, Description: "Unauthorized"}, false, 0, true},
		{"401 on HTTP 200", zalotest.NotOK(401, "Unauthorized"), false, 0, true},
		{"403", zalotest.NotOK(403, "Internal server error"), false, 0, false},
		{"408", zalotest.NotOK(408, "Request timeout"), false, 0, false},
		{"HTTP 500", zalotest.ServerError(500), false, 0, false},
		{"HTTP 502", zalotest.ServerError(502), false, 0, false},
		{"HTTP 200 not JSON", zalotest.Failure{HTTPStatus: 200, Body: "<html>captive portal</html>"}, false, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.api.FailNext("sendMessage", 1, tt.fail)
			out := outbound("Xin chào", []bot.Button{{Text: "A", Data: "a"}})
			err := f.a.Deliver(context.Background(), out)
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, bot.ErrRejected); got != tt.rejected {
				t.Fatalf("rejected %v, want %v: %v", got, tt.rejected, err)
			}
			var ra *bot.RetryAfterError
			if errors.As(err, &ra) != (tt.retryAfter != 0) || (ra != nil && ra.After != tt.retryAfter) {
				t.Fatalf("retry after %+v, want %v: %v", ra, tt.retryAfter, err)
			}
			if errors.Is(err, ErrUnauthorized) != tt.unauth {
				t.Fatalf("unauthorized %v, want %v: %v", errors.Is(err, ErrUnauthorized), tt.unauth, err)
			}
			if tt.unauth && !strings.Contains(f.logs.String(), "GOCUA_ZALO_BOT_TOKEN") {
				t.Fatalf("401 not logged loudly:\n%s", f.logs.String())
			}
			if errors.Is(err, bot.ErrUnreachable) {
				t.Fatalf("unreachable: %v", err)
			}
			if len(f.menus.get(chatKey).Choices) != 0 {
				t.Fatal("menu stored for a message that was not sent")
			}
			// the same message goes out once the platform lets it
			if err := f.a.Deliver(context.Background(), out); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if len(f.menus.get(chatKey).Choices) != 1 || len(f.api.Sent(chatID)) != 1 {
				t.Fatal("retry did not send the message and store its menu")
			}
		})
	}
}

// The token sits in every API address; it never reaches an error or a log.
func TestTokenRedacted(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.APIURL = "http://127.0.0.1:1" }, nil) // nothing listens
	err := f.a.Deliver(context.Background(), outbound("x"))
	if err == nil || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("network error: %v", err)
	}
	secretPart := strings.SplitN(f.api.Token(), ":", 2)[1]
	if strings.Contains(err.Error(), secretPart) || !strings.Contains(err.Error(), "/bot***/sendMessage") {
		t.Fatalf("error %q", err)
	}
	// an API that echoes the token in its description
	g := newFixture(t)
	g.api.FailNext("sendMessage", 1, zalotest.NotOK(400, "bad token "+g.api.Token()+" in /bot"+g.api.Token()+"/sendMessage"))
	err = g.a.Deliver(context.Background(), outbound("x"))
	if err == nil || strings.Contains(err.Error(), secretPart) {
		t.Fatalf("error %q", err)
	}
	// a 401 is logged, without the token (newFixture checks the logs)
	g.api.FailNext("sendMessage", 1, zalotest.Failure{HTTPStatus: 401, ErrorCode: 401, Description: "Unauthorized"})
	if err := g.a.Deliver(context.Background(), outbound("x")); !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), secretPart) {
		t.Fatalf("401: %v", err)
	}
	// the adapter with a wrong token: the fake answers 401
	h := newFixtureWith(t, func(c *Config) { c.Token = "1:wrong-" + secretPart }, nil)
	if err := h.a.Deliver(context.Background(), outbound("x")); !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), secretPart) {
		t.Fatalf("wrong token: %v", err)
	}
}

func TestDeliverRefused(t *testing.T) {
	f := newFixture(t)
	photo := func(kind bot.MediaKind, ref string) bot.Outbound {
		o := outbound("chữ")
		o.Media = &bot.Media{Kind: kind, Ref: ref}
		return o
	}
	tests := []struct {
		name string
		out  bot.Outbound
	}{
		{"another channel", bot.Outbound{ID: "x", Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}, Text: "x"}},
		{"no chat", bot.Outbound{ID: "x", Key: bot.ConvKey{Channel: bot.ChannelZaloBot}, Text: "x"}},
		{"no text", outbound("")},
		{"only spaces", outbound(" \n\n ")},
		{"only bold markers", outbound("****")},
		{"a document", photo(bot.MediaDocument, "telegram:BQAC")},
		{"a voice note", photo(bot.MediaVoice, "telegram:AwAC")},
		{"a video", photo(bot.MediaVideo, "telegram:BAAC")},
		{"a sticker", photo(bot.MediaSticker, "telegram:CAAC")},
		{"a location", photo(bot.MediaLocation, "")},
		{"no ref", photo(bot.MediaPhoto, "")},
		{"an http address", photo(bot.MediaPhoto, "http://example.com/a.jpg")},
		{"an unknown store", photo(bot.MediaPhoto, "s3:bucket/a.jpg")},
		{"a malformed upload id", photo(bot.MediaPhoto, "web:../../etc/passwd")},
		{"an upload that is gone", photo(bot.MediaPhoto, "web:"+strings.Repeat("ab", 16))},
		{"an https address with a space", photo(bot.MediaPhoto, "https://a b/c.jpg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.a.Deliver(context.Background(), tt.out); !errors.Is(err, bot.ErrRejected) {
				t.Fatalf("%v, want ErrRejected", err)
			}
		})
	}
	if n := len(f.api.Sent("")); n != 0 {
		t.Fatalf("%d messages sent", n)
	}
}

// Without a public address, an upload store or a webhook secret, a photo
// cannot be served to Zalo: refused, saying what is missing.
func TestDeliverPhotoNeedsConfig(t *testing.T) {
	up := newUploads().put("broadcasts", png, "image/png")
	tests := []struct {
		name string
		cfg  func(*Config)
		opts []Option
		want string
	}{
		{"no public URL", func(c *Config) { c.PublicURL = "" }, nil, "GOCUA_PUBLIC_URL"},
		{"no webhook secret", func(c *Config) { c.WebhookSecret = "" }, nil, "GOCUA_ZALO_BOT_WEBHOOK_SECRET"},
		{"no uploads", nil, []Option{WithUploads(nil)}, "upload store"},
		{"no fetcher for a Telegram file", nil, []Option{WithFetcher(nil)}, "Telegram"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixtureWith(t, tt.cfg, nil, tt.opts...)
			for _, ref := range []string{"web:" + up.ID, "telegram:AgACx"} {
				if tt.want == "Telegram" && ref != "telegram:AgACx" {
					continue
				}
				out := outbound("ảnh")
				out.Media = &bot.Media{Kind: bot.MediaPhoto, Ref: ref}
				err := f.a.Deliver(context.Background(), out)
				if !errors.Is(err, bot.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("%s: %v, want ErrRejected naming %s", ref, err, tt.want)
				}
			}
			if n := len(f.api.Calls()); n != 0 {
				t.Fatalf("%d API calls", n)
			}
		})
	}
}

// A menu that cannot be stored does not fail the delivery: the message is
// out, and sending it again would show it twice.
func TestDeliverMenuStoreDown(t *testing.T) {
	f := newFixture(t)
	f.menus.fail(errors.New("redis down"))
	if err := f.a.Deliver(context.Background(), outbound("Chọn:", []bot.Button{{Text: "A", Data: "a"}})); err != nil {
		t.Fatal(err)
	}
	if n := len(f.api.Sent(chatID)); n != 1 {
		t.Fatalf("%d sent", n)
	}
	if !strings.Contains(f.logs.String(), "menu not stored") {
		t.Fatal("not logged")
	}
}

func TestDeliverConcurrently(t *testing.T) {
	f := newFixture(t)
	done := make(chan error, 40)
	for i := range 40 {
		go func() {
			out := outbound(strings.Repeat("x", 100+i), []bot.Button{{Text: "A", Data: "a"}})
			out.Key.ChatID = "chat" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			out.ID = out.Key.ChatID + "/0"
			done <- f.a.Deliver(context.Background(), out)
		}()
	}
	for range 40 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.api.Sent("")); n != 40 {
		t.Fatalf("%d sent", n)
	}
}

// Without texts (the CLI registering the webhook) a menu still goes out,
// numbered, only without the locale's "reply 1 or 2" line.
func TestDeliverWithoutTexts(t *testing.T) {
	api := zalotest.New(t)
	a, err := New(Config{Token: api.Token(), APIURL: api.URL()}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Deliver(context.Background(), outbound("Chọn:", []bot.Button{{Text: "A", Data: "a"}, {Text: "B", Data: "b"}})); err != nil {
		t.Fatal(err)
	}
	if sent := api.Sent(chatID); len(sent) != 1 || sent[0].Text != "Chọn:\n1. A\n2. B" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t)
	if got, want := f.a.Limits(), (bot.Limits{MaxText: 2000, MaxCaption: 2000}); !reflect.DeepEqual(got, want) {
		t.Fatalf("%+v", got)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{}, nil, nil, fakeTexts{}, nil); err == nil || !strings.Contains(err.Error(), "GOCUA_ZALO_BOT_TOKEN") {
		t.Fatalf("empty token: %v", err)
	}
	a, err := New(Config{Token: "1:x"}, nil, nil, fakeTexts{}, nil, WithHTTPClient(&http.Client{}))
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.APIURL != DefaultAPIURL || a.cfg.MaxBody != 1<<20 || a.cfg.HandleTimeout != 25*time.Second || a.cfg.DefaultLang != "vi" {
		t.Fatalf("defaults %+v", a.cfg)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		header string
		param  float64
		want   time.Duration
	}{
		{"", 0, DefaultRetryAfter},
		{"3", 0, 3 * time.Second},
		{"3", 9, 9 * time.Second}, // the body wins
		{"", 0.2, time.Second},    // at least a second
		{"0", 0, DefaultRetryAfter},
		{"-4", 0, DefaultRetryAfter},
		{"soon", 0, DefaultRetryAfter},
		{"999999", 0, time.Hour}, // at most an hour
		{time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), 0, 90 * time.Second},
	}
	for _, tt := range tests {
		got := retryAfter(tt.header, tt.param)
		if d := got - tt.want; d > 0 || d < -2*time.Second {
			t.Errorf("retryAfter(%q, %v) = %v, want %v", tt.header, tt.param, got, tt.want)
		}
	}
}
