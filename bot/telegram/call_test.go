package telegram

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tgbot "github.com/go-telegram/bot"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// The calls every resident's update makes go out as one JSON body with its
// length (not the library's streamed multipart form), and Telegram reads
// them as before: chat_id a number, the markup and link options objects.
func TestHotCallsAreJSON(t *testing.T) {
	f, _ := newTapFixture(t, 0, bot.Ack{Text: "Đã nhận"}, nil)
	ctx := context.Background()
	if err := f.a.Deliver(ctx, outbound("Bác bấm <b>", []bot.Button{{Text: "Tiếp", Data: "s:1"}})); err != nil {
		t.Fatal(err)
	}
	id, err := f.a.Post(ctx, "-100200", "Hàng chờ: 1", nil)
	if err != nil || id == "" || id == "0" {
		t.Fatalf("post: id %q, %v", id, err)
	}
	if err := f.a.Edit(ctx, "-100200", id, "Hàng chờ: 0", nil); err != nil {
		t.Fatal(err)
	}
	if code := f.post(tapBody(31, "42", "private", "nav:menu"), secret); code != http.StatusOK {
		t.Fatalf("tap: %d", code)
	}
	want := map[string]bool{"sendMessage": false, "editMessageText": false, "answerCallbackQuery": false}
	for _, c := range f.api.Calls() {
		if _, ok := want[c.Method]; !ok {
			continue
		}
		want[c.Method] = true
		if c.ContentType != "application/json" || c.Length <= 0 {
			t.Errorf("%s went as %q, length %d", c.Method, c.ContentType, c.Length)
		}
		if c.Method == "answerCallbackQuery" {
			continue
		}
		if chat := c.Params["chat_id"]; chat != "42" && chat != "-100200" {
			t.Errorf("%s chat_id %q", c.Method, chat)
		}
	}
	for m, seen := range want {
		if !seen {
			t.Errorf("no %s call", m)
		}
	}
	sent := f.api.Sent()
	if len(sent) < 1 || sent[0].Plain != "Bác bấm <b>" || len(sent[0].Keyboard) != 1 || sent[0].Keyboard[0][0].CallbackData != "s:1" {
		t.Fatalf("resident reads %+v", sent)
	}
}

// call turns every answer into the error the library gives for it (so
// mapError reads both alike), and never puts the token in an error.
func TestCallAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		check  func(error) bool
	}{
		{"429", 429, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}`,
			func(err error) bool {
				tmr, ok := errors.AsType[*tgbot.TooManyRequestsError](err)
				return ok && tmr.RetryAfter == 3
			}},
		{"migrated", 400, `{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}`,
			func(err error) bool {
				me, ok := errors.AsType[*tgbot.MigrateError](err)
				return ok && me.MigrateToChatID == -1001234
			}},
		{"400", 400, `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`,
			func(err error) bool {
				return errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(err.Error(), "chat not found")
			}},
		{"403", 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}`,
			func(err error) bool { return errors.Is(err, tgbot.ErrorForbidden) }},
		{"401", 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`,
			func(err error) bool { return errors.Is(err, tgbot.ErrorUnauthorized) }},
		{"502 from a proxy", 502, `<html>Bad Gateway</html>`,
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "502") }},
		{"500", 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`,
			func(err error) bool { return err != nil && !errors.Is(err, tgbot.ErrorBadRequest) }},
		{"huge answer", 200, `{"ok":true,"result":"` + strings.Repeat("x", maxAPIAnswer) + `"}`,
			func(err error) bool { return err != nil && strings.Contains(err.Error(), "over") }},
		{"ok", 200, `{"ok":true,"result":{"message_id":9}}`, func(err error) bool { return err == nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			a, err := New(Config{Token: telegramtest.Token, APIURL: srv.URL}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = a.call(context.Background(), "sendMessage", map[string]any{"chat_id": 42, "text": "x"}, nil)
			if !tc.check(err) {
				t.Fatalf("error %v", err)
			}
			if err != nil && strings.Contains(err.Error(), telegramtest.Token) {
				t.Fatalf("the token is in the error: %v", err)
			}
		})
	}
	// a Bot API that cannot be reached: the URL in the error has no token
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	a, err := New(Config{Token: telegramtest.Token, APIURL: srv.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = a.call(context.Background(), "sendMessage", map[string]any{"chat_id": 42}, nil)
	if err == nil || strings.Contains(err.Error(), telegramtest.Token) || !strings.Contains(err.Error(), "***") {
		t.Fatalf("unreachable API: %v", err)
	}
}
