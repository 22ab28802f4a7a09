package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// call posts a JSON body to a method and returns the status and decoded answer.
func call(t *testing.T, s *Server, method, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.URL()+"/bot"+Token+"/"+method, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func client(t *testing.T, s *Server) *tgbot.Bot {
	t.Helper()
	b, err := tgbot.New(s.Token(), tgbot.WithServerURL(s.URL()), tgbot.WithSkipGetMe())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The library sends multipart/form-data; the server must read it, parse the
// keyboard and ignore the copy_text the library always adds.
func TestMultipartFromLibrary(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	msg, err := b.SendMessage(ctx, &tgbot.SendMessageParams{
		ChatID: 42, Text: "Bác <b>bấm</b> &amp; chờ 🙂", ParseMode: models.ParseModeHTML,
		ReplyMarkup: models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
			{{Text: "Tiếp", CallbackData: "n:1"}, {Text: "Mở", URL: "https://vneid.gov.vn"}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID != 1 || msg.Chat.ID != 42 {
		t.Fatalf("answer %+v", msg)
	}
	if _, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: 42, Text: "hai"}); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent()
	if len(sent) != 2 || sent[1].MessageID != 2 {
		t.Fatalf("sent %+v", sent)
	}
	m := sent[0]
	if m.ChatID != "42" || m.Text != "Bác <b>bấm</b> &amp; chờ 🙂" || m.Plain != "Bác bấm & chờ 🙂" || m.ParseMode != "HTML" {
		t.Fatalf("message %+v", m)
	}
	want := [][]Btn{{{Text: "Tiếp", CallbackData: "n:1"}, {Text: "Mở", URL: "https://vneid.gov.vn"}}}
	if len(m.Keyboard) != 1 || len(m.Keyboard[0]) != 2 || m.Keyboard[0][0] != want[0][0] || m.Keyboard[0][1] != want[0][1] {
		t.Fatalf("keyboard %+v", m.Keyboard)
	}
	if ok, err := b.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: "q1"}); err != nil || !ok {
		t.Fatalf("answerCallbackQuery: %v %v", ok, err)
	}
	if c := s.CallsTo("answerCallbackQuery"); len(c) != 1 || c[0].Params["callback_query_id"] != "q1" {
		t.Fatalf("calls %+v", c)
	}
	if _, err := b.EditMessageReplyMarkup(ctx, &tgbot.EditMessageReplyMarkupParams{ChatID: 42, MessageID: 1}); err != nil {
		t.Fatal(err)
	}
	me, err := b.GetMe(ctx)
	if err != nil || me.ID != BotID {
		t.Fatalf("getMe %+v %v", me, err)
	}
	if _, err := b.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "start", Description: "Bắt đầu"}}, LanguageCode: "vi"}); err != nil {
		t.Fatal(err)
	}
	if c := s.CallsTo("setMyCommands"); len(c) != 1 || c[0].Params["language_code"] != "vi" || !strings.Contains(c[0].Params["commands"], "Bắt đầu") {
		t.Fatalf("setMyCommands %+v", c)
	}
}

func TestWebhookState(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	if _, err := b.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "http://insecure.example"}); err == nil {
		t.Fatal("http webhook accepted")
	}
	if _, err := b.SetWebhook(ctx, &tgbot.SetWebhookParams{
		URL: "https://bot.example/webhook/telegram", SecretToken: "abc", MaxConnections: 7,
		AllowedUpdates: []string{"message", "callback_query"},
	}); err != nil {
		t.Fatal(err)
	}
	info, err := b.GetWebhookInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.URL != "https://bot.example/webhook/telegram" || info.MaxConnections != 7 || len(info.AllowedUpdates) != 2 {
		t.Fatalf("webhook info %+v", info)
	}
	if wh := s.Webhook(); wh.SecretToken != "abc" || wh.AllowedUpdates[1] != "callback_query" {
		t.Fatalf("Webhook() %+v", wh)
	}
	if _, err := b.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
		t.Fatal(err)
	}
	if info, err := b.GetWebhookInfo(ctx); err != nil || info.URL != "" {
		t.Fatalf("after delete: %+v %v", info, err)
	}
}

