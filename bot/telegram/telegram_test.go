package telegram

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

const secret = "s3cret_token-1"

type recorder struct {
	mu  sync.Mutex
	in  []bot.Inbound
	err error
	// answeredFirst is set when the callback was answered before Handle ran
	api           *telegramtest.Server
	answeredFirst bool
}

func (r *recorder) Handle(_ context.Context, in bot.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in.Kind == bot.InButton && r.api != nil {
		r.answeredFirst = len(r.api.CallsTo("answerCallbackQuery")) > 0
	}
	r.in = append(r.in, in)
	return r.err
}

func newAdapter(t *testing.T) (*Adapter, *recorder, *telegramtest.Server, *bytes.Buffer) {
	t.Helper()
	api := telegramtest.New(t)
	rec := &recorder{api: api}
	logs := &bytes.Buffer{}
	a, err := New(Config{Token: api.Token(), WebhookSecret: secret, APIURL: api.URL(), PublicURL: "https://bot.example.gov.vn"},
		rec, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return a, rec, api, logs
}

func post(a *Adapter, body, sec string) int {
	req := httptest.NewRequest(http.MethodPost, "/webhook/telegram", strings.NewReader(body))
	if sec != "" {
		req.Header.Set(SecretHeader, sec)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	return w.Code
}

func TestWebhookStatusCodes(t *testing.T) {
	a, rec, api, logs := newAdapter(t)
	msg := `{"update_id":10,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"text":"mật khẩu bí mật"}}`
	tests := []struct {
		name   string
		body   string
		secret string
		want   int
	}{
		{"wrong secret", msg, "nope", 401},
		{"missing secret", msg, "", 401},
		{"secret prefix", msg, secret[:5], 401},
		{"too large", `{"update_id":1,"message":{"text":"` + strings.Repeat("a", 2<<20) + `"}}`, secret, 413},
		{"malformed", `{`, secret, 400},
		{"not an object", `[1,2]`, secret, 400},
		{"no update id", `{"message":{"text":"hi"}}`, secret, 400},
		{"unknown update type", `{"update_id":11,"chat_join_request":{"chat":{"id":-5,"type":"supergroup"},"from":{"id":1,"is_bot":false,"first_name":"x"},"user_chat_id":1,"date":1}}`, secret, 200},
		{"future update type", `{"update_id":12,"some_new_thing":{"x":1}}`, secret, 200},
		{"group message", `{"update_id":13,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"hi"}}`, secret, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(a, tt.body, tt.secret); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if len(rec.in) != 0 {
		t.Fatalf("Handle called for %d refused or ignored updates", len(rec.in))
	}
	if len(api.Sent()) != 0 {
		t.Fatal("something was sent")
	}
	if strings.Contains(logs.String(), "bí mật") || strings.Contains(logs.String(), secret) {
		t.Fatal("logs contain a message body or the secret")
	}
	req := httptest.NewRequest(http.MethodGet, "/webhook/telegram", nil)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", w.Code)
	}
}

func TestWebhookWithoutConfiguredSecretRefusesAll(t *testing.T) {
	api := telegramtest.New(t)
	a, err := New(Config{Token: api.Token(), APIURL: api.URL()}, &recorder{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := post(a, `{"update_id":1}`, ""); got != 401 {
		t.Fatalf("status %d, want 401", got)
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bot.Inbound
	}{
		{"text", `{"update_id":20,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan","last_name":"Nguyễn","language_code":"vi"},"text":"cài vneid 🙂"}}`,
			bot.Inbound{Kind: bot.InText, Text: "cài vneid 🙂", Name: "Lan Nguyễn", LangHint: "vi", UserID: "42"}},
		{"command with bot name", `{"update_id":21,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"/Start@gocua_bot install_vneid"}}`,
			bot.Inbound{Kind: bot.InCommand, Command: "start", Args: "install_vneid"}},
		{"photo", `{"update_id":22,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"lỗi này"}}`,
			bot.Inbound{Kind: bot.InMedia, Text: "lỗi này"}},
		{"edited", `{"update_id":23,"edited_message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"sửa"}}`,
			bot.Inbound{Kind: bot.InEdited}},
		{"callback", `{"update_id":24,"callback_query":{"id":"q1","from":{"id":42,"is_bot":false,"first_name":"Lan"},"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":"x"}}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu", Name: "Lan", UserID: "42"}},
		{"callback on inaccessible message", `{"update_id":25,"callback_query":{"id":"q2","from":{"id":42,"is_bot":false,"first_name":"Lan"},"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":0,"chat":{"id":42,"type":"private"}}}}`,
			bot.Inbound{Kind: bot.InButton, Data: "nav:menu", Name: "Lan", UserID: "42"}},
		{"blocked", `{"update_id":26,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"b"},"until_date":0}}}`,
			bot.Inbound{Kind: bot.InBlocked, Name: "Lan", UserID: "42"}},
		{"unblocked", `{"update_id":27,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"date":1,"old_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"b"},"until_date":0},"new_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}}}}`,
			bot.Inbound{Kind: bot.InUnblocked, Name: "Lan", UserID: "42"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, rec, api, _ := newAdapter(t)
			if got := post(a, tt.body, secret); got != 200 {
				t.Fatalf("status %d", got)
			}
			if len(rec.in) != 1 {
				t.Fatalf("Handle called %d times", len(rec.in))
			}
			got := rec.in[0]
			if got.Key != (bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}) || got.UpdateID == "" || got.Seq == 0 {
				t.Fatalf("key/update id: %+v", got)
			}
			w := tt.want
			if got.Kind != w.Kind || got.Text != w.Text || got.Data != w.Data || got.Command != w.Command || got.Args != w.Args ||
				(w.Name != "" && got.Name != w.Name) || (w.LangHint != "" && got.LangHint != w.LangHint) || (w.UserID != "" && got.UserID != w.UserID) {
				t.Fatalf("got %+v\nwant %+v", got, w)
			}
			if w.Kind == bot.InButton {
				if !rec.answeredFirst {
					t.Fatal("callback query not answered before Handle")
				}
				if c := api.CallsTo("answerCallbackQuery"); len(c) != 1 || c[0].Params["callback_query_id"] == "" {
					t.Fatalf("answerCallbackQuery calls: %+v", c)
				}
			}
		})
	}
}

func TestHandleErrorMeansRetry(t *testing.T) {
	a, rec, _, _ := newAdapter(t)
	rec.err = errors.New("postgres down")
	body := `{"update_id":30,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"hi"}}`
	if got := post(a, body, secret); got < 500 {
		t.Fatalf("status %d, want 5xx so Telegram retries", got)
	}
}

func TestDeliver(t *testing.T) {
	a, _, api, _ := newAdapter(t)
	ctx := context.Background()
	out := bot.Outbound{ID: "1/0", Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}, Text: "Bác bấm **Cài đặt** <ngay> & chờ 🙂",
		Buttons: [][]bot.Button{{{Text: "Tiếp", Data: "s:ABC"}, {Text: "Mở", URL: "https://dichvucong.gov.vn"}}}}
	if err := a.Deliver(ctx, out); err != nil {
		t.Fatal(err)
	}
	sent := api.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d", len(sent))
	}
	if want := "Bác bấm <b>Cài đặt</b> &lt;ngay&gt; &amp; chờ 🙂"; sent[0].Text != want || sent[0].ParseMode != "HTML" {
		t.Fatalf("text %q (%s), want %q", sent[0].Text, sent[0].ParseMode, want)
	}
	calls := api.CallsTo("sendMessage")
	markup := calls[0].Params["reply_markup"]
	if strings.Contains(markup, "copy_text") {
		t.Fatalf("reply_markup sends copy_text: %s", markup)
	}
	if kb := sent[0].Keyboard; len(kb) != 1 || kb[0][0].CallbackData != "s:ABC" || kb[0][1].URL != "https://dichvucong.gov.vn" || kb[0][1].CallbackData != "" {
		t.Fatalf("keyboard %+v", kb)
	}

	api.FailNext("sendMessage", "42", telegramtest.TooManyRequests(7))
	var ra *bot.RetryAfterError
	if err := a.Deliver(ctx, out); !errors.As(err, &ra) || ra.After != 7*time.Second {
		t.Fatalf("429: got %v", err)
	}
	api.FailNext("sendMessage", "42", telegramtest.Blocked())
	if err := a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("403: got %v", err)
	}
	api.FailNext("sendMessage", "42", telegramtest.Failure{Status: 400, Description: "Bad Request: chat not found"})
	if err := a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("chat not found: got %v", err)
	}
	api.FailNext("sendMessage", "42", telegramtest.ServerError())
	if err := a.Deliver(ctx, out); err == nil || errors.Is(err, bot.ErrUnreachable) || errors.As(err, &ra) {
		t.Fatalf("500: got %v, want a plain retryable error", err)
	}
	long := out
	long.Text = strings.Repeat("🙂", 2049) // 4098 UTF-16 units
	if err := a.Deliver(ctx, long); err == nil {
		t.Fatal("over-long text accepted")
	}
	bad := out
	bad.Buttons = [][]bot.Button{{{Text: "x", Data: strings.Repeat("d", 65)}}}
	if err := a.Deliver(ctx, bad); err == nil {
		t.Fatal("65-byte callback data accepted")
	}
}

func TestToHTML(t *testing.T) {
	tests := map[string]string{
		"plain":                  "plain",
		"**bold**":               "<b>bold</b>",
		"a **b** c **d**":        "a <b>b</b> c <b>d</b>",
		"unpaired ** star":       "unpaired ** star",
		"<script>&\"'":           "&lt;script&gt;&amp;&#34;&#39;",
		"**<i>**":                "<b>&lt;i&gt;</b>",
		"🙂 ت \u200f":             "🙂 ت \u200f",
		"":                       "",
		"****":                   "<b></b>",
		"**Cài đặt** → **Nhận**": "<b>Cài đặt</b> → <b>Nhận</b>",
	}
	for in, want := range tests {
		if got := ToHTML(in); got != want {
			t.Errorf("ToHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSetWebhook(t *testing.T) {
	a, _, api, _ := newAdapter(t)
	err := a.SetWebhook(context.Background(), map[string][]Command{
		"vi": {{Name: "start", Description: "Bắt đầu"}},
		"en": {{Name: "start", Description: "Start"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	wh := api.CallsTo("setWebhook")
	if len(wh) != 1 {
		t.Fatalf("setWebhook calls: %d", len(wh))
	}
	p := wh[0].Params
	if p["url"] != "https://bot.example.gov.vn/webhook/telegram" || p["secret_token"] != secret {
		t.Fatalf("setWebhook params %v", p)
	}
	for _, u := range []string{"message", "edited_message", "callback_query", "my_chat_member"} {
		if !strings.Contains(p["allowed_updates"], `"`+u+`"`) {
			t.Errorf("allowed_updates %s lacks %s", p["allowed_updates"], u)
		}
	}
	cmds := api.CallsTo("setMyCommands")
	langs := map[string]string{}
	for _, c := range cmds {
		langs[c.Params["language_code"]] = c.Params["commands"]
	}
	if !strings.Contains(langs[""], "Bắt đầu") || !strings.Contains(langs["vi"], "Bắt đầu") || !strings.Contains(langs["en"], "Start") {
		t.Fatalf("setMyCommands by language: %v", langs)
	}
}
