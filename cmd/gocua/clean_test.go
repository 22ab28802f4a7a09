package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// A message that bot.CleanText leaves empty is answered like a message
// without text, on Telegram and on the web chat: not refused, not met with
// silence.
func TestEmptiedMessageIsAnswered(t *testing.T) {
	h := start(t, nil)
	media := h.main.Flows.Text("vi", "media", nil)

	chat := newChatID()
	h.send(textUpdate(nextUpdateID(), chat, "\u0000\u0007\u200b\u202e"))
	h.settle()
	if sent := h.sentTo(chat); !containsText(sent, media) {
		t.Fatalf("Telegram: no answer to a message of control characters: %q", texts(sent))
	}

	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp, err := web.Get(h.url + "/chat"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if code := webSend(t, web, h.url, `{"id":"emptied-0001","seq":1,"text":"\u0000\u0001"}`); code != http.StatusOK {
		t.Fatalf("web chat: a message of control characters answered %d", code)
	}
	h.settle()
	resp, err := web.Get(h.url + "/chat/api/history?since=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var d struct {
		Messages []struct{ From, Text string }
	}
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Messages) != 1 || d.Messages[0].From != "bot" || !strings.Contains(plain(d.Messages[0].Text), plain(media)) {
		t.Fatalf("web chat history = %+v, want only the bot's answer for messages without text", d.Messages)
	}
}