func TestBodyFormats(t *testing.T) {
	s := New(t)
	if code, _ := call(t, s, "sendMessage", `{"chat_id":7,"text":"json","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"x"}]]}}`); code != 200 {
		t.Fatalf("json: %d", code)
	}
	resp, err := http.PostForm(s.URL()+"/bot"+Token+"/sendMessage", url.Values{"chat_id": {"8"}, "text": {"form"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("form: %d", resp.StatusCode)
	}
	if code, _ := call(t, s, "someFutureMethod", `{"x":1}`); code != 200 {
		t.Fatalf("unknown method: %d", code)
	}
	sent := s.Sent()
	if len(sent) != 2 || sent[0].ChatID != "7" || sent[0].Keyboard[0][0].CallbackData != "x" || sent[1].Text != "form" {
		t.Fatalf("sent %+v", sent)
	}
	if c := s.CallsTo("someFutureMethod"); len(c) != 1 || c[0].Params["x"] != "1" {
		t.Fatalf("unknown method not recorded: %+v", c)
	}
	if len(s.Calls()) != 3 {
		t.Fatalf("calls %d", len(s.Calls()))
	}
}

func TestValidatesLikeTelegram(t *testing.T) {
	s := New(t)
	tests := []struct{ name, body, want string }{
		{"empty text", `{"chat_id":1,"text":""}`, "message text is empty"},
		{"too long", `{"chat_id":1,"text":"` + strings.Repeat("🙂", 2049) + `"}`, "message is too long"},
		{"bad html", `{"chat_id":1,"text":"a < b","parse_mode":"HTML"}`, "can't parse entities"},
		{"unknown tag", `{"chat_id":1,"text":"<script>x</script>","parse_mode":"HTML"}`, "can't parse entities"},
		{"unbalanced", `{"chat_id":1,"text":"<b>x","parse_mode":"HTML"}`, "can't parse entities"},
		{"bare ampersand", `{"chat_id":1,"text":"a & b","parse_mode":"HTML"}`, "can't parse entities"},
		{"long data", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("d", 65) + `"}]]}}`, "BUTTON_DATA_INVALID"},
		{"no data", `{"chat_id":1,"text":"x","reply_markup":{"inline_keyboard":[[{"text":"a"}]]}}`, "BUTTON_DATA_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, s, "sendMessage", tt.body)
			if code != 400 || !strings.Contains(body["description"].(string), tt.want) {
				t.Fatalf("%d %v, want 400 %q", code, body, tt.want)
			}
		})
	}
	// 4096 UTF-16 units after entity parsing is fine, markup does not count
	ok := "<b>" + strings.Repeat("&amp;", 4096) + "</b>"
	if code, body := call(t, s, "sendMessage", `{"chat_id":1,"parse_mode":"HTML","text":"`+ok+`"}`); code != 200 {
		t.Fatalf("4096 units: %d %v", code, body)
	}
	if len(s.Sent()) != 1 {
		t.Fatalf("refused messages recorded as sent: %d", len(s.Sent()))
	}
}

func TestFailures(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	send := func(chat int) error {
		_, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: chat, Text: "hi"})
		return err
	}
	s.FailNext("sendMessage", "1", TooManyRequests(3))
	if err := send(2); err != nil { // another chat is not affected
		t.Fatal(err)
	}
	var tmr *tgbot.TooManyRequestsError
	if err := send(1); !errors.As(err, &tmr) || tmr.RetryAfter != 3 {
		t.Fatalf("429: %v", err)
	}
	if err := send(1); err != nil { // used once
		t.Fatal(err)
	}
	s.FailNext("sendMessage", "", Blocked())
	if err := send(5); !errors.Is(err, tgbot.ErrorForbidden) || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("403: %v", err)
	}
	s.FailNext("sendMessage", "", ServerError())
	if err := send(5); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("500: %v", err)
	}
	s.FailNext("sendMessage", "", Slow(100*time.Millisecond))
	began := time.Now()
	if err := send(5); err != nil || time.Since(began) < 100*time.Millisecond {
		t.Fatalf("slow: %v after %v", err, time.Since(began))
	}
	s.FailNext("sendMessage", "", Slow(time.Minute))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := b.SendMessage(short, &tgbot.SendMessageParams{ChatID: 5, Text: "hi"}); err == nil {
		t.Fatal("a slow answer did not time out on the client")
	}
	if n := len(s.Sent()); n != 3 {
		t.Fatalf("sent %d, want 3", n)
	}
	if n := len(s.CallsTo("sendMessage")); n != 7 {
		t.Fatalf("recorded %d calls, want 7", n)
	}
}

