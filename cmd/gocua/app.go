package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
)

// Main is a running gocua: stores, core, channel adapters and the HTTP
// server. Tests build one with NewMain, adjust the exported knobs, call Run and
// finally Close.
type Main struct {
	Config config.Config
	Log    *slog.Logger

	// Knobs with production defaults that tests may change before Run.
	ReorderWindow   time.Duration // how long an update waits for lower-numbered ones of its chat (default 5 ms)
	TelegramPerChat float64       // messages per second to one chat (default 1, Telegram's limit)
	TelegramBurst   int           // messages a chat may get back to back (default 1)
	TelegramRate    float64       // overrides GOCUA_TELEGRAM_RATE when > 0 (benchmarks lift pacing)
	SendWorkers     int           // concurrent deliveries per channel (default 16)

	// Set by Run.
	Addr     string // the address the HTTP server listens on
	Flows    *flows.Set
	Redis    *store.Redis
	DB       *store.Postgres
	Service  *bot.Service
	Telegram *telegram.Adapter
	Senders  map[bot.Channel]*bot.Sender

	srv     *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closeMu sync.Mutex
	closed  bool
}

// NewMain returns a Main for cfg that logs to log.
func NewMain(cfg config.Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log, ReorderWindow: 5 * time.Millisecond, TelegramPerChat: 1, TelegramBurst: 1}
}

// loadFlows loads the bundled flows overlaid with GOCUA_FLOWS_DIR (if set).
func loadFlows(dir string) (*flows.Set, error) {
	layers := []fs.FS{flows.Named("bundled", flows.Bundled())}
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("GOCUA_FLOWS_DIR: %w", err)
		}
		layers = append(layers, flows.Named(dir, os.DirFS(dir)))
	}
	return flows.Load(layers...)
}

// openStores connects to Redis and PostgreSQL and applies migrations.
func (m *Main) openStores(ctx context.Context) error {
	cfg := m.Config
	if cfg.RedisURL.Reveal() == "" || cfg.DatabaseURL.Reveal() == "" {
		return errors.New("GOCUA_REDIS_URL and GOCUA_DATABASE_URL must both be set (the embedded default is not available yet)")
	}
	var err error
	if m.Redis, err = store.OpenRedis(ctx, cfg.RedisURL.Reveal(), store.RedisOptions{StateTTL: cfg.StateTTL}); err != nil {
		return fmt.Errorf("GOCUA_REDIS_URL: %w", err)
	}
	if m.DB, err = store.OpenPostgres(ctx, cfg.DatabaseURL.Reveal(), m.Log.With("component", "postgres")); err != nil {
		return fmt.Errorf("GOCUA_DATABASE_URL: %w", err)
	}
	if err := m.DB.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Run starts everything and returns once the HTTP server is listening. The
// services keep running until Close.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	cfg := m.Config
	m.Log.Debug("configuration", "config", cfg) // secrets are redacted by config.LogValue
	if m.Flows, err = loadFlows(cfg.FlowsDir); err != nil {
		return err
	}
	if err := m.openStores(ctx); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.Senders = make(map[bot.Channel]*bot.Sender)
	enqueuers := make(map[bot.Channel]bot.Enqueuer)
	m.Service = bot.NewService(bot.Config{
		DefaultLang:   cfg.DefaultLang,
		ReorderWindow: m.ReorderWindow,
		Preferences:   m.DB,
	}, m.Flows, m.Redis, m.DB, enqueuers, m.Log.With("component", "core"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", m.ready)

	if cfg.Telegram.Enabled() {
		m.Telegram, err = telegram.New(telegram.Config{
			Token:         cfg.Telegram.Token.Reveal(),
			WebhookSecret: cfg.Telegram.WebhookSecret.Reveal(),
			APIURL:        cfg.Telegram.APIURL,
			PublicURL:     cfg.PublicURL,
		}, m.Service, m.Log.With("channel", "telegram"))
		if err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		snd := bot.NewSender(bot.SenderConfig{
			Limits:  m.Telegram.Limits(),
			Rate:    cmp.Or(m.TelegramRate, cfg.Telegram.Rate),
			PerChat: m.TelegramPerChat,
			Burst:   m.TelegramBurst,
			Workers: m.SendWorkers,
			Channel: bot.ChannelTelegram,
		}, m.Telegram, m.Redis, m.DB, m.Log.With("channel", "telegram", "component", "sender"))
		m.Senders[bot.ChannelTelegram] = snd
		enqueuers[bot.ChannelTelegram] = snd
		mux.Handle("POST /webhook/telegram", m.Telegram)
	} else {
		m.Log.Warn("Telegram is off: set GOCUA_TELEGRAM_TOKEN and GOCUA_TELEGRAM_WEBHOOK_SECRET to enable it")
	}
	if cfg.ZaloBot.Enabled() || cfg.ZaloOA.Enabled() {
		m.Log.Warn("the Zalo channels are not available in this version; GOCUA_ZALO_* settings are ignored")
	}
	for _, snd := range m.Senders {
		m.wg.Go(func() { _ = snd.Run(runCtx) })
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("GOCUA_HTTP_ADDR: %w", err)
	}
	m.Addr = ln.Addr().String()
	m.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	m.wg.Go(func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("http server", "err", err)
		}
	})
	m.Log.Info("gocua is running", "addr", m.Addr, "flows", len(m.Flows.Flows()), "flows_version", m.Flows.Version(),
		"telegram", cfg.Telegram.Enabled())
	return nil
}

// ready answers 200 when Redis and PostgreSQL both answer, 503 otherwise.
func (m *Main) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var problems []string
	if err := m.Redis.Ping(ctx); err != nil {
		problems = append(problems, "redis: unreachable")
	}
	if err := m.DB.Ping(ctx); err != nil {
		problems = append(problems, "postgres: unreachable")
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, p := range problems {
			fmt.Fprintln(w, p)
		}
		return
	}
	fmt.Fprintln(w, "ready")
}

// Close shuts down in order: stop accepting and finish in-flight requests,
// stop the senders (undelivered messages stay in the outbox), close the stores.
func (m *Main) Close() error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var errs []error
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := m.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		}
		cancel()
	}
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.Service != nil {
		m.Service.Close()
	}
	if m.Redis != nil {
		if err := m.Redis.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if m.DB != nil {
		m.DB.Close()
	}
	return errors.Join(errs...)
}
