package webchat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
)

var sendSeeds = []string{
	`{"id":"abcdefgh1","seq":1,"text":"xin chào"}`,
	`{"id":"abcdefgh2","seq":2,"text":"/start install_vneid","silent":true}`,
	`{"id":"abcdefgh3","seq":3,"data":"nav:menu","label":"🏠 Về menu"}`,
	`{"id":"abcdefgh4","seq":4,"text":"\u0000x"}`,
	`{"id":"abcdefgh5","seq":5,"text":" \u0000\u202e\u200b "}`,
	`{"id":"abcdefgh6","seq":6,"data":"\u0000","label":"\u0007"}`,
	`{"id":"abcdefgh7","seq":7,"text":"mã OTP 482913, CCCD 001203004567"}`,
	`{"id":"abcdefgh8","seq":8,"text":"hi","data":"nav:menu"}`,
	`{"id":"abcdefgh9","seq":9,"text":"   "}`,
	`{"id":"x y","seq":1,"text":"hi"}`,
	`{"id":"abcdefgh10","text":"hi"}`,
	`{"id":"abcdefgh11","seq":-1,"text":"hi"}`,
	`{"id":"abcdefgh12","seq":9223372036854775807,"text":"hi"}`,
	`{"id":"abcdefgh13","seq":1e30,"text":"hi"}`,
	`{"id":"abcdefgh14","seq":1,"text":"hi","html":"<b>"}`,
	`{"id":"abcdefgh15","seq":1,"text":"hi"}{}`,
	`{"id":"abcdefgh16","seq":1,"text":"hi"} `,
	`{"id":"abcdefgh17","seq":1,"data":"` + strings.Repeat("d", 65) + `"}`,
	`{"id":"abcdefgh18","seq":1,"text":"` + strings.Repeat("ạ", MaxText+1) + `"}`,
	`{"id":"abcdefgh19","seq":1,"data":"x","label":"` + strings.Repeat("l", maxLabel+1) + `"}`,
	`{"id":"abcdefgh20","seq":1,"text":"\ud800\udc00 \ud800"}`,
	"{\"id\":\"abcdefgh21\",\"seq\":1,\"text\":\"\xff\xfe\"}",
	`{"ID":"abcdefgh22","SEQ":1,"Text":"case"}`,
	`{"id":"abcdefgh23","seq":1,"text":null,"data":"nav:back"}`,
	`[]`, `null`, `{`, ``, `"text"`, `{"id":1}`,
}

// checkSend asserts what decodeSend promises about a request it accepts.
func checkSend(t *testing.T, body []byte, req sendRequest) {
	t.Helper()
	switch {
	case !msgIDRE.MatchString(req.ID):
		t.Fatalf("accepted id %q", req.ID)
	case req.Seq <= 0:
		t.Fatalf("accepted seq %d", req.Seq)
	case req.empty && (req.Text != "" || req.Data != ""):
		t.Fatalf("empty request with text %q data %q", req.Text, req.Data)
	case !req.empty && (req.Text == "") == (req.Data == ""):
		t.Fatalf("accepted text %q and data %q", req.Text, req.Data)
	case req.Text != strings.TrimSpace(req.Text) || utf8.RuneCountInString(req.Text) > MaxText:
		t.Fatalf("accepted text %+q", req.Text)
	case len(req.Data) > MaxCallbackData || utf8.RuneCountInString(req.Label) > maxLabel:
		t.Fatalf("accepted data %d bytes, label %d characters", len(req.Data), utf8.RuneCountInString(req.Label))
	case !json.Valid(body):
		t.Fatalf("accepted invalid JSON %q", body)
	}
	for what, s := range map[string]string{"text": req.Text, "data": req.Data, "label": req.Label} {
		if bot.CleanText(s) != s {
			t.Fatalf("%s %+q is not cleaned", what, s)
		}
	}
}

func FuzzDecodeSend(f *testing.F) {
	for _, s := range sendSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, status, problem := decodeSend(body)
		if again, s2, p2 := decodeSend(body); !reflect.DeepEqual(again, req) || s2 != status || p2 != problem {
			t.Fatal("decodeSend is not deterministic")
		}
		if status != 0 {
			if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge || problem == "" {
				t.Fatalf("refused with %d %q", status, problem)
			}
			return
		}
		checkSend(t, body, req)
	})
}

