package telegram

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/gocua/gocua/bot"
)

// updateSeeds are webhook bodies a fuzzer starts from: every kind gocua
// reads, the kinds it ignores, and broken ones.
var updateSeeds = []string{
	textUpdate,
	`{"update_id":1,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan","last_name":"Nguyễn","language_code":"vi"},"text":"/start install_vneid"}}`,
	`{"update_id":2,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"/Start@gocua_bot\u00a0 a\nb"}}`,
	`{"update_id":3,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"text":"\u0000\u202e\u200b"}}`,
	`{"update_id":4,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"lỗi \u0007này"}}`,
	`{"update_id":5,"edited_message":{"message_id":1,"date":1,"edit_date":2,"chat":{"id":42,"type":"private"},"text":"sửa"}}`,
	`{"update_id":6,"callback_query":{"id":"q1","from":{"id":42,"is_bot":false,"first_name":"Lan"},"chat_instance":"c","data":"nav:menu","message":{"message_id":5,"date":1,"chat":{"id":42,"type":"private"},"text":"x"}}}`,
	`{"update_id":7,"callback_query":{"id":"q2","from":{"id":42,"is_bot":false,"first_name":"Lan"},"chat_instance":"c","inline_message_id":"im","data":"s:AAAA"}}`,
	`{"update_id":8,"callback_query":{"id":"q3","from":{"id":7,"is_bot":false,"first_name":"V"},"chat_instance":"c","data":"t:1:claim","message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"supergroup"}}}}`,
	`{"update_id":9,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"x"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"b"},"until_date":0}}}`,
	`{"update_id":10,"my_chat_member":{"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"x"},"date":1,"new_chat_member":{"status":"member"}}}`,
	`{"update_id":11,"poll":{"id":"p","question":"?","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}`,
	`{"update_id":12,"message":{"message_id":1,"date":1,"chat":{"id":-100,"type":"supergroup"},"text":"nhóm"}}`,
	`{"update_id":13,"some_future_kind":{"x":1}}`,
	`{"update_id":-9223372036854775808,"message":{"chat":{"id":9223372036854775807,"type":"private"},"date":-1,"text":"x"}}`,
	`{"update_id":14,"message":null,"callback_query":null}`,
	`{"update_id":15,"message":{"chat":{"id":1.5,"type":"private"},"text":"x"}}`,
	`{"update_id":16,"message":{"chat":{"id":1,"type":"private"},"text":"\ud800 \udfff \uffff"}}`,
	`{"update_id":17}`, `{"update_id":1e3}`, `{"update_id":"1"}`, `{"update_id":null}`, `{}`, `[]`, `null`, `{`, ``,
	`{"update_id":22,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"document":{"file_id":"BQAC-_1","file_name":"đơn\u202e.pdf","mime_type":"application/pdf","file_size":12}}}`,
	`{"update_id":23,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"photo":{"file_id":"x"},"caption":"x"}}`,
	`{"update_id":24,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"voice":{"file_id":"a b"},"reply_to_message":{"message_id":2,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":123456789,"is_bot":true,"first_name":"b"},"text":"#12 · hỏi\u0000"}}}`,
	`{"update_id":25,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"location":{"latitude":10.8,"longitude":106.6}}}`,
	`{"update_id":26,"callback_query":{"id":"q4","from":{"id":7,"is_bot":false,"first_name":"V"},"chat_instance":"c","data":"t:1:claim","message":{"message_id":5,"date":1,"chat":{"id":-100,"type":"group"}}}}`,
	`{"update_id":18} trailing`, `{"update_id":19,"update_id":20}`, "{\"update_id\":21,\"message\":{\"text\":\"\xff\xfe\"}}",
}

// fuzzParse is the bot the fuzzers convert for: the test token's bot, with
// a volunteers' group.
var fuzzParse = parseConfig{volunteerChat: -100, botID: 123456789}