func TestRateLimits(t *testing.T) {
	s := New(t, WithRates(PerSecond(1), PerSecond(3)), WithGroupRateLimit(PerMinute(2)))
	status := func(chat string) int {
		code, _ := call(t, s, "sendMessage", `{"chat_id":"`+chat+`","text":"x"}`)
		return code
	}
	if status("1") != 200 || status("1") != 429 {
		t.Fatal("second message to one chat in a second was not refused")
	}
	if status("2") != 200 {
		t.Fatal("other chat refused")
	}
	if status("3") != 200 || status("4") != 429 {
		t.Fatal("fourth message in a second overall was not refused")
	}
	v := s.ViolationLog()
	if s.Violations() != 2 || len(v) != 2 || v[0].Limit != "chat" || v[0].ChatID != "1" || v[0].RetryAfter != 1 || v[1].Limit != "global" || v[1].ChatID != "4" {
		t.Fatalf("violations %+v", v)
	}

	g := New(t, WithGroupRateLimit(PerMinute(2)))
	for i, want := range []int{200, 200, 429} {
		if code, body := call(t, g, "sendMessage", `{"chat_id":-100,"text":"x"}`); code != want {
			t.Fatalf("group message %d: %d %v", i, code, body)
		} else if want == 429 && body["parameters"].(map[string]any)["retry_after"].(float64) < 59 {
			t.Fatalf("group retry_after %v", body)
		}
	}
	if code, _ := call(t, g, "sendMessage", `{"chat_id":7,"text":"x"}`); code != 200 {
		t.Fatal("group limit applied to a private chat")
	}
	if v := g.ViolationLog(); len(v) != 1 || v[0].Limit != "group" {
		t.Fatalf("group violations %+v", v)
	}
}

func TestWithRateLimitShorthand(t *testing.T) {
	s := New(t, WithRateLimit(2, time.Minute, 0))
	for i, want := range []int{200, 200, 429} {
		if code, _ := call(t, s, "sendMessage", `{"chat_id":9,"text":"x"}`); code != want {
			t.Fatalf("message %d: %d, want %d", i, code, want)
		}
	}
	if v := s.ViolationLog(); len(v) != 1 || v[0].RetryAfter < 59 {
		t.Fatalf("violations %+v", v)
	}
}

func TestWaitSentAndConcurrency(t *testing.T) {
	s := New(t)
	var seen sync.Map
	// message ids are per chat, as Telegram's: a message is its chat and id
	type msgKey struct {
		chat string
		id   int
	}
	s.OnSend(func(m SentMessage) { seen.Store(msgKey{m.ChatID, m.MessageID}, true) })
	b := client(t, s)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := b.SendMessage(context.Background(), &tgbot.SendMessageParams{ChatID: i + 1, Text: "hi"}); err != nil {
				t.Error(err)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.WaitSent(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	ids := map[msgKey]bool{}
	for _, m := range got {
		ids[msgKey{m.ChatID, m.MessageID}] = true
		if _, ok := seen.Load(msgKey{m.ChatID, m.MessageID}); !ok {
			t.Errorf("OnSend missed message %d", m.MessageID)
		}
	}
	if len(ids) != n {
		t.Fatalf("%d distinct message ids, want %d", len(ids), n)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if got, err := s.WaitSent(short, n+1); !errors.Is(err, context.DeadlineExceeded) || len(got) != n {
		t.Fatalf("WaitSent past the deadline: %d, %v", len(got), err)
	}
}

func TestWrongToken(t *testing.T) {
	s := New(t)
	resp, err := http.Post(s.URL()+"/botWRONG/getMe", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if len(s.Calls()) != 0 {
		t.Fatal("call with a wrong token recorded")
	}
}

func TestParseHTML(t *testing.T) {
	tests := map[string]string{
		"plain":                             "plain",
		"<b>x</b> <i>y</i>":                 "x y",
		`<a href="https://x.vn">link</a>`:   "link",
		"&lt;&gt;&amp;&quot;&#39;&#x1F642;": `<>&"'🙂`,
		"<b><i>x</i></b>":                   "x",
	}
	for in, want := range tests {
		got, err := parseHTML(in)
		if err != nil || got != want {
			t.Errorf("parseHTML(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"<b><i>x</b></i>", "</b>", "&nbsp;", "&#xZZ;", "<b", "x > y"} {
		if _, err := parseHTML(bad); err == nil {
			t.Errorf("parseHTML(%q) accepted", bad)
		}
	}
}