func FuzzParseSince(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"5", ""}, {"", "since=5"}, {"7", "since=5"}, {"-1", ""}, {"", "since=-1"}, {"abc", ""},
		{"", "since=abc"}, {"9223372036854775807", ""}, {"9223372036854775808", ""}, {"+5", ""}, {"0x10", ""},
		{" 5", ""}, {"", "since=1&since=2"}, {"", "since=%zz"}, {"", "since"}, {"", ";since=1"}, {"", "since=%35"},
		{"", "embed=1&since=3"}, {"١٢", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, header, rawQuery string) {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: rawQuery}}
		if header != "" {
			r.Header.Set("Last-Event-ID", header)
		}
		n, ok := parseSince(r)
		if ok && n < 0 {
			t.Fatalf("accepted since %d", n)
		}
		s := header
		if s == "" {
			s = r.URL.Query().Get("since")
		}
		if s == "" {
			if !ok || n != 0 {
				t.Fatalf("no since gave %d, %v", n, ok)
			}
			return
		}
		want, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil && want >= 0) || ok && n != want {
			t.Fatalf("since %q gave %d, %v", s, n, ok)
		}
	})
}

// memHistory is an in-memory History for fuzzing.
type memHistory struct {
	mu    sync.Mutex
	items []bot.HistoryItem
}

func (h *memHistory) AppendHistory(_ context.Context, _ bot.ConvKey, id string, msg []byte) (int64, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, it := range h.items {
		if it.ID == id {
			return it.Seq, false, nil
		}
	}
	seq := int64(len(h.items) + 1)
	h.items = append(h.items, bot.HistoryItem{Seq: seq, ID: id, Data: append([]byte(nil), msg...)})
	return seq, true, nil
}

func (h *memHistory) History(_ context.Context, _ bot.ConvKey, since int64) ([]bot.HistoryItem, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []bot.HistoryItem
	for _, it := range h.items {
		if it.Seq > since {
			out = append(out, it)
		}
	}
	return out, nil
}

func (h *memHistory) reset(items ...bot.HistoryItem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items = append(h.items[:0], items...)
}

func (h *memHistory) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.items)
}

func (h *memHistory) last() bot.HistoryItem {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.items[len(h.items)-1]
}

