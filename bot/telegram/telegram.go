// Package telegram is gocua's Telegram channel adapter. It receives updates
// on its own webhook handler, turns them into bot.Inbound for the core, and
// delivers bot.Outbound through the Bot API. go-telegram/bot is imported only
// in this package, for its Bot API types and client; the three methods every
// resident's update makes (sendMessage, editMessageText,
// answerCallbackQuery) are posted as JSON by call instead (see call.go).
//
// The webhook answers 200 only after the core has taken the update (Handle
// returned nil); any failure before that answers 503, so Telegram delivers
// the update again and an acknowledged update is never lost. Re-deliveries
// are recognised by update_id in the core. The library's own WebhookHandler
// and StartWebhook are not used: they answer 200 to a wrong secret and to bad
// JSON, read bodies without a size limit, log them, and keep updates only in
// memory.
package telegram

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Handler is the core: it handles one inbound update and returns nil once the
// update is durably taken. *bot.Service implements it.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) error
}

// Config configures the adapter.
type Config struct {
	Token         string
	WebhookSecret string        // X-Telegram-Bot-Api-Secret-Token; without it every webhook call is refused
	APIURL        string        // Bot API base URL (default https://api.telegram.org)
	PublicURL     string        // https base URL Telegram calls (for SetWebhook)
	MaxBody       int64         // largest webhook body accepted (default 1 MiB)
	HandleTimeout time.Duration // budget for the core per update (default 25 s; Telegram waits 60 s)
	// VolunteerChatID is the volunteers' group (0 = none). Button taps on
	// the bot's messages there reach the core, keyed by the group; its
	// other updates are ignored like every non-private chat's.
	VolunteerChatID int64
}

// DefaultAPIURL is the public Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// Telegram's limits for one message.
const (
	MaxText         = 4096 // UTF-16 code units after entity parsing
	MaxCaption      = 1024 // a media message's caption, counted like MaxText
	MaxCallbackData = 64   // bytes
)

// Adapter is the Telegram channel: an http.Handler for the webhook, a
// bot.Deliverer for replies, and the webhook registration for the CLI.
type Adapter struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	client *tgbot.Bot
	httpc  *http.Client // for file downloads, which are not Bot API methods
	now    func() time.Time
	parse  parseConfig
	media  MediaSource // nil: only files kept by Telegram can be sent
	// uploaded remembers the file_id Telegram gave a file this adapter
	// uploaded (by its Ref), so a broadcast's image is uploaded once, not
	// once per recipient.
	uploaded fileIDs
	name     botName
}

// Option tunes an Adapter.
type Option func(*options)

type options struct {
	httpc *http.Client
	now   func() time.Time
	media MediaSource
}

// WithHTTPClient replaces the client used for Bot API calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpc = c } }

// WithClock replaces time.Now (it stamps button taps, which carry no date).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New builds the adapter. h may be nil when the adapter only registers the
// webhook (gocua webhook set); ServeHTTP then answers 503.
//
// New makes no network call: the library's getMe check is skipped
// (WithSkipGetMe), because it fails construction when Telegram is unreachable,
// which would turn a Telegram or network outage into a crash loop that also
// takes down gocua's other channels and its dashboard.
func New(cfg Config, h Handler, log *slog.Logger, opts ...Option) (*Adapter, error) {
	if cfg.Token == "" {
		return nil, errors.New("telegram: token is empty")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.APIURL = cmp.Or(cfg.APIURL, DefaultAPIURL)
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 1<<20)
	cfg.HandleTimeout = cmp.Or(cfg.HandleTimeout, 25*time.Second)
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpc == nil {
		o.httpc = newHTTPClient()
	}
	if cfg.WebhookSecret == "" {
		log.Warn("telegram webhook secret is not configured: every webhook call will be refused",
			"variable", "GOCUA_TELEGRAM_WEBHOOK_SECRET")
	}
	client, err := tgbot.New(cfg.Token,
		tgbot.WithServerURL(cfg.APIURL),
		tgbot.WithSkipGetMe(),
		tgbot.WithHTTPClient(0, withBufferedBodies(o.httpc)),
		// The library's default handlers print with the standard logger, and
		// its debug output holds message content. Request errors reach us as
		// return values; what is left (closing pipes and bodies) goes to slog.
		tgbot.WithErrorsHandler(func(err error) { log.Debug("telegram client", "err", err) }),
		tgbot.WithDebugHandler(func(string, ...any) {}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	return &Adapter{
		cfg: cfg, h: h, log: log, client: client, httpc: o.httpc, now: o.now, media: o.media,
		parse: parseConfig{volunteerChat: cfg.VolunteerChatID, botID: botID(cfg.Token)},
	}, nil
}

// botID is the user id a token belongs to (the number before its colon), or
// 0 when the token does not say.
func botID(token string) int64 {
	id, _, _ := strings.Cut(token, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// newHTTPClient bounds every stage of a Bot API call; callers add their own
// context deadline on top.
func newHTTPClient() *http.Client { return platform.NewClient(100) }

// Limits returns Telegram's message limits for the core's sender.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxText: MaxText, MaxCallbackData: MaxCallbackData, MaxCaption: MaxCaption}
}
