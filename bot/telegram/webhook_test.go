package telegram

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

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

const privateText = "mật khẩu bí mật 001203004567"

var textUpdate = `{"update_id":10,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"text":"` + privateText + `"}}`

func TestWebhookRefusals(t *testing.T) {
	f := newFixture(t, privateText, "bí mật")
	tests := []struct {
		name   string
		body   string
		secret string
		want   int
	}{
		{"wrong secret", textUpdate, "nope", 401},
		{"missing secret", textUpdate, "", 401},
		{"secret prefix", textUpdate, secret[:5], 401},
		{"secret with suffix", textUpdate, secret + "x", 401},
		{"2 MiB body", `{"update_id":1,"message":{"text":"` + strings.Repeat("bí mật ", 2<<20/7) + `"}}`, secret, 413},
		{"unterminated", `{`, secret, 400},
		{"not JSON", `bí mật`, secret, 400},
		{"not an object", `[1,2]`, secret, 400},
		{"null", `null`, secret, 400},
		{"empty", ``, secret, 400},
		{"no update_id", `{"message":{"text":"bí mật"}}`, secret, 400},
		{"trailing garbage", `{"update_id":3} bí mật`, secret, 400},
		{"update_id of the wrong type", `{"update_id":"bí mật"}`, secret, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(tt.body, tt.secret); got != tt.want {
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
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		req := httptest.NewRequest(m, WebhookPath, strings.NewReader(textUpdate))
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
	api := telegramtest.New(t)
	logs := &safeBuffer{}
	a, err := New(Config{Token: api.Token(), APIURL: api.URL()}, &recorder{}, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"", "anything"} {
		if got := post(a, textUpdate, sec); got != 401 {
			t.Fatalf("secret %q: status %d, want 401", sec, got)
		}
	}
	if n := strings.Count(logs.String(), "GOCUA_TELEGRAM_WEBHOOK_SECRET"); n != 1 {
		t.Fatalf("configuration warning logged %d times, want once:\n%s", n, logs.String())
	}
}

// Updates gocua does not handle are acknowledged (Telegram must not resend
// them) without calling the core or the Bot API.
func TestWebhookIgnoredUpdates(t *testing.T) {
	f := newFixture(t, "bí mật")
	tests := []struct{ name, body string }{
		{"poll", `{"update_id":11,"poll":{"id":"p","question":"bí mật?","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`},
		{"chat_join_request", `{"update_id":12,"chat_join_request":{"chat":{"id":-5,"type":"supergroup"},"from":{"id":1,"is_bot":false,"first_name":"x"},"user_chat_id":1,"date":1}}`},
		{"a kind Telegram adds later", `{"update_id":13,"some_new_thing":{"x":"bí mật"}}`},
		{"group message", `{"update_id":14,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"from":{"id":1,"is_bot":false,"first_name":"x"},"text":"bí mật"}}`},
		{"group command", `{"update_id":15,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"group"},"text":"/start@gocua_bot"}}`},
		{"channel post", `{"update_id":16,"channel_post":{"message_id":1,"date":1,"chat":{"id":-1001,"type":"channel"},"text":"bí mật"}}`},
		{"group edit", `{"update_id":17,"edited_message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"bí mật"}}`},
		{"bot added to a group", `{"update_id":18,"my_chat_member":{"chat":{"id":-100,"type":"group"},"from":{"id":1,"is_bot":false,"first_name":"x"},"date":1,"old_chat_member":{"status":"left","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}}}}`},
		{"private status the core does not track", `{"update_id":19,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"x"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"some_future_status","user":{"id":1,"is_bot":true,"first_name":"b"}}}}`},
		{"empty update", `{"update_id":20}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.post(tt.body, secret); got != 200 {
				t.Fatalf("status %d, want 200", got)
			}
		})
	}
	if n := len(f.rec.got()); n != 0 {
		t.Fatalf("Handle called %d times", n)
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d Bot API calls, want none: %+v", n, f.api.Calls())
	}
}

func TestWebhookConvert(t *testing.T) {
	const u42 = `"from":{"id":42,"is_bot":false,"first_name":"Lan","last_name":"Nguyễn","language_code":"vi"}`
	msg := func(id int, fields string) string {
		return `{"update_id":` + itoa(id) + `,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},` + u42 + `,` + fields + `}}`
	}
	member := func(id int, old, new string) string {
		return `{"update_id":` + itoa(id) + `,"my_chat_member":{"chat":{"id":42,"type":"private"},` + u42 + `,"date":1700000100,"old_chat_member":{"status":"` + old + `","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"` + new + `","user":{"id":1,"is_bot":true,"first_name":"b"},"until_date":0}}}`
	}
	msgAt, tapAt := time.Unix(1700000000, 0), time.Unix(1700000500, 0)
	tests := []struct {
		name string
		body string
		want bot.Inbound
	}{
		{"text", msg(20, `"text":"cài vneid 🙂"`),
			bot.Inbound{Kind: bot.InText, Text: "cài vneid 🙂", At: msgAt}},
		{"command", msg(21, `"text":"/start"`),
			bot.Inbound{Kind: bot.InCommand, Command: "start", At: msgAt}},
		{"command with @bot and args", msg(22, `"text":"/Start@gocua_bot  install_vneid now"`),
			bot.Inbound{Kind: bot.InCommand, Command: "start", Args: "install_vneid now", At: msgAt}},
		{"command with newline", msg(23, `"text":"/HUY\nthôi"`),
			bot.Inbound{Kind: bot.InCommand, Command: "huy", Args: "thôi", At: msgAt}},
		{"a lone slash is text", msg(24, `"text":"/ hỏi"`),
			bot.Inbound{Kind: bot.InText, Text: "/ hỏi", At: msgAt}},
		{"photo with caption", msg(25, `"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"lỗi này"`),
			bot.Inbound{Kind: bot.InMedia, Text: "lỗi này", At: msgAt, Media: &bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:x"}}},
		{"sticker", msg(26, `"sticker":{"file_id":"x","file_unique_id":"y","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false}`),
			bot.Inbound{Kind: bot.InMedia, At: msgAt, Media: &bot.Media{Kind: bot.MediaSticker, Ref: "telegram:x"}}},
		{"voice", msg(27, `"voice":{"file_id":"x","file_unique_id":"y","duration":3}`),
			bot.Inbound{Kind: bot.InMedia, At: msgAt, Media: &bot.Media{Kind: bot.MediaVoice, Ref: "telegram:x"}}},
		{"forward from an origin the library does not know", msg(28, `"forward_origin":{"type":"some_future_origin","date":1},"text":"chuyển tiếp"`),
			bot.Inbound{Kind: bot.InText, Text: "chuyển tiếp", At: msgAt}},
		{"edited", `{"update_id":29,"edited_message":{"message_id":1,"date":1700000000,"edit_date":1700000050,"chat":{"id":42,"type":"private"},` + u42 + `,"text":"sửa"}}`,
			bot.Inbound{Kind: bot.InEdited, At: msgAt}},
		{"button", `{"update_id":30,"callback_query":{"id":"q1",` + u42 + `,"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":1700000000,"chat":{"id":42,"type":"private"},"text":"x"}}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu", At: tapAt}},
		{"button on an inaccessible message", `{"update_id":31,"callback_query":{"id":"q2",` + u42 + `,"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":0,"chat":{"id":42,"type":"private"}}}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu", At: tapAt}},
		{"button without a message", `{"update_id":32,"callback_query":{"id":"q3",` + u42 + `,"chat_instance":"c","inline_message_id":"im","data":"nav:menu"}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu", At: tapAt}},
		{"blocked", member(33, "member", "kicked"),
			bot.Inbound{Kind: bot.InBlocked, At: time.Unix(1700000100, 0).Add(time.Second - 1)}},
		{"unblocked", member(34, "kicked", "member"),
			bot.Inbound{Kind: bot.InUnblocked, At: time.Unix(1700000100, 0).Add(time.Second - 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if got := f.post(tt.body, secret); got != 200 {
				t.Fatalf("status %d", got)
			}
			ins := f.rec.got()
			if len(ins) != 1 {
				t.Fatalf("Handle called %d times", len(ins))
			}
			got, want := ins[0], tt.want
			want.Key = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}
			want.UserID, want.Name, want.LangHint = "42", "Lan Nguyễn", "vi"
			id := strings.TrimPrefix(tt.body, `{"update_id":`)
			want.UpdateID = id[:strings.IndexByte(id, ',')]
			want.Seq, want.GlobalSeq = atoi64(want.UpdateID), true
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
			calls := f.api.CallsTo("answerCallbackQuery")
			if want.Kind == bot.InButton {
				// The recorder is not a Tapper: its taps are answered
				// first, without text (see tap_test.go for a Tapper's).
				if !f.rec.answeredFirst[0] {
					t.Fatal("callback query not answered before Handle")
				}
				if len(calls) != 1 || calls[0].Params["callback_query_id"] == "" || calls[0].Params["text"] != "" {
					t.Fatalf("answerCallbackQuery calls: %+v", calls)
				}
			} else if len(calls) != 0 {
				t.Fatalf("answerCallbackQuery called for a %v", want.Kind)
			}
			if n := len(f.api.CallsTo("sendMessage")); n != 0 {
				t.Fatalf("the adapter itself sent %d messages", n)
			}
		})
	}
}

// A button in a group is answered (the spinner stops) but not handled.
func TestWebhookGroupButtonAnsweredNotHandled(t *testing.T) {
	f := newFixture(t)
	body := `{"update_id":40,"callback_query":{"id":"qg","from":{"id":7,"is_bot":false,"first_name":"V"},"chat_instance":"c","data":"t:1:claim","message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"x"}}}`
	if got := f.post(body, secret); got != 200 {
		t.Fatalf("status %d", got)
	}
	if len(f.rec.got()) != 0 {
		t.Fatal("Handle called for a group button")
	}
	if len(f.api.CallsTo("answerCallbackQuery")) != 1 {
		t.Fatal("group button not answered")
	}
}

// A failing answerCallbackQuery (e.g. "query is too old" on a re-delivery)
// does not stop the tap from reaching the core.
func TestWebhookCallbackAnswerFailureIsNotFatal(t *testing.T) {
	f := newFixture(t)
	f.api.FailNext("answerCallbackQuery", "", telegramtest.Failure{Status: 400, Description: "Bad Request: query is too old and response timeout expired or query ID is invalid"})
	body := `{"update_id":41,"callback_query":{"id":"old","from":{"id":42,"is_bot":false,"first_name":"Lan"},"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":"x"}}}`
	if got := f.post(body, secret); got != 200 {
		t.Fatalf("status %d", got)
	}
	if len(f.rec.got()) != 1 {
		t.Fatal("tap not handled")
	}
	if !strings.Contains(f.logs.String(), "answerCallbackQuery failed") {
		t.Fatalf("failure not logged:\n%s", f.logs.String())
	}
}

// Text reaches the core as bot.CleanText leaves it, however large or odd:
// what is printable byte for byte, control, invisible and bidi-override
// characters removed.
func TestWebhookOddTextPassesThrough(t *testing.T) {
	texts := []struct{ sent, want string }{
		{"👨‍👩‍👧‍👦 🇻🇳 e\u0301 ﷽", "👨‍👩‍👧‍👦 🇻🇳 é ﷽"},
		{"مرحبا بالعالم \u202eRTL\u202c עברית", "مرحبا بالعالم RTL עברית"},
		{"nul\x00byte and \u2028 line separator", "nulbyte and \n line separator"},
		{"<b>not markup</b> &amp; **nor this**", "<b>not markup</b> &amp; **nor this**"},
		{strings.Repeat("Bác ơi 🙂 ", 60000), strings.Repeat("Bác ơi 🙂 ", 60000)}, // ~0.9 MB, under the 1 MiB limit
	}
	for i, tt := range texts {
		f := newFixture(t, tt.sent)
		body := `{"update_id":` + itoa(50+i) + `,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":` + js(t, tt.sent) + `}}`
		if got := f.post(body, secret); got != 200 {
			t.Fatalf("text %d: status %d", i, got)
		}
		if ins := f.rec.got(); len(ins) != 1 || ins[0].Text != tt.want || ins[0].Kind != bot.InText {
			t.Fatalf("text %d: core got %#v", i, ins)
		}
	}
}

// Everything a resident wrote reaches the core cleaned: text, command
// arguments, caption, button data and name. A text with nothing left is a
// message without text.
func TestWebhookCleansWhatResidentsWrite(t *testing.T) {
	from := `"from":{"id":42,"is_bot":false,"first_name":"La\u0000n\u202e","last_name":"\nNguy\u200bễn\u0007","language_code":"v\u0000i"}`
	msg := func(id int, fields string) string {
		return `{"update_id":` + itoa(id) + `,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},` + from + `,` + fields + `}}`
	}
	tests := []struct {
		name string
		body string
		want bot.Inbound
	}{
		{"text", msg(60, `"text":"m\u0000ã OTP\u200b 48\u200b2913\r\nxong\u001b[31m"`),
			bot.Inbound{Kind: bot.InText, Text: "mã OTP 482913\nxong[31m"}},
		{"command", msg(61, `"text":"\u0000/Start\u0000 install\u202e_vneid"`),
			bot.Inbound{Kind: bot.InCommand, Command: "start", Args: "install_vneid"}},
		{"only control characters", msg(62, `"text":"\u0000\u0001\u200b"`),
			bot.Inbound{Kind: bot.InMedia}},
		{"caption", msg(63, `"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"l\u0000ỗi"`),
			bot.Inbound{Kind: bot.InMedia, Text: "lỗi"}},
		{"button", `{"update_id":64,"callback_query":{"id":"q1",` + from + `,"chat_instance":"c","data":"nav:\u0000menu","message":{"message_id":5,"date":1700000000,"chat":{"id":42,"type":"private"},"text":"x"}}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if got := f.post(tt.body, secret); got != 200 {
				t.Fatalf("status %d", got)
			}
			ins := f.rec.got()
			if len(ins) != 1 {
				t.Fatalf("Handle called %d times", len(ins))
			}
			got := ins[0]
			if got.Kind != tt.want.Kind || got.Text != tt.want.Text || got.Command != tt.want.Command ||
				got.Args != tt.want.Args || got.Data != tt.want.Data {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
			if got.Name != "Lan Nguyễn" || got.LangHint != "vi" {
				t.Fatalf("name %+q, language %+q", got.Name, got.LangHint)
			}
		})
	}
	// button data with nothing left is a tap without data: acknowledged, not handled
	f := newFixture(t)
	if got := f.post(`{"update_id":65,"callback_query":{"id":"q2",`+from+`,"chat_instance":"c","data":"\u0000","message":{"message_id":5,"date":1700000000,"chat":{"id":42,"type":"private"},"text":"x"}}}`, secret); got != 200 {
		t.Fatalf("empty data: status %d", got)
	}
	if n := len(f.rec.got()); n != 0 {
		t.Fatalf("empty data handled %d times", n)
	}
}

func TestWebhookHandleErrors(t *testing.T) {
	t.Run("core error", func(t *testing.T) {
		f := newFixture(t, privateText)
		f.rec.err = errors.New("postgres down")
		if got := f.post(textUpdate, secret); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 so Telegram retries", got)
		}
		logs := f.logs.String()
		for _, attr := range []string{`"update_id":10`, `"chat_id":"42"`, `"kind":"message"`, "postgres down"} {
			if !strings.Contains(logs, attr) {
				t.Errorf("log lacks %s:\n%s", attr, logs)
			}
		}
	})
	t.Run("busy", func(t *testing.T) {
		f := newFixture(t)
		f.rec.err = fmt.Errorf("core: %w", bot.ErrBusy)
		if got := f.post(textUpdate, secret); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 so Telegram retries", got)
		}
		if logs := f.logs.String(); !strings.Contains(logs, "too many in flight") || strings.Contains(logs, "level=ERROR") {
			t.Errorf("a refusal under load is a warning, not an error:\n%s", logs)
		}
	})
	t.Run("duplicate is success", func(t *testing.T) {
		f := newFixture(t)
		f.rec.err = bot.ErrDuplicate
		if got := f.post(textUpdate, secret); got != 200 {
			t.Fatalf("status %d", got)
		}
	})
	t.Run("panic", func(t *testing.T) {
		f := newFixture(t, privateText)
		f.rec.panicking = true
		if got := f.post(textUpdate, secret); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d", got)
		}
		if !strings.Contains(f.logs.String(), "core exploded") {
			t.Fatal("panic not logged")
		}
	})
	t.Run("no handler", func(t *testing.T) {
		api := telegramtest.New(t)
		a, err := New(Config{Token: api.Token(), WebhookSecret: secret, APIURL: api.URL()}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := post(a, textUpdate, secret); got != http.StatusServiceUnavailable {
			t.Fatalf("status %d", got)
		}
	})
}

// Telegram hanging up must not cancel the core half way; the core still has
// a deadline.
func TestWebhookHandleContext(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(textUpdate)).WithContext(ctx)
	req.Header.Set(SecretHeader, secret)
	w := httptest.NewRecorder()
	f.a.ServeHTTP(w, req)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if f.rec.ctxErr[0] != nil {
		t.Fatalf("core context cancelled with the request: %v", f.rec.ctxErr[0])
	}
	if d := f.rec.deadline; len(d) != 1 || d[0] <= 0 || d[0] > 3*time.Second {
		t.Fatalf("core deadline %v, want within HandleTimeout (3s)", d)
	}
}

func TestWebhookBodyLimitIsConfigurable(t *testing.T) {
	api := telegramtest.New(t)
	rec := &recorder{}
	a, err := New(Config{Token: api.Token(), WebhookSecret: secret, APIURL: api.URL(), MaxBody: 64}, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := post(a, textUpdate, secret); got != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", got)
	}
	if got := post(a, `{"update_id":1}`, secret); got != 200 {
		t.Fatalf("small body: %d", got)
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in, name, args string
		ok             bool
	}{
		{"/start", "start", "", true},
		{"/START@GocuaBot", "start", "", true},
		{"/switch 3", "switch", "3", true},
		{"/note\tđã gọi", "note", "đã gọi", true},
		{"/", "", "", false},
		{"/@bot", "", "", false},
		{"hello /start", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		name, args, ok := platform.ParseCommand(tt.in)
		if name != tt.name || args != tt.args || ok != tt.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v", tt.in, name, args, ok)
		}
	}
}
