package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/flows"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/golden")

// TestGoldenTranscripts walks every bundled flow to its end through the real
// Telegram ingress and compares every message and keyboard the fake Bot API
// received with testdata/golden/<flow>.txt. The walk opens the flow from the
// main menu (or by its first keyword), then keeps tapping the first content
// button it has not tapped yet, until the flow ends or hands the resident to a
// volunteer. Run with -update after changing bundled content, and review the diff.
func TestGoldenTranscripts(t *testing.T) {
	h := start(t, nil)
	set := h.main.Flows
	for _, f := range set.Flows() {
		t.Run(f.ID, func(t *testing.T) {
			w := walker{h: h, t: t, chat: newChatID()}
			w.input("/start", textUpdate(nextUpdateID(), w.chat, "/start"))
			if f.Menu > 0 {
				data := w.find(f.Title["vi"])
				w.input("tap "+quote(f.Title["vi"]), buttonUpdate(nextUpdateID(), w.chat, data))
			} else {
				kw := f.Keywords["vi"][0]
				w.input("type "+quote(kw), textUpdate(nextUpdateID(), w.chat, kw))
			}
			tapped := map[string]bool{}
			for step := 0; ; step++ {
				conv, _, err := h.main.Redis.Load(context.Background(), key(w.chat), "")
				if err != nil {
					t.Fatal(err)
				}
				if conv.Flow.Flow == "" {
					break // ended, or handed to a volunteer
				}
				if step == 60 {
					t.Fatalf("flow %s did not end after 60 taps", f.ID)
				}
				if text, typed := typedAnswer(set, conv.Flow.Flow, conv.Flow.Step); typed && !tapped["typed:"+conv.Flow.Step] {
					tapped["typed:"+conv.Flow.Step] = true
					w.input("type "+quote(text), textUpdate(nextUpdateID(), w.chat, text))
					continue
				}
				b, ok := w.nextButton(tapped)
				if !ok {
					t.Fatalf("flow %s stuck at %s/%s: no content button to tap", f.ID, conv.Flow.Flow, conv.Flow.Step)
				}
				tapped[b.CallbackData] = true
				w.input("tap "+quote(b.Text), buttonUpdate(nextUpdateID(), w.chat, b.CallbackData))
			}
			compareGolden(t, filepath.Join("testdata", "golden", f.ID+".txt"), w.log.String())
		})
	}
}

type walker struct {
	h    *harness
	t    *testing.T
	chat int64
	seen int
	last []telegramtest.SentMessage
	log  strings.Builder
}

// input sends one update, waits for the replies and writes both to the log.
func (w *walker) input(label string, upd map[string]any) {
	w.t.Helper()
	w.h.send(upd)
	w.h.settle()
	all := w.h.sentTo(w.chat)
	w.last = all[w.seen:]
	w.seen = len(all)
	fmt.Fprintf(&w.log, "> %s\n", label)
	for _, m := range w.last {
		if m.Method == "sendPhoto" {
			fmt.Fprintf(&w.log, "< [photo]\n")
		}
		for _, line := range strings.Split(m.Text, "\n") {
			// the queue depends on what other tests left waiting or took
			if strings.HasPrefix(line, "🕐") {
				line = "🕐 (place in the queue, expected wait)"
			}
			fmt.Fprintf(&w.log, "< %s\n", line)
		}
		for _, row := range m.Keyboard {
			var cells []string
			for _, b := range row {
				cells = append(cells, describe(b))
			}
			fmt.Fprintf(&w.log, "  [%s]\n", strings.Join(cells, " | "))
		}
	}
	if len(w.last) == 0 {
		w.t.Fatalf("%s: no reply", label)
	}
}

func describe(b telegramtest.Btn) string {
	switch {
	case b.URL != "":
		return b.Text + " → " + b.URL
	case isFlowButton(b):
		return b.Text
	default:
		return b.Text + " (" + b.CallbackData + ")"
	}
}

// find returns the data of the button labelled text in the last replies.
func (w *walker) find(text string) string {
	w.t.Helper()
	for _, m := range w.last {
		for _, row := range m.Keyboard {
			for _, b := range row {
				if b.Text == text {
					return b.CallbackData
				}
			}
		}
	}
	w.t.Fatalf("no button %q in the last replies", text)
	return ""
}

// nextButton picks the first content button of the last message with buttons
// that was not tapped yet, or else its first content button.
func (w *walker) nextButton(tapped map[string]bool) (telegramtest.Btn, bool) {
	for i := len(w.last) - 1; i >= 0; i-- {
		var first *telegramtest.Btn
		for _, row := range w.last[i].Keyboard {
			for _, b := range row {
				if !isFlowButton(b) {
					continue
				}
				if !tapped[b.CallbackData] {
					return b, true
				}
				if first == nil {
					first = &b
				}
			}
		}
		if first != nil {
			return *first, true
		}
	}
	return telegramtest.Btn{}, false
}

func quote(s string) string { return `"` + s + `"` }

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/gocua -run TestGoldenTranscripts -update to create it)", err)
	}
	if string(want) != got {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// typedAnswer is what a walker types at a step that asks for typed input
// rather than a tap (a link to check, a number, a text), or false.
func typedAnswer(set *flows.Set, flow, step string) (string, bool) {
	f, ok := set.Flow(flow)
	if !ok {
		return "", false
	}
	for _, st := range f.Steps {
		if st.ID != step || st.Ask == nil {
			continue
		}
		switch st.Ask.Type {
		case "link":
			return "https://dichvucong.gov.vn/p/home/dvc-trang-chu.html", true
		case "number":
			if st.Ask.Min != nil {
				return strconv.Itoa(*st.Ask.Min), true
			}
			return "1", true
		case "text":
			return "Phường Thuận Hóa", true
		}
	}
	return "", false
}
