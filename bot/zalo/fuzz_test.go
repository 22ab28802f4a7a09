package zalo

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

// updateSeeds are webhook bodies a fuzzer starts from: every event gocua
// reads, in and out of the envelope, the ones it ignores, and broken ones.
var updateSeeds = []string{
	string(textBody),
	string(zalotest.Text("m1", chatID, "/start install_vneid").Body()),
	string(zalotest.Text("m2", chatID, "/Start@gocua_bot\u00a0 a\nb").Body()),
	string(zalotest.Text("m3", chatID, "\u0000\u202e\u200b").Body()),
	string(zalotest.Text("m4", chatID, "2").Body()),
	string(zalotest.Text("m5", chatID, "cai vneid").Body()),
	string(zalotest.Image("m6", chatID, "https://f21-zpc.zdn.vn/a.jpg", "lỗi \u0007này").Body()),
	string(zalotest.Sticker("m7", chatID, "bfe4", "https://zalo-api.zadn.vn/sticker?eid=1").Body()),
	string(zalotest.Voice("m8", chatID, "https://voice.zdn.vn/v.aac").Body()),
	string(zalotest.Unsupported("m9", chatID).Body()),
	`{"event_name":"message.text.received","message":{"message_id":"b1","date":1750316131602,"from":{"id":"u","display_name":"Lan","is_bot":false},"chat":{"id":"c","chat_type":"PRIVATE"},"text":"hi"}}`,
	`{"ok":true,"result":{"event_name":"message.image.received","message":{"message_id":"p1","chat":{"id":"c"},"photo_url":"https://a.zdn.vn/x.jpg","photo":{"x":1}}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":8812345678901234567,"date":"1750316131602","chat":{"id":8812345678901234567,"chat_type":"PRIVATE"},"text":"x"}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"g","chat":{"id":"g","chat_type":"GROUP"},"text":"nhóm"}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"b","chat":{"id":"c"},"from":{"id":"x","is_bot":true},"text":"bot"}}}`,
	`{"ok":true,"result":{"event_name":"message.reaction.received","message":{}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"","chat":{"id":"c"}}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"a","chat":{"id":"c"},"date":1e300}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"a","chat":{"id":"c"},"date":-5}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":1.5,"chat":{"id":"c"}}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"a b","chat":{"id":"c"}}}}`,
	`{"ok":true,"result":{"event_name":"message.text.received","message":{"message_id":"a","chat":{"id":"c"},"text":"\ud800 \udfff \uffff"}}}`,
	`{"ok":true,"result":null}`, `{"ok":false,"error_code":500}`, `{"result":[]}`, `{"event_name":null}`,
	`{}`, `[]`, `null`, `{`, ``, `{"event_name":"x"} trailing`,
	"{\"event_name\":\"message.text.received\",\"message\":{\"message_id\":\"a\",\"chat\":{\"id\":\"c\"},\"text\":\"\xff\xfe\"}}",
}

// fuzzNow stamps events without a date.
var fuzzNow = time.UnixMilli(fixedNow)

// checkInbound asserts what convert promises about an Inbound it accepts.
func checkInbound(t *testing.T, in bot.Inbound) {
	t.Helper()
	if in.Key.Channel != bot.ChannelZaloBot || !validID(in.Key.ChatID) || !validID(in.UpdateID) {
		t.Fatalf("bad key or id %+v %q", in.Key, in.UpdateID)
	}
	if in.UserID != "" && !validID(in.UserID) {
		t.Fatalf("user id %q", in.UserID)
	}
	if in.Seq < 0 || in.At.IsZero() || (in.Seq > 0 && !in.At.Equal(time.UnixMilli(in.Seq))) || (in.Seq == 0 && !in.At.Equal(fuzzNow)) {
		t.Fatalf("seq %d at %v", in.Seq, in.At)
	}
	switch in.Kind {
	case bot.InText, bot.InCommand, bot.InMedia, bot.InProtected, bot.InButton:
	default:
		t.Fatalf("kind %d", in.Kind)
	}
	strs := map[string]string{"text": in.Text, "data": in.Data, "command": in.Command, "args": in.Args, "name": in.Name}
	for what, s := range strs {
		if bot.CleanText(s) != s {
			t.Fatalf("%s %+q reaches the core uncleaned", what, s)
		}
	}
	if m := in.Media; m != nil {
		if m.Ref != "" {
			u, ok := strings.CutPrefix(m.Ref, RefPrefix)
			if _, valid := mediaURL(u); !ok || !valid {
				t.Fatalf("media ref %+q", m.Ref)
			}
		}
		if m.Kind.Relayable() && m.Ref == "" {
			t.Fatalf("relayable %s without a ref", m.Kind)
		}
	} else if in.Kind == bot.InMedia {
		t.Fatal("InMedia without Media")
	}
	switch in.Kind {
	case bot.InText:
		if in.Text == "" {
			t.Fatal("text message without text")
		}
	case bot.InButton:
		if in.Data == "" {
			t.Fatal("menu choice without data")
		}
	case bot.InCommand:
		if in.Command == "" || in.Command != strings.ToLower(in.Command) || strings.ContainsFunc(in.Command, unicode.IsSpace) ||
			strings.Contains(in.Command, "@") || in.Args != strings.TrimSpace(in.Args) {
			t.Fatalf("command %+q args %+q", in.Command, in.Args)
		}
	}
	if strings.ContainsAny(in.Name, "\n\t") || in.Name != strings.TrimSpace(in.Name) {
		t.Fatalf("name %+q is not one trimmed line", in.Name)
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	for _, s := range updateSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodeUpdate(body)
		if err != nil {
			if ev != nil {
				t.Fatal("an event with an error")
			}
			return
		}
		if ev.Name == nil {
			t.Fatal("decoded an event without event_name")
		}
		_ = eventName(ev)
		in, v, why := convert(ev, fuzzNow)
		switch v {
		case accept:
			checkInbound(t, in)
			if in.Kind == bot.InButton {
				t.Fatal("convert made a menu choice without a menu")
			}
		case ignore, invalid:
			if why == "" {
				t.Fatal("no reason given")
			}
			return
		default:
			t.Fatalf("verdict %d", v)
		}
		again, v2, _ := convert(ev, fuzzNow)
		if v2 != v || !reflect.DeepEqual(again, in) {
			t.Fatalf("convert is not deterministic: %+v then %+v", in, again)
		}
		// a re-delivery (the same bytes) is the same update
		ev2, _ := decodeUpdate(body)
		if third, _, _ := convert(ev2, fuzzNow); !reflect.DeepEqual(third, in) {
			t.Fatalf("a re-delivered body differs: %+v then %+v", in, third)
		}
	})
}

