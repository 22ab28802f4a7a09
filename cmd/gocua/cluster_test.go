package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store/storetest"
)

// gocua on a real three-master Redis Cluster (GOCUA_REDIS_URL in
// go-redis's cluster form, redis://node1?addr=node2&addr=node3): a
// resident's /start, a button tap and typed messages are answered once
// each and in order, a re-delivered update gets no second reply, and the
// conversation's state is in the cluster. It needs redis-server and
// redis-cli (Debian packages redis-server and redis-tools).
func TestConversationOnRedisCluster(t *testing.T) {
	cluster := storetest.NewCluster(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.yaml"), []byte(echoFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, nil, withEnv("GOCUA_REDIS_URL", cluster.URL()), withEnv("GOCUA_FLOWS_DIR", dir))
	chat := newChatID()
	set := h.main.Flows

	// step sends update and returns the replies it brought, after checking
	// there are want of them (any number when want < 0).
	seen := 0
	step := func(what string, update map[string]any, want int) []telegramtest.SentMessage {
		t.Helper()
		h.send(update)
		h.settle()
		all := h.sentTo(chat)
		got := all[seen:]
		seen = len(all)
		if want >= 0 && len(got) != want {
			t.Fatalf("%s: %d replies %q, want %d", what, len(got), texts(got), want)
		}
		if want < 0 && len(got) == 0 {
			t.Fatalf("%s: no reply", what)
		}
		return got
	}

	greet := step("/start", textUpdate(nextUpdateID(), chat, "/start"), startReplies)
	for i, text := range []string{"greeting", "consent_ask", "menu"} {
		if want := plain(set.Text("vi", text, map[string]string{"name": "Lan"})); !strings.Contains(plain(greet[i].Text), want) {
			t.Errorf("/start reply %d is %q, want %s (%q)", i, greet[i].Text, text, want)
		}
	}
	tap := buttonUpdate(nextUpdateID(), chat, firstFlowButton(t, greet[len(greet)-1]))
	step("tap", tap, -1)

	step("typed keyword", textUpdate(nextUpdateID(), chat, "thu tu"), 1)
	said := []string{"một", "hai", "ba"}
	typed := make([]map[string]any, len(said))
	for i, s := range said { // sent one after another, delivered together
		typed[i] = textUpdate(nextUpdateID(), chat, s)
		h.send(typed[i])
	}
	h.settle()
	echoes := h.sentTo(chat)[seen:]
	seen += len(echoes)
	if len(echoes) != len(said) {
		t.Fatalf("typed %d messages, got %d replies %q", len(said), len(echoes), texts(echoes))
	}
	for i, m := range echoes {
		if !strings.HasSuffix(strings.TrimSpace(plain(m.Text)), said[i]) {
			t.Errorf("reply %d is %q, want it to repeat %q (replies out of order)", i, m.Text, said[i])
		}
	}

	// Telegram re-delivers the tap and a typed message: no second reply
	step("re-delivered tap", tap, 0)
	step("re-delivered message", typed[1], 0)
	if all := texts(h.sentTo(chat)); !distinct(all) {
		t.Errorf("a reply was sent twice: %q", all)
	}

	// the conversation lives in the cluster, under this test's prefix
	o, err := redis.ParseClusterURL(cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(o)
	defer cc.Close()
	stateKey := testPrefix(t) + ":{" + key(chat).String() + "}:s"
	if n, err := cc.Exists(context.Background(), stateKey).Result(); err != nil || n != 1 {
		t.Errorf("EXISTS %s on the cluster = %d, %v; want the conversation's state there", stateKey, n, err)
	}
}
