package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store/storetest"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plain strips the HTML the Telegram adapter adds, for comparing with flow texts.
func plain(s string) string {
	return strings.NewReplacer("<b>", "", "</b>", "", "**", "", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&quot;", `"`, "&#39;", "'").Replace(s)
}

func containsText(msgs []telegramtest.SentMessage, want string) bool {
	want = plain(want)
	for _, m := range msgs {
		if strings.Contains(plain(m.Text), want) {
			return true
		}
	}
	return false
}

// startReplies is how many messages a new resident's /start gets: the
// greeting, the consent question and the main menu.
const startReplies = 3

// distinct reports whether no two of ss are equal.
func distinct(ss []string) bool {
	seen := map[string]bool{}
	for _, s := range ss {
		if seen[s] {
			return false
		}
		seen[s] = true
	}
	return true
}

// countText counts the messages that contain want.
func countText(msgs []telegramtest.SentMessage, want string) int {
	want, n := plain(want), 0
	for _, m := range msgs {
		if strings.Contains(plain(m.Text), want) {
			n++
		}
	}
	return n
}

func texts(msgs []telegramtest.SentMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

// isFlowButton reports whether a button leads into flow content (not a
// way-out, language or link button).
func isFlowButton(b telegramtest.Btn) bool {
	return b.URL == "" && b.CallbackData != "" && !strings.HasPrefix(b.CallbackData, "nav:") && !strings.HasPrefix(b.CallbackData, "lang:") &&
		!isReminder(b.Text)
}

// isReminder reports whether a button's label is a "⏰ Nhắc tôi…" one: the
// golden walks leave reminders to the flows' own path test (a reminder
// leads out of the guide and back days later).
func isReminder(label string) bool { return strings.HasPrefix(label, "⏰") }

func firstFlowButton(t *testing.T, m telegramtest.SentMessage) string {
	t.Helper()
	for _, row := range m.Keyboard {
		for _, b := range row {
			if isFlowButton(b) {
				return b.CallbackData
			}
		}
	}
	t.Fatalf("message %q has no flow button", m.Text)
	return ""
}

// flushOwnRedis deletes what this test wrote to Redis (as a Redis flush
// would), leaving other tests and processes alone.
func flushOwnRedis(t testing.TB) error {
	return storetest.DeletePrefix(context.Background(), redisDB, testPrefix(t))
}
