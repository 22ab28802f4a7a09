package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/config"
)

// startEmpty runs Main as `go run ./cmd/gocua` does on a fresh clone: no
// environment at all except a free port and a temp data dir.
func startEmpty(t testing.TB, dataDir string, out io.Writer) *Main {
	t.Helper()
	env := map[string]string{"GOCUA_HTTP_ADDR": "127.0.0.1:0", "GOCUA_DATA_DIR": dataDir}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Out = out
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run with no configuration: %v", err)
	}
	return m
}

func TestZeroConfigRunsAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	var banner bytes.Buffer
	m := startEmpty(t, dir, &banner)
	for _, path := range []string{"/healthz", "/readyz", "/chat", "/chat/widget.js"} {
		resp, err := http.Get("http://" + m.Addr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s = %d", path, resp.StatusCode)
		}
	}
	for _, want := range []string{"/chat", "SQLite", "NOT kept across restarts", "zalo bot     off", "zalo oa      off"} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner does not mention %q:\n%s", want, banner.String())
		}
	}
	if !m.Embedded.Database || !m.Embedded.Redis {
		t.Fatalf("embedded = %+v, want both", m.Embedded)
	}

	// a web resident talks through /chat on the embedded stores
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar}
	base := "http://" + m.Addr
	if resp, err := web.Get(base + "/chat"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/chat/api/send", strings.NewReader(`{"id":"msg-0001","seq":1,"text":"/start"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("web chat send = %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := web.Get(base + "/chat/api/history?since=0")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "VNeID") {
			break // the greeting and the menu arrived
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply in the web chat history: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}

	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: "visitor-1"}
	// asking for a volunteer, then the two short questions (the problem,
	// the ward: skipped)
	for i, data := range []string{"nav:human", "in:t:vneid", "in:skip"} {
		err = m.Service.Handle(context.Background(), bot.Inbound{Key: key, UpdateID: fmt.Sprint("u", i+1), Seq: int64(i + 1),
			Kind: bot.InButton, Data: data, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
	}
	conv, _, err := m.Redis.Load(context.Background(), key, "")
	if err != nil || conv.Ticket == 0 {
		t.Fatalf("no ticket after asking for a volunteer: %v %+v", err, conv)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := startEmpty(t, dir, nil)
	defer m2.Close()
	if _, err := m2.DB.Resident(context.Background(), key); err != nil {
		t.Fatalf("resident lost across a restart: %v", err)
	}
	tk, err := m2.DB.Ticket(context.Background(), conv.Ticket)
	if err != nil || tk.Status != "waiting" {
		t.Fatalf("ticket lost across a restart: %v %+v", err, tk)
	}
}

// BenchmarkStartEmbedded measures the time from NewMain to a listening,
// ready server with the embedded default (SQLite file already migrated
// after the first iteration, as on every start but the first).
func BenchmarkStartEmbedded(b *testing.B) {
	dir := b.TempDir()
	for b.Loop() {
		m := startEmpty(b, dir, nil)
		resp, err := http.Get("http://" + m.Addr + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("not ready: %v", err)
		}
		resp.Body.Close()
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
}