// checkInbound asserts what convert promises about an Inbound it accepts.
func checkInbound(t *testing.T, u *update, in bot.Inbound) {
	t.Helper()
	if in.Key.Channel != bot.ChannelTelegram || in.Key.ChatID == "" {
		t.Fatalf("bad key %+v", in.Key)
	}
	if _, err := strconv.ParseInt(in.Key.ChatID, 10, 64); err != nil {
		t.Fatalf("chat id %q is not a number", in.Key.ChatID)
	}
	if in.UpdateID != strconv.FormatInt(*u.ID, 10) || in.Seq != *u.ID {
		t.Fatalf("update id %q / seq %d for update %d", in.UpdateID, in.Seq, *u.ID)
	}
	if in.Kind < bot.InText || in.Kind > bot.InMedia {
		t.Fatalf("kind %d", in.Kind)
	}
	if in.Key.ChatID != strconv.FormatInt(atoi64(in.Key.ChatID), 10) || (atoi64(in.Key.ChatID) < 0 &&
		(in.Kind != bot.InButton || atoi64(in.Key.ChatID) != fuzzParse.volunteerChat)) {
		t.Fatalf("%v from chat %s reaches the core", in.Kind, in.Key.ChatID)
	}
	strs := map[string]string{"text": in.Text, "data": in.Data, "command": in.Command, "args": in.Args, "name": in.Name, "lang": in.LangHint, "reply": in.ReplyTo}
	if m := in.Media; m != nil {
		strs["file name"], strs["mime"] = m.Name, m.MIME
		if m.Ref != "" && (!strings.HasPrefix(m.Ref, refPrefix) || !validFileID(strings.TrimPrefix(m.Ref, refPrefix))) {
			t.Fatalf("media ref %+q", m.Ref)
		}
		if m.Kind.Relayable() && m.Ref == "" {
			t.Fatalf("relayable %s without a ref", m.Kind)
		}
		if m.Size < 0 || strings.ContainsAny(m.Name, "\n\t") {
			t.Fatalf("media %+v", m)
		}
	} else if in.Kind == bot.InMedia {
		t.Fatal("InMedia without Media")
	}
	for what, s := range strs {
		if bot.CleanText(s) != s {
			t.Fatalf("%s %+q reaches the core uncleaned", what, s)
		}
	}
	switch in.Kind {
	case bot.InText:
		if in.Text == "" {
			t.Fatal("text message without text")
		}
	case bot.InButton:
		if in.Data == "" {
			t.Fatal("button tap without data")
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
	now := time.Unix(1700000500, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := decodeUpdate(body)
		if err != nil {
			if u != nil {
				t.Fatal("an update with an error")
			}
			return
		}
		if u.ID == nil {
			t.Fatal("decoded an update without update_id")
		}
		_ = u.kindName()
		in, ok := convert(u, now, fuzzParse)
		if !ok {
			return
		}
		checkInbound(t, u, in)
		if again, _ := convert(u, now, fuzzParse); !reflect.DeepEqual(again, in) {
			t.Fatalf("convert is not deterministic: %+v then %+v", in, again)
		}
	})
}

// fakeBotAPI answers every Bot API call with success, in memory.
type fakeBotAPI struct{}

func (fakeBotAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(`{"ok":true,"result":true}`)), Request: r,
	}, nil
}

// fuzzCore is a core that takes or refuses every update.
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

// FuzzWebhook drives POST /webhook/telegram with any body and secret header.
// Whatever arrives, the answer is the documented one: 401 for a wrong or
// missing secret, 413 for a body over the limit, 400 for malformed JSON or a
// missing update_id, 200 for everything else the core took or does not
// handle — never 5xx unless the core itself failed on a valid update, and
// neither the secret nor the token ever reaches the logs.
func FuzzWebhook(f *testing.F) {
	for i, s := range updateSeeds {
		f.Add([]byte(s), secret, i%5 == 0, false)
	}
	f.Add([]byte(textUpdate), "", false, false)
	f.Add([]byte(textUpdate), "nope", false, false)
	f.Add([]byte(textUpdate), secret+"x", false, false)
	f.Add([]byte(textUpdate), secret[:3], false, false)
	f.Add([]byte(`{"update_id":1,"message":{"text":"`+strings.Repeat("a", 5000)+`"}}`), secret, false, false)
	f.Add(bytes.Repeat([]byte("{"), 4097), secret, false, false)

	const maxBody = 4096
	logs := &safeBuffer{}
	core := &fuzzCore{}
	a, err := New(Config{Token: "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra", WebhookSecret: secret, MaxBody: maxBody, HandleTimeout: time.Second, VolunteerChatID: fuzzParse.volunteerChat},
		core, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		WithHTTPClient(&http.Client{Transport: fakeBotAPI{}}), WithClock(func() time.Time { return time.Unix(1700000500, 0) }))
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
		u, decodeErr := decodeUpdate(body)
		var in bot.Inbound
		converts := false
		if decodeErr == nil {
			in, converts = convert(u, time.Unix(1700000500, 0), a.parse)
		}
		want := http.StatusOK
		switch {
		case get:
			want = http.StatusMethodNotAllowed
		case header != secret:
			want = http.StatusUnauthorized
		case len(body) > maxBody:
			want = http.StatusRequestEntityTooLarge
		case decodeErr != nil:
			want = http.StatusBadRequest
		case converts && coreFails:
			want = http.StatusServiceUnavailable
		}
		if w.Code != want {
			t.Fatalf("status %d, want %d (body %d bytes)", w.Code, want, len(body))
		}
		switch {
		case want == http.StatusOK && converts, want == http.StatusServiceUnavailable:
			if len(handled) != 1 || !reflect.DeepEqual(handled[0], in) {
				t.Fatalf("core got %+v, want exactly %+v", handled, in)
			}
			checkInbound(t, u, handled[0])
		case len(handled) != 0:
			t.Fatalf("core got %d updates for an answer of %d", len(handled), w.Code)
		}
		if out := logs.String(); strings.Contains(out, secret) || strings.Contains(out, a.cfg.Token) {
			t.Fatalf("logs hold the secret or the token:\n%s", out)
		}
	})
}