// FuzzAPI drives the web chat's API — POST /chat/api/send, GET
// /chat/api/history and GET /chat/api/events — with any body, origin,
// content type, query and Last-Event-ID, as a visitor with a cookie the page
// issued (or none). Every answer is one the API documents and never 5xx
// (the core and the history here do not fail); a send reaches the core only
// when it is answered 200, cleaned; the history only ever holds cleaned text;
// history and events return well-formed messages after since.
func FuzzAPI(f *testing.F) {
	origins := []string{"", "http://example.com", wardOrigin, "https://evil.example", "null", wardOrigin + ".evil.example", "http://EXAMPLE.com"}
	for i, s := range sendSeeds {
		f.Add(uint8(0), []byte(s), origins[i%3], "application/json", "", "", i%7 == 6)
	}
	for i, o := range origins {
		f.Add(uint8(i), []byte(sendSeeds[0]), o, "application/json; charset=utf-8", "since=1", "", false)
	}
	f.Add(uint8(0), []byte(sendSeeds[0]), "http://example.com", "text/plain", "", "", false)
	f.Add(uint8(0), []byte("text=hi"), "http://example.com", "application/x-www-form-urlencoded", "", "", false)
	f.Add(uint8(0), []byte(sendSeeds[0]), "http://example.com", "application/json;;", "", "", false)
	f.Add(uint8(1), []byte(nil), "", "", "since=abc", "", false)
	f.Add(uint8(2), []byte(nil), "", "", "", "1", false)
	f.Add(uint8(2), []byte(nil), "", "", "since=-5", "x", false)
	f.Add(uint8(2), []byte(nil), wardOrigin, "", "since=%zz&embed=1", "", true)

	hist := &memHistory{}
	core := &fakeCore{}
	now := time.Unix(1_800_000_000, 0)
	a, err := New(Config{Origins: []string{wardOrigin}, Rate: 1e9, Burst: 1 << 30, Keepalive: time.Hour, Now: func() time.Time { return now },
		NewVisitorRate: 1e9, NewVisitorBurst: 1 << 30, AddrRate: 1e9, AddrBurst: 1 << 30, Keys: testKeys},
		core, hist, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(a.Close)
	// the visitor cookie as the page issues it
	page := httptest.NewRecorder()
	a.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/chat", nil))
	var visitor *http.Cookie
	for _, c := range page.Result().Cookies() {
		if c.Name == CookieName {
			visitor = c
		}
	}
	if visitor == nil {
		f.Fatal("the page issued no visitor cookie")
	}
	botMsg, _ := json.Marshal(message{ID: "u1/0", From: fromBot, Text: "Chào Bác", Buttons: [][]bot.Button{{{Text: "Menu", Data: "nav:menu"}}}, At: now})
	meMsg, _ := json.Marshal(message{ID: "abcdefgh0", From: fromResident, Text: "xin chào", At: now})
	seeded := []bot.HistoryItem{{Seq: 1, ID: "u1/0", Data: botMsg}, {Seq: 2, ID: "abcdefgh0", Data: meMsg}, {Seq: 3, ID: "bad", Data: []byte("{")}}

	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte, origin, ctype, query, lastEventID string, noCookie bool) {
		hist.reset(seeded...)
		core.mu.Lock()
		core.got = core.got[:0]
		core.mu.Unlock()

		var req *http.Request
		switch endpoint % 3 {
		case 0:
			req = httptest.NewRequest(http.MethodPost, "/chat/api/send", bytes.NewReader(body))
		case 1:
			req = httptest.NewRequest(http.MethodGet, "/chat/api/history", nil)
		default:
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the page goes away at once: the stream sends its catch-up and ends
			req = httptest.NewRequestWithContext(ctx, http.MethodGet, "/chat/api/events", nil)
		}
		req.URL.RawQuery = query
		if origin != "" {
			req.Header["Origin"] = []string{origin}
		}
		if ctype != "" {
			req.Header["Content-Type"] = []string{ctype}
		}
		if lastEventID != "" {
			req.Header["Last-Event-Id"] = []string{lastEventID}
		}
		if !noCookie {
			req.AddCookie(&http.Cookie{Name: visitor.Name, Value: visitor.Value})
		}
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		code := w.Code
		if code >= 500 {
			t.Fatalf("%s answered %d: %s", req.URL.Path, code, w.Body)
		}

		core.mu.Lock()
		got := append([]bot.Inbound(nil), core.got...)
		core.mu.Unlock()
		if endpoint%3 != 0 {
			if len(got) != 0 {
				t.Fatal("a read reached the core")
			}
		}
		switch endpoint % 3 {
		case 0:
			checkSendAnswer(t, body, code, got, hist, len(seeded))
		case 1:
			if code != http.StatusOK && code != http.StatusBadRequest && code != http.StatusForbidden {
				t.Fatalf("history answered %d", code)
			}
			if code == http.StatusOK {
				var d struct {
					Messages []message `json:"messages"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
					t.Fatalf("history is not JSON: %v", err)
				}
				since, _ := parseSince(req)
				checkMessages(t, since, d.Messages)
			}
		default:
			if code != http.StatusOK && code != http.StatusBadRequest && code != http.StatusForbidden {
				t.Fatalf("events answered %d", code)
			}
			if code == http.StatusOK {
				since, _ := parseSince(req)
				checkMessages(t, since, readEvents(t, w.Body.String()))
			}
		}
	})
}

// checkSendAnswer checks one POST /chat/api/send against what it left behind.
func checkSendAnswer(t *testing.T, body []byte, code int, got []bot.Inbound, hist *memHistory, before int) {
	t.Helper()
	switch code {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		if len(got) != 0 || hist.len() != before {
			t.Fatalf("a refused send (%d) reached the core or the history", code)
		}
		return
	default:
		t.Fatalf("send answered %d", code)
	}
	if len(got) != 1 {
		t.Fatalf("an accepted send reached the core %d times", len(got))
	}
	req, status, _ := decodeSend(body)
	if status != 0 {
		t.Fatalf("accepted a body decodeSend refuses (%d)", status)
	}
	checkSend(t, body, req)
	in := got[0]
	if in.UpdateID != req.ID || in.Seq != req.Seq || in.Key.Channel != bot.ChannelWeb {
		t.Fatalf("inbound %+v for request %+v", in, req)
	}
	for what, s := range map[string]string{"text": in.Text, "data": in.Data, "command": in.Command, "args": in.Args} {
		if bot.CleanText(s) != s {
			t.Fatalf("%s %+q reached the core uncleaned", what, s)
		}
	}
	if req.empty != (in.Kind == bot.InMedia) {
		t.Fatalf("request %+v became kind %d", req, in.Kind)
	}
	if hist.len() > before {
		var m message
		if err := json.Unmarshal(hist.last().Data, &m); err != nil {
			t.Fatal(err)
		}
		if m.From != fromResident || m.Text == "" || bot.CleanText(m.Text) != m.Text {
			t.Fatalf("history holds %+v", m)
		}
	}
}

// checkMessages checks messages read back: after since, in order, decodable.
func checkMessages(t *testing.T, since int64, msgs []message) {
	t.Helper()
	last := since
	for _, m := range msgs {
		if m.Seq <= last {
			t.Fatalf("message %d after %d (since %d)", m.Seq, last, since)
		}
		if m.From != fromBot && m.From != fromResident {
			t.Fatalf("message from %q", m.From)
		}
		last = m.Seq
	}
}

// readEvents parses a finished Server-Sent Events body.
func readEvents(t *testing.T, body string) []message {
	t.Helper()
	var msgs []message
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var id string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			var m message
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &m); err != nil {
				t.Fatalf("event data is not JSON: %q", line)
			}
			if strconv.FormatInt(m.Seq, 10) != id {
				t.Fatalf("event id %q for message %d", id, m.Seq)
			}
			msgs = append(msgs, m)
		}
	}
	return msgs
}
