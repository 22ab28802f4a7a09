// Package telegram is gocua's Telegram channel adapter: it receives updates on
// its own webhook handler, turns them into bot.Inbound for the core, and
// delivers bot.Outbound through the Bot API. go-telegram/bot is used only here,
// for the Bot API client and its models.
//
// Guarantees (see docs/architecture.md): the webhook answers 200 only after
// the core has durably committed the update's effects and replies; any failure
// before that answers 503 so Telegram delivers the update again. An
// acknowledged update is therefore never lost, and re-deliveries are recognised
// by update_id in the core. The library's own WebhookHandler is not used: it
// answers 200 to bad secrets and bad JSON, logs bodies and keeps updates only in
// memory (reference/telegram.md §0).
package telegram

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/gocua/gocua/bot"
)

// Handler is the core: it handles one inbound update and returns nil once
// the update is durably taken.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) error
}

// Config configures the adapter.
type Config struct {
	Token         string
	WebhookSecret string
	APIURL        string        // default https://api.telegram.org
	PublicURL     string        // https base URL Telegram calls (for SetWebhook)
	MaxBody       int64         // default 1 MiB
	HandleTimeout time.Duration // budget for the core per update (default 25 s; Telegram waits 60 s)
}

// Telegram's limits for one message.
const (
	MaxText         = 4096 // UTF-16 code units after entity parsing
	MaxCallbackData = 64   // bytes
)

// Adapter is the Telegram channel.
type Adapter struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	client *tgbot.Bot
}

// New builds the adapter. It does not call getMe (WithSkipGetMe): a Telegram
// outage must not keep gocua from starting and serving its other channels.
func New(cfg Config, h Handler, log *slog.Logger) (*Adapter, error) {
	if cfg.Token == "" {
		return nil, errors.New("telegram: token is empty")
	}
	cfg.APIURL = cmp.Or(cfg.APIURL, "https://api.telegram.org")
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 1<<20)
	cfg.HandleTimeout = cmp.Or(cfg.HandleTimeout, 25*time.Second)
	if cfg.WebhookSecret == "" {
		log.Warn("no webhook secret configured: every webhook call will be refused")
	}
	httpc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        100,
			MaxIdleConnsPerHost: 100,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		},
	}
	client, err := tgbot.New(cfg.Token,
		tgbot.WithServerURL(cfg.APIURL),
		tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(0, httpc),
		// the library would log with the standard logger; errors reach us as return values
		tgbot.WithErrorsHandler(func(err error) { log.Debug("telegram client", "err", err) }),
		tgbot.WithDebugHandler(func(string, ...any) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	return &Adapter{cfg: cfg, h: h, log: log, client: client}, nil
}

// Limits returns Telegram's message limits for the core's sender.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxText: MaxText, MaxCallbackData: MaxCallbackData}
}
