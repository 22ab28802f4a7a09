package store

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

func webKey(id string) bot.ConvKey { return bot.ConvKey{Channel: bot.ChannelWeb, ChatID: id} }

func TestWebHistory(t *testing.T) {
	cases := []struct {
		name string
		fn   func(t *testing.T, url string)
	}{
		{"AppendAndRead", testHistoryAppendAndRead},
		{"Dedupe", testHistoryDedupe},
		{"Cap", testHistoryCap},
		{"KeyLayoutAndTTL", testHistoryKeyLayoutAndTTL},
		{"Watch", testHistoryWatch},
	}
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.fn(t, srv.url(t)) })
			}
		})
	}
}

func testHistoryAppendAndRead(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	ctx := context.Background()
	k := webKey("a1")
	if items, err := r.History(ctx, k, 0); err != nil || len(items) != 0 {
		t.Fatalf("empty history = %v, %v", items, err)
	}
	msgs := []string{`{"x":"Xin chào"}`, "line1\nline2\n\n", "{\"x\":\"🙋 مرحبا \u202eRTL\u202c \\u0000?\"}"}
	for i, m := range msgs {
		seq, added, err := r.AppendHistory(ctx, k, "m"+strconv.Itoa(i), []byte(m))
		if err != nil || !added || seq != int64(i+1) {
			t.Fatalf("append %d = %d, %v, %v", i, seq, added, err)
		}
	}
	items, err := r.History(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != len(msgs) {
		t.Fatalf("got %d items, want %d", len(items), len(msgs))
	}
	for i, it := range items {
		if it.Seq != int64(i+1) || it.ID != "m"+strconv.Itoa(i) || string(it.Data) != msgs[i] {
			t.Errorf("item %d = %d %q %q", i, it.Seq, it.ID, it.Data)
		}
	}
	since, err := r.History(ctx, k, 2)
	if err != nil || len(since) != 1 || since[0].Seq != 3 {
		t.Fatalf("since 2 = %+v, %v", since, err)
	}
	other, err := r.History(ctx, webKey("a2"), 0)
	if err != nil || len(other) != 0 {
		t.Fatalf("another visitor sees %d items, %v", len(other), err)
	}
	if _, _, err := r.AppendHistory(ctx, k, "bad\nid", []byte("x")); err == nil {
		t.Error("an id with a newline was accepted")
	}
}

func testHistoryDedupe(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	ctx := context.Background()
	k := webKey("d1")
	seq1, added, err := r.AppendHistory(ctx, k, "u1/0", []byte("a"))
	if err != nil || !added {
		t.Fatal(added, err)
	}
	if _, _, err := r.AppendHistory(ctx, k, "u1/1", []byte("b")); err != nil {
		t.Fatal(err)
	}
	seq, added, err := r.AppendHistory(ctx, k, "u1/0", []byte("a again"))
	if err != nil || added || seq != seq1 {
		t.Fatalf("re-append = %d, %v, %v; want %d, false", seq, added, err, seq1)
	}
	// empty ids are never deduplicated
	for range 2 {
		if _, added, err := r.AppendHistory(ctx, k, "", []byte("c")); err != nil || !added {
			t.Fatal(added, err)
		}
	}
	items, err := r.History(ctx, k, 0)
	if err != nil || len(items) != 4 {
		t.Fatalf("history has %d items, %v; want 4", len(items), err)
	}
}

func testHistoryCap(t *testing.T, url string) {
	r, _, _ := newTestRedis(t, url, RedisOptions{})
	ctx := context.Background()
	k := webKey("c1")
	total := HistoryCap + 15
	for i := 1; i <= total; i++ {
		if _, _, err := r.AppendHistory(ctx, k, fmt.Sprint("m", i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	items, err := r.History(ctx, k, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != HistoryCap {
		t.Fatalf("kept %d items, want %d", len(items), HistoryCap)
	}
	if first, last := items[0].Seq, items[len(items)-1].Seq; first != int64(total-HistoryCap+1) || last != int64(total) {
		t.Errorf("kept seq %d..%d, want %d..%d", first, last, total-HistoryCap+1, total)
	}
}

func testHistoryKeyLayoutAndTTL(t *testing.T, url string) {
	r, client, _ := newTestRedis(t, url, RedisOptions{Prefix: fmt.Sprintf("gocua_hist_%d", time.Now().UnixNano())})
	ctx := context.Background()
	k := webKey("0123abcd")
	if _, _, err := r.AppendHistory(ctx, k, "x", []byte("y")); err != nil {
		t.Fatal(err)
	}
	list := r.opts.Prefix + ":{web:0123abcd}:h"
	if n, err := client.LLen(ctx, list).Result(); err != nil || n != 1 {
		t.Fatalf("LLEN %s = %d, %v", list, n, err)
	}
	assertTTL(t, client, list, HistoryTTL)
	assertTTL(t, client, list+"n", HistoryTTL)
}

// testHistoryWatch: every replica watching hears of a message appended on
// any (two stores with one prefix are two replicas), once per message
// appended — a retried append that adds nothing wakes nobody — and the
// watch ends with its context.
func testHistoryWatch(t *testing.T, url string) {
	a, _, _ := newTestRedis(t, url, RedisOptions{})
	b, _, _ := newTestRedis(t, url, RedisOptions{Prefix: a.opts.Prefix})
	other, _, _ := newTestRedis(t, url, RedisOptions{}) // another deployment on the same Redis
	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan string, 10)
	ready := make(chan struct{})
	ended := make(chan error, 1)
	go func() { ended <- b.WatchHistory(ctx, ready, func(v string) { heard <- v }) }()
	select {
	case <-ready:
	case err := <-ended:
		t.Fatalf("watch ended before it was ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("watch not ready")
	}
	if _, _, err := other.AppendHistory(ctx, webKey("elsewhere"), "m0", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"m1", "m1", "m2"} {
		if _, _, err := a.AppendHistory(ctx, webKey("v1"), id, []byte(fmt.Sprint("msg ", i))); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case v := <-heard:
			if v != "v1" {
				t.Fatalf("heard of visitor %q, want v1", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an append was not heard of")
		}
	}
	select {
	case v := <-heard:
		t.Fatalf("heard of %q once too often (a retried append, or another deployment's)", v)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("watch ended with %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end with its context")
	}
}
