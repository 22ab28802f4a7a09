package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/webchat"
)

// TestGoldenTranscriptsWeb walks every bundled flow in the web chat, through
// its HTTP API as the page uses it, and compares what the visitor's history
// shows with testdata/golden/web/<flow>.txt.
func TestGoldenTranscriptsWeb(t *testing.T) {
	// one address walks every flow at once: lift the limits a ward's shared
	// Wi-Fi lives with
	h := start(t, nil, withMain(func(m *Main) {
		m.WebTune = func(c *webchat.Config) {
			c.Rate, c.Burst, c.NewVisitorRate, c.NewVisitorBurst, c.AddrRate, c.AddrBurst = 1000, 1000, 1000, 1000, 1000, 1000
		}
	}))
	for _, f := range h.main.Flows.Flows() {
		t.Run(f.ID, func(t *testing.T) {
			w := newWebResident(t)
			w.open(h.url)
			key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: visitorOf(t, w, h.url)}
			var log strings.Builder
			var last []historyMsg
			seen, seq := 0, 0
			input := func(label, text, data string) {
				t.Helper()
				seq++
				id := fmt.Sprintf("golden-%d", seq)
				var code int
				if data != "" {
					code = w.tap(h.url, id, seq, data, strings.TrimPrefix(label, "tap "))
				} else {
					code = w.send(h.url, id, seq, text)
				}
				if code != http.StatusOK {
					t.Fatalf("%s: the web chat answered %d", label, code)
				}
				h.settle()
				all := w.botMessages(h.url)
				last = all[seen:]
				seen = len(all)
				fmt.Fprintf(&log, "> %s\n", label)
				for _, m := range last {
					if m.Media != nil {
						fmt.Fprintf(&log, "< [photo]\n")
					}
					for _, line := range strings.Split(m.Text, "\n") {
						if strings.HasPrefix(line, "🕐") {
							line = "🕐 (place in the queue, expected wait)"
						}
						fmt.Fprintf(&log, "< %s\n", line)
					}
					for _, row := range m.Buttons {
						var cells []string
						for _, b := range row {
							switch {
							case b.URL != "":
								cells = append(cells, b.Text+" → "+b.URL)
							case isContent(b.Data):
								cells = append(cells, b.Text)
							default:
								cells = append(cells, b.Text+" ("+b.Data+")")
							}
						}
						fmt.Fprintf(&log, "  [%s]\n", strings.Join(cells, " | "))
					}
				}
				if len(last) == 0 {
					t.Fatalf("%s: no reply", label)
				}
			}
			input("/start", "/start", "")
			if f.Menu > 0 {
				b, ok := webButton(last, func(b bot.Button) bool { return b.Text == f.Title["vi"] })
				if !ok {
					t.Fatalf("no menu button %q", f.Title["vi"])
				}
				input("tap "+quote(b.Text), "", b.Data)
			} else {
				input("type "+quote(f.Keywords["vi"][0]), f.Keywords["vi"][0], "")
			}
			tapped := map[string]bool{}
			for step := 0; ; step++ {
				conv, _, err := h.main.Redis.Load(t.Context(), key, "")
				if err != nil {
					t.Fatal(err)
				}
				if conv.Flow.Flow == "" {
					break
				}
				if step == 60 {
					t.Fatalf("flow %s did not end after 60 taps", f.ID)
				}
				if text, typed := typedAnswer(h.main.Flows, conv.Flow.Flow, conv.Flow.Step); typed && !tapped["typed:"+conv.Flow.Step] {
					tapped["typed:"+conv.Flow.Step] = true
					input("type "+quote(text), text, "")
					continue
				}
				b, ok := webButton(last, func(b bot.Button) bool { return isContent(b.Data) && !tapped[b.Data] })
				if !ok {
					b, ok = webButton(last, func(b bot.Button) bool { return isContent(b.Data) })
				}
				if !ok {
					t.Fatalf("flow %s stuck at %s/%s: no content button", f.ID, conv.Flow.Flow, conv.Flow.Step)
				}
				tapped[b.Data] = true
				input("tap "+quote(b.Text), "", b.Data)
			}
			compareGolden(t, filepath.Join("testdata", "golden", "web", f.ID+".txt"), log.String())
		})
	}
}

// webButton is the first button of the last message that has one that
// matches (a link never does).
func webButton(last []historyMsg, match func(bot.Button) bool) (bot.Button, bool) {
	for i := len(last) - 1; i >= 0; i-- {
		for _, row := range last[i].Buttons {
			for _, b := range row {
				if b.URL == "" && !isReminder(b.Text) && match(b) {
					return b, true
				}
			}
		}
	}
	return bot.Button{}, false
}
