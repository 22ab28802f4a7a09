package telegram

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

func TestPostAndEdit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	claim := [][]bot.Button{{{Text: "Nhận #12", Data: "t:12:claim"}}}
	id, err := f.a.Post(ctx, "-100", "**#12** · Bác Lan <cài VNeID>", claim)
	if err != nil || id != "1" {
		t.Fatalf("post: %q %v", id, err)
	}
	if id2, err := f.a.Post(ctx, "-100", "#13", nil); err != nil || id2 != "2" {
		t.Fatalf("second post: %q %v", id2, err)
	}
	sent := f.api.Sent()
	if sent[0].ChatID != "-100" || sent[0].Plain != "#12 · Bác Lan <cài VNeID>" || len(sent[0].Keyboard) != 1 {
		t.Fatalf("posted %+v", sent[0])
	}
	if err := f.a.Edit(ctx, "-100", id, "**#12** · đã nhận 🙂", nil); err != nil {
		t.Fatalf("edit: %v", err)
	}
	if err := f.a.Edit(ctx, "-100", id, "**#12** · đã nhận 🙂", nil); err != nil {
		t.Fatalf("unchanged edit: %v, want nil", err)
	}
	if err := f.a.Edit(ctx, "-100", id, "**#12** · đã nhận 🙂", claim); err != nil {
		t.Fatalf("buttons back: %v", err)
	}
	e := f.api.Edits()
	if len(e) != 2 || e[0].MessageID != 1 || e[0].Plain != "#12 · đã nhận 🙂" || e[0].Keyboard != nil || len(e[1].Keyboard) != 1 {
		t.Fatalf("edits %+v", e)
	}
	if err := f.a.Edit(ctx, "-100", "99", "x", nil); !errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("gone message: %v", err)
	}
	if n := len(f.api.CallsTo("editMessageText")); n != 4 {
		t.Fatalf("%d editMessageText calls, want 4 (the unchanged one refused by the API)", n)
	}
}

func TestPostAndEditRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	long := strings.Repeat("🙂", 2049)
	posts := []struct {
		name, chat, text string
		buttons          [][]bot.Button
	}{
		{"no chat", "", "x", nil},
		{"no text", "-100", " \n", nil},
		{"too long", "-100", long, nil},
		{"65-byte data", "-100", "x", [][]bot.Button{{{Text: "x", Data: strings.Repeat("d", 65)}}}},
		{"button without text", "-100", "x", [][]bot.Button{{{Data: "d"}}}},
	}
	for _, tt := range posts {
		if _, err := f.a.Post(ctx, tt.chat, tt.text, tt.buttons); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("post %s: %v", tt.name, err)
		}
		if err := f.a.Edit(ctx, tt.chat, "1", tt.text, tt.buttons); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("edit %s: %v", tt.name, err)
		}
	}
	for _, id := range []string{"", "0", "-1", "abc", "1.5", "١"} {
		if err := f.a.Edit(ctx, "-100", id, "x", nil); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("edit of message %q: %v", id, err)
		}
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d requests for refused posts and edits", n)
	}
}

// The group's rate limit counts posts and edits alike; a 429 is a
// RetryAfterError for the caller's pacing.
func TestPostAndEditRateLimited(t *testing.T) {
	api := telegramtest.New(t, telegramtest.WithGroupRateLimit(telegramtest.PerMinute(2)))
	a, err := New(Config{Token: api.Token(), APIURL: api.URL()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := a.Post(ctx, "-100", "#1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(ctx, "-100", id, "#1 đã nhận", nil); err != nil {
		t.Fatal(err)
	}
	var ra *bot.RetryAfterError
	if err := a.Edit(ctx, "-100", id, "#1 xong", nil); !errors.As(err, &ra) || ra.After < 59*time.Second {
		t.Fatalf("third call in a minute (an edit): %v", err)
	}
	if _, err := a.Post(ctx, "-100", "#2", nil); !errors.As(err, &ra) {
		t.Fatalf("fourth call in a minute (a post): %v", err)
	}
	if v := api.ViolationLog(); len(v) != 2 || v[0].Limit != "group" {
		t.Fatalf("violations %+v", v)
	}
	api.FailNext("sendMessage", "-200", telegramtest.Failure{Status: 403, Description: "Forbidden: bot was kicked from the supergroup chat"})
	if _, err := a.Post(ctx, "-200", "#3", nil); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("kicked: %v", err)
	}
}
