package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot/telegram/floor"
)

// The floor (package bot/telegram/floor) is the cheapest bot with gocua's
// I/O shape, to measure gocua against; here it gets Redis for its count and
// a listener.

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
	snd, err := floor.NewSender(cfg.apiURL, botToken, client)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f := &floor.Echo{Secret: webhookSecret, Store: redisCount{rdb, cfg.prefix}, Sender: snd, Log: log}
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

// redisCount is the floor's count: a Redis GET and SET of the chat's key.
type redisCount struct {
	rdb    *redis.Client
	prefix string
}

func (c redisCount) key(chat int64) string { return c.prefix + ":chat:" + strconv.FormatInt(chat, 10) }

func (c redisCount) Get(ctx context.Context, chat int64) (int64, error) {
	n, err := c.rdb.Get(ctx, c.key(chat)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

func (c redisCount) Set(ctx context.Context, chat int64, n int64) error {
	return c.rdb.Set(ctx, c.key(chat), n, floor.CountTTL).Err()
}
