package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

func outbound(text string, buttons ...[]bot.Button) bot.Outbound {
	return bot.Outbound{ID: "10/0", Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}, Text: text, Buttons: buttons}
}

func TestDeliverRequest(t *testing.T) {
	f := newFixture(t)
	out := outbound("Bác bấm **Cài đặt** <ngay> & chờ 🙂",
		[]bot.Button{{Text: "Tiếp", Data: "s:ABC"}, {Text: "Mở", URL: "https://dichvucong.gov.vn"}},
		[]bot.Button{{Text: "Về menu", Data: "nav:menu"}})
	if err := f.a.Deliver(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	calls := f.api.CallsTo("sendMessage")
	if len(calls) != 1 {
		t.Fatalf("%d sendMessage calls", len(calls))
	}
	p := calls[0].Params
	if p["chat_id"] != "42" || p["parse_mode"] != "HTML" || p["text"] != "Bác bấm <b>Cài đặt</b> &lt;ngay&gt; &amp; chờ 🙂" {
		t.Fatalf("params %v", p)
	}
	var lp map[string]any
	if err := json.Unmarshal([]byte(p["link_preview_options"]), &lp); err != nil || lp["is_disabled"] != true {
		t.Fatalf("link_preview_options %q", p["link_preview_options"])
	}
	const wantMarkup = `{"inline_keyboard":[[{"text":"Tiếp","callback_data":"s:ABC"},{"text":"Mở","url":"https://dichvucong.gov.vn"}],[{"text":"Về menu","callback_data":"nav:menu"}]]}`
	if p["reply_markup"] != wantMarkup {
		t.Fatalf("reply_markup\n got %s\nwant %s", p["reply_markup"], wantMarkup)
	}
	sent := f.api.Sent()
	if len(sent) != 1 || sent[0].Plain != "Bác bấm Cài đặt <ngay> & chờ 🙂" {
		t.Fatalf("resident reads %+v", sent)
	}
	if err := f.a.Deliver(context.Background(), outbound("không nút")); err != nil {
		t.Fatal(err)
	}
	if m := f.api.CallsTo("sendMessage")[1].Params["reply_markup"]; m != "" {
		t.Fatalf("reply_markup without buttons: %q", m)
	}
}

func TestDeliverErrorMapping(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	out := outbound("xin chào")
	var ra *bot.RetryAfterError

	f.api.FailNext("sendMessage", "42", telegramtest.TooManyRequests(7))
	if err := f.a.Deliver(ctx, out); !errors.As(err, &ra) || ra.After != 7*time.Second || errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("429: %v", err)
	}
	f.api.FailNext("sendMessage", "42", telegramtest.Blocked())
	if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) || errors.As(err, &ra) {
		t.Fatalf("403 blocked: %v", err)
	}
	f.api.FailNext("sendMessage", "42", telegramtest.Failure{Status: 403, Description: "Forbidden: user is deactivated"})
	if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("403 deactivated: %v", err)
	}
	f.api.FailNext("sendMessage", "42", telegramtest.Failure{Status: 400, Description: "Bad Request: chat not found"})
	if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrUnreachable) {
		t.Fatalf("chat not found: %v", err)
	}
	f.api.FailNext("sendMessage", "42", telegramtest.ServerError())
	if err := f.a.Deliver(ctx, out); err == nil || errors.Is(err, bot.ErrUnreachable) || errors.As(err, &ra) || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("500: %v, want a plain retryable error", err)
	}
	for _, desc := range []string{"Bad Request: message is too long", "Bad Request: can't parse entities: unexpected end tag at byte offset 12", "Bad Request: BUTTON_URL_INVALID"} {
		f.api.FailNext("sendMessage", "42", telegramtest.Failure{Status: 400, Description: desc})
		if err := f.a.Deliver(ctx, out); !errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
			t.Fatalf("400 %q: %v, want ErrRejected (never retried, resident not blamed)", desc, err)
		}
	}
	f.api.FailNext("sendMessage", "42", telegramtest.Slow(time.Minute))
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := f.a.Deliver(short, out); err == nil || errors.Is(err, bot.ErrUnreachable) || errors.Is(err, bot.ErrRejected) {
		t.Fatalf("slow answer past the deadline: %v", err)
	}
	if n := len(f.api.Sent()); n != 0 {
		t.Fatalf("%d messages recorded as sent", n)
	}
}

// Deliver neither splits nor trims: a message over Telegram's limits is an
// error before any request is made.
func TestDeliverRefusesWhatTelegramWould(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		out  bot.Outbound
	}{
		{"4097 units", outbound(strings.Repeat("a", 4097))},
		{"emoji count twice", outbound(strings.Repeat("🙂", 2049))},
		{"empty", outbound("  \n")},
		{"65-byte callback data", outbound("x", []bot.Button{{Text: "x", Data: strings.Repeat("d", 65)}})},
		{"multi-byte callback data", outbound("x", []bot.Button{{Text: "x", Data: strings.Repeat("đ", 33)}})},
		{"button without data or URL", outbound("x", []bot.Button{{Text: "x"}})},
		{"button without text", outbound("x", []bot.Button{{Data: "d"}})},
		{"another channel", bot.Outbound{ID: "1/0", Key: bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: "42"}, Text: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.a.Deliver(ctx, tt.out)
			if err == nil {
				t.Fatal("accepted")
			}
			if errors.Is(err, bot.ErrUnreachable) {
				t.Fatalf("%v wraps ErrUnreachable", err)
			}
			if !errors.Is(err, bot.ErrRejected) {
				t.Fatalf("%v does not wrap ErrRejected: the sender would retry it", err)
			}
		})
	}
	if n := len(f.api.Calls()); n != 0 {
		t.Fatalf("%d requests made for invalid messages", n)
	}

	// Exactly at the limits is fine, and markup or escapes do not count.
	ok := []bot.Outbound{
		outbound(strings.Repeat("🙂", 2048)),
		outbound("**" + strings.Repeat("&", 4096) + "**"),
		outbound("x", []bot.Button{{Text: "x", Data: strings.Repeat("d", 64)}}),
	}
	for i, out := range ok {
		if err := f.a.Deliver(ctx, out); err != nil {
			t.Fatalf("message %d at the limit: %v", i, err)
		}
	}
}

// What the resident reads (the fake Bot API parses the HTML like Telegram)
// is the flow text without its bold markers, whatever the text holds.
func TestDeliverRoundTrip(t *testing.T) {
	f := newFixture(t)
	tests := map[string]string{
		"a <b> & </b> c":                        "a <b> & </b> c",
		"**đậm** & <i>nghiêng</i>":              "đậm & <i>nghiêng</i>",
		`"quoted" 'single' > < &amp;`:           `"quoted" 'single' > < &amp;`,
		"👨‍👩‍👧 \u202eRTL\u202c עברית ﷽ e\u0301": "👨‍👩‍👧 \u202eRTL\u202c עברית ﷽ e\u0301",
		"unpaired ** here":                      "unpaired ** here",
		"**a** **b":                             "a **b",
		"nul\x00inside":                         "nul\x00inside",
	}
	for in, want := range tests {
		if err := f.a.Deliver(context.Background(), outbound(in)); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		sent := f.api.Sent()
		if got := sent[len(sent)-1].Plain; got != want {
			t.Errorf("Deliver(%q): resident reads %q, want %q", in, got, want)
		}
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t)
	if l := f.a.Limits(); l != (bot.Limits{MaxText: 4096, MaxCallbackData: 64, MaxCaption: 1024}) {
		t.Fatalf("limits %+v", l)
	}
}
