package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/redis/go-redis/v9"
)

// The floor is the cheapest bot with gocua's I/O shape, to measure gocua
// against: per update one Redis GET and one SET of the chat's key and one
// sendMessage, through go-telegram/bot. Its webhook answers 200 only once the
// reply was sent (go-telegram/bot's own WebhookHandler answers as soon as
// the update is queued in memory, which would lose it in a crash), and 500
// when anything failed, so that Telegram posts the update again.

// floorPrefix starts the floor's Redis keys.
const floorPrefix = "gocua-load-floor"

// floorConfig is the floor's command line.
type floorConfig struct {
	addr, redisURL, apiURL, prefix string
}

// runFloor is the hidden subcommand `gocua-load floor`: it serves until ctx
// ends.
func runFloor(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("gocua-load floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg floorConfig
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8090", "address to listen on (POST /webhook/telegram, GET /readyz)")
	fs.StringVar(&cfg.redisURL, "redis", "redis://127.0.0.1:6379/13", "Redis URL")
	fs.StringVar(&cfg.apiURL, "api", "https://api.telegram.org", "Bot API base URL")
	fs.StringVar(&cfg.prefix, "prefix", floorPrefix, "start of every Redis key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts, err := redis.ParseURL(cfg.redisURL)
	if err != nil {
		return fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(opts) // go-redis's pool, as gocua's: both honour ?pool_size= in the URL
	defer rdb.Close()
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
	}}
	b, err := tgbot.New(botToken, tgbot.WithServerURL(cfg.apiURL), tgbot.WithSkipGetMe(), tgbot.WithHTTPClient(15*time.Second, client))
	if err != nil {
		return fmt.Errorf("bot: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f := &floor{rdb: rdb, bot: b, prefix: cfg.prefix, log: log}
	mux := http.NewServeMux()
	mux.Handle("POST /webhook/telegram", f)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := rdb.Ping(r.Context()).Err(); err != nil {
			http.Error(w, "redis down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// floor is the echo bot's webhook.
type floor struct {
	rdb    *redis.Client
	bot    *tgbot.Bot
	prefix string
	log    *slog.Logger
}

// ServeHTTP takes one update: decode, GET and SET the chat's count,
// sendMessage the text back, then 200.
func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Telegram-Bot-Api-Secret-Token") != webhookSecret {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var u models.Update
	if err := json.NewDecoder(r.Body).Decode(&u); err != nil {
		http.Error(w, "bad update", http.StatusBadRequest)
		return
	}
	if u.Message == nil || u.Message.Text == "" {
		w.WriteHeader(http.StatusOK) // nothing to echo
		return
	}
	ctx := r.Context()
	key := f.prefix + ":chat:" + strconv.FormatInt(u.Message.Chat.ID, 10)
	n, err := f.rdb.Get(ctx, key).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		f.fail(w, "redis get", err)
		return
	}
	if err := f.rdb.Set(ctx, key, n+1, time.Hour).Err(); err != nil {
		f.fail(w, "redis set", err)
		return
	}
	if _, err := f.bot.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: u.Message.Text}); err != nil {
		f.fail(w, "sendMessage", err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *floor) fail(w http.ResponseWriter, what string, err error) {
	f.log.Warn("update failed", "step", what, "err", err)
	http.Error(w, what+" failed", http.StatusInternalServerError)
}