// fuzzCore is a core that takes or refuses every event.
type fuzzCore struct {
	mu   sync.Mutex
	got  []bot.Inbound
	fail bool
}

func (c *fuzzCore) Handle(_ context.Context, in bot.Inbound) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, in)
	if c.fail {
		return errors.New("store down")
	}
	return nil
}

// FuzzWebhook drives POST /webhook/zalo-bot with any body and secret
// header. Whatever arrives, the answer is the documented one: 403 for a
// wrong or missing secret, 413 for a body over the limit, 400 for malformed
// JSON or a known event without its ids, 200 for everything else the core
// took or does not handle — never 5xx unless the core itself failed on a
// valid event — and neither the secret nor the token reaches the logs.
func FuzzWebhook(f *testing.F) {
	for i, s := range updateSeeds {
		f.Add([]byte(s), secret, i%5 == 0, false)
	}
	f.Add(textBody, "", false, false)
	f.Add(textBody, "nope", false, false)
	f.Add(textBody, secret+"x", false, false)
	f.Add(textBody, secret[:3], false, false)
	f.Add(zalotest.Text("big", "c", strings.Repeat("a", 5000)).Body(), secret, false, false)
	f.Add(bytes.Repeat([]byte("{"), 4097), secret, false, false)

	const maxBody = 4096
	const token = "2718281828459045235:fuzz-token"
	logs := &safeBuffer{}
	core := &fuzzCore{}
	menus := &memMenus{}
	_ = menus.SetMenu(context.Background(), bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chatID},
		bot.NumberButtons([][]bot.Button{{{Text: "📲 Cài VNeID", Data: "flow:a"}, {Text: "Khác", Data: "flow:b"}}}))
	a, err := New(Config{Token: token, WebhookSecret: secret, MaxBody: maxBody, HandleTimeout: time.Second},
		core, menus, fakeTexts{}, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WithClock(func() time.Time { return fuzzNow }))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, header string, coreFails, get bool) {
		core.mu.Lock()
		core.got, core.fail = core.got[:0], coreFails
		core.mu.Unlock()
		logs.mu.Lock()
		logs.b.Reset()
		logs.mu.Unlock()

		method := http.MethodPost
		if get {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, WebhookPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if header != "" {
			req.Header[SecretHeader] = []string{header}
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)

		core.mu.Lock()
		handled := append([]bot.Inbound(nil), core.got...)
		core.mu.Unlock()
		ev, decodeErr := decodeUpdate(body)
		v := invalid
		if decodeErr == nil {
			_, v, _ = convert(ev, fuzzNow)
		}
		want := http.StatusOK
		switch {
		case get:
			want = http.StatusMethodNotAllowed
		case header != secret:
			want = http.StatusForbidden
		case len(body) > maxBody:
			want = http.StatusRequestEntityTooLarge
		case decodeErr != nil, v == invalid:
			want = http.StatusBadRequest
		case v == accept && coreFails:
			want = http.StatusServiceUnavailable
		}
		if w.Code != want {
			t.Fatalf("status %d, want %d (body %d bytes)", w.Code, want, len(body))
		}
		switch {
		case want == http.StatusOK && v == accept, want == http.StatusServiceUnavailable:
			if len(handled) != 1 {
				t.Fatalf("core got %d events, want 1", len(handled))
			}
			checkInbound(t, handled[0])
		case len(handled) != 0:
			t.Fatalf("core got %d events for an answer of %d", len(handled), w.Code)
		}
		if out := logs.String(); strings.Contains(out, secret) || strings.Contains(out, "fuzz-token") {
			t.Fatalf("logs hold the secret or the token:\n%s", out)
		}
	})
}
