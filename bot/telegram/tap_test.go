package telegram

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
)

// tapCore is a core that answers taps (a Tapper): taps go to the recorder
// through HandleTap, which notes whether the tap had already been answered.
type tapCore struct {
	*recorder
	ack            bot.Ack
	err            error
	panicking      bool
	taps           []bot.Inbound
	answeredBefore []bool
}

func (c *tapCore) HandleTap(_ context.Context, in bot.Inbound) (bot.Ack, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.panicking {
		panic("core exploded")
	}
	c.taps = append(c.taps, in)
	c.answeredBefore = append(c.answeredBefore, len(c.api.CallsTo("answerCallbackQuery")) > 0)
	return c.ack, c.err
}

func newTapFixture(t *testing.T, volunteers int64, ack bot.Ack, err error) (*fixture, *tapCore) {
	t.Helper()
	var core *tapCore
	f := newFixtureWith(t, func(c *Config) { c.VolunteerChatID = volunteers },
		func(r *recorder) Handler { core = &tapCore{recorder: r, ack: ack, err: err}; return core }, nil)
	return f, core
}

func tapBody(id int, chatID, chatType, data string) string {
	return `{"update_id":` + itoa(id) + `,"callback_query":{"id":"q` + itoa(id) + `","from":{"id":7,"is_bot":false,"first_name":"Minh"},"chat_instance":"c","data":"` + data + `","message":{"message_id":5,"date":1,"chat":{"id":` + chatID + `,"type":"` + chatType + `"},"text":"x"}}}`
}

// A Tapper's Ack is the tap's answer: sent after HandleTap, with its text
// and alert, for a resident's tap and for a volunteer's in the group.
func TestWebhookTapAnsweredWithAck(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		ack       bot.Ack
		wantChat  string
		wantAlert string
	}{
		{"resident's notice", tapBody(80, "42", "private", "nav:menu"), bot.Ack{Text: "Đã lưu 🙂"}, "42", ""},
		{"volunteer's alert", tapBody(81, "-1001234", "supergroup", "t:12:claim"), bot.Ack{Text: "#12 đã có người nhận", Alert: true}, "-1001234", "true"},
		{"zero Ack just stops the spinner", tapBody(82, "42", "private", "nav:menu"), bot.Ack{}, "42", ""},
		{"an alert without text is no alert", tapBody(83, "42", "private", "nav:menu"), bot.Ack{Alert: true}, "42", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, core := newTapFixture(t, -1001234, tt.ack, nil)
			if got := f.post(tt.body, secret); got != http.StatusOK {
				t.Fatalf("status %d", got)
			}
			if len(core.taps) != 1 || core.taps[0].Key.ChatID != tt.wantChat || core.taps[0].UserID != "7" || core.taps[0].Kind != bot.InButton {
				t.Fatalf("taps %+v", core.taps)
			}
			if core.answeredBefore[0] {
				t.Fatal("tap answered before HandleTap ran")
			}
			if n := len(f.rec.got()); n != 0 {
				t.Fatalf("Handle called %d times for a Tapper's tap", n)
			}
			calls := f.api.CallsTo("answerCallbackQuery")
			if len(calls) != 1 {
				t.Fatalf("answerCallbackQuery calls: %+v", calls)
			}
			p := calls[0].Params
			if !strings.Contains(tt.body, `"id":"`+p["callback_query_id"]+`"`) || p["callback_query_id"] == "" ||
				p["text"] != tt.ack.Text || p["show_alert"] != tt.wantAlert {
				t.Fatalf("answer %v, want text %q alert %q", p, tt.ack.Text, tt.wantAlert)
			}
		})
	}
}

// A failing or panicking core still stops the spinner (no text), and the
// webhook answers 503 so Telegram delivers the tap again; a duplicate is
// success.
func TestWebhookTapErrorsStillAnswer(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		panicking bool
		want      int
	}{
		{"core error", errors.New("redis down"), false, http.StatusServiceUnavailable},
		{"panic", nil, true, http.StatusServiceUnavailable},
		{"duplicate", bot.ErrDuplicate, false, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, core := newTapFixture(t, 0, bot.Ack{Text: "không được gửi", Alert: true}, tt.err)
			core.panicking = tt.panicking
			if got := f.post(tapBody(84, "42", "private", "nav:menu"), secret); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			calls := f.api.CallsTo("answerCallbackQuery")
			if len(calls) != 1 || calls[0].Params["text"] != "" || calls[0].Params["show_alert"] != "" {
				t.Fatalf("answerCallbackQuery calls: %+v", calls)
			}
		})
	}
}

// With a Tapper, what is not a handled tap keeps its old path: messages go
// to Handle, an ignored tap is answered at once.
func TestWebhookTapperOtherUpdates(t *testing.T) {
	f, core := newTapFixture(t, -1001234, bot.Ack{Text: "x"}, nil)
	if got := f.post(textUpdate, secret); got != http.StatusOK {
		t.Fatalf("text: status %d", got)
	}
	if got := f.post(tapBody(85, "-1009999", "supergroup", "t:1:claim"), secret); got != http.StatusOK {
		t.Fatalf("other group's tap: status %d", got)
	}
	if n := len(f.rec.got()); n != 1 || len(core.taps) != 0 {
		t.Fatalf("Handle %d times, HandleTap %d times", n, len(core.taps))
	}
	if calls := f.api.CallsTo("answerCallbackQuery"); len(calls) != 1 || calls[0].Params["text"] != "" {
		t.Fatalf("answerCallbackQuery calls: %+v", calls)
	}
	if f.api.Violations() != 0 || len(f.api.CallsTo("sendMessage")) != 0 {
		t.Fatal("the adapter sent something")
	}
}

// A long notice is cut to Telegram's 200 characters on a rune boundary; the
// fake Bot API refuses anything longer.
func TestWebhookTapLongAck(t *testing.T) {
	long := strings.Repeat("Bác ơi 👨‍👩‍👧 ", 40)
	f, _ := newTapFixture(t, 0, bot.Ack{Text: long}, nil)
	if got := f.post(tapBody(86, "42", "private", "nav:menu"), secret); got != http.StatusOK {
		t.Fatalf("status %d", got)
	}
	calls := f.api.CallsTo("answerCallbackQuery")
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	text := calls[0].Params["text"]
	if n := len(utf16.Encode([]rune(text))); n > MaxAnswerText || n < MaxAnswerText-2 || !utf8.ValidString(text) ||
		!strings.HasSuffix(text, "…") || !strings.HasPrefix(long, strings.TrimSuffix(text, "…")) {
		t.Fatalf("answer text (%d units) %q", n, text)
	}
	if strings.Contains(f.logs.String(), "answerCallbackQuery failed") {
		t.Fatal("the answer was refused")
	}
}

func TestTruncateUnits(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"", 5, ""},
		{"abcde", 5, "abcde"},
		{"abcdef", 5, "abcd…"},
		{"ab🙂", 4, "ab🙂"},
		{"ab🙂c", 4, "ab…"},
		{"ab🙂cd", 4, "ab…"}, // the emoji is two units: it does not fit with the ellipsis
		{"abc🙂", 4, "abc…"}, // the emoji would go over
		{"tiếng Việt", 6, "tiếng…"},
		{"\xff\xfeab", 2, "\xff…"}, // invalid bytes are runes of one unit
	}
	for _, tt := range tests {
		if got := truncateUnits(tt.in, tt.limit); got != tt.want {
			t.Errorf("truncateUnits(%q, %d) = %q, want %q", tt.in, tt.limit, got, tt.want)
		}
	}
}
