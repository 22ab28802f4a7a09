// Package oa is gocua's Zalo Official Account channel adapter (the OA Open
// API v3). It receives the OA's webhook, turns each event into bot.Inbound
// for the core, and delivers bot.Outbound as consultation ("cs") messages.
//
// Zalo wants its webhook answered within 2 seconds and re-sends an event
// only when the connection fails, so the webhook does not run the core: it
// checks the event's signature and age, decodes it, and commits it with one
// write to a durable inbox (a Redis stream, Inbox) before answering 200.
// Run, a loop the caller owns, hands the inbox's entries to the core — each
// conversation's in order, different conversations in parallel — and
// acknowledges an entry only once the core took it, so an acknowledged
// webhook is never lost.
//
// Sending needs an OAuth access token that lasts 25 hours and a refresh
// token that is single-use: the pair is kept in the durable store (bot.Tokens)
// and refreshed under the store's lock, so replicas never refresh with the
// same refresh token. When Zalo refuses the refresh token a person has to
// authorize the app again; the adapter then says so (ReauthorizeError,
// Health) instead of calling Zalo for every message.
//
// Zalo also reports the OA's own messages back to the webhook (oa_send_*
// events), whether gocua sent them or a person answered in OA Manager. The
// adapter records which messages it sent (Own) and turns only the others
// into bot.InTakeover, so the bot keeps quiet while a person answers.
package oa

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
	"github.com/gocua/gocua/bot/zalo"
)

// Handler is the core: it handles one inbound update and returns nil once
// the update is durably taken (or bot.ErrDuplicate when it was before).
// *bot.Service implements it.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) error
}

// Inbox is the durable queue between the webhook and the core: an
// at-least-once Redis stream with a consumer group. Implemented by
// store.Redis.
type Inbox interface {
	// InboxAdd appends one entry to channel ch's inbox.
	InboxAdd(ctx context.Context, ch bot.Channel, data []byte) error
	// InboxRead hands out up to n entries to consumer, waiting up to block
	// when there are none. An entry handed out and not acknowledged within
	// minIdle is handed out again (to any consumer), with Tries one higher.
	InboxRead(ctx context.Context, ch bot.Channel, consumer string, n int, block, minIdle time.Duration) ([]bot.InboxEntry, error)
	// InboxAck removes entries for good.
	InboxAck(ctx context.Context, ch bot.Channel, ids ...string) error
}

// Own remembers which of the OA's messages gocua sent itself, so that
// Zalo's echo of them (oa_send_* events) is not taken for a person answering
// from OA Manager. Implemented by store.Redis; entries expire on their own.
type Own interface {
	// Sending marks (on) or unmarks a send to key in progress: an echo may
	// arrive before the send call returns its message id.
	Sending(ctx context.Context, key bot.ConvKey, on bool) error
	// MarkOwn records msgID as a message gocua sent to key.
	MarkOwn(ctx context.Context, key bot.ConvKey, msgID string) error
	// Own reports whether msgID was recorded for key, and whether a send to
	// key is in progress.
	Own(ctx context.Context, key bot.ConvKey, msgID string) (own, sending bool, err error)
}

// MediaSource opens a file kept outside Zalo for upload: a web chat upload
// ("web:<id>") in the store, or another channel's file.
type MediaSource interface {
	OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error)
}

// Fetcher downloads a Telegram file by its "telegram:<file_id>" ref, at most
// max bytes (*telegram.Adapter implements it), so a photo a volunteer sent
// on Telegram reaches a Zalo OA resident.
type Fetcher interface {
	FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error)
}

// Config configures the adapter.
type Config struct {
	AppID     string // the Zalo app's id
	AppSecret string // the app's secret key: the secret_key header of OAuth calls
	SecretKey string // the OA secret key: the key of webhook signatures (not AppSecret)
	// RefreshToken is the configured seed of the token pair: used once, when
	// the store holds no pair descending from it.
	RefreshToken string
	// OAID is the Official Account's id, when known: events for another OA
	// are then ignored. Optional: the signature already ties an event to
	// SecretKey, which belongs to one OA.
	OAID     string
	APIURL   string // OpenAPI base URL (default DefaultAPIURL)
	OAuthURL string // OAuth base URL (default DefaultOAuthURL)
	MaxBody  int64  // largest webhook body accepted (default 1 MiB)
	// MaxAge is how old an event's timestamp may be (default 3 h): Zalo
	// re-sends a failed webhook with the same body after 30 s, 5, 15 and
	// 30 min and 1 h. Older events are refused as replays.
	MaxAge time.Duration
	// MaxSkew is how far in the future an event's timestamp may be (default
	// 5 min): clocks differ a little.
	MaxSkew time.Duration
	Workers int // conversations handled at once by Run (default 8)
	// Reclaim is how long an inbox entry handed out and not acknowledged
	// (its replica stopped, or the core failed) waits before it is handed
	// out again, to any replica (default 30 s).
	Reclaim       time.Duration
	HandleTimeout time.Duration // budget for the core per update (default 25 s)
	// AllowPrivateMedia lets OpenMedia download from loopback and private
	// addresses (tests); in production residents' files come from Zalo's CDN.
	AllowPrivateMedia bool
}

// Default base URLs.
const (
	DefaultAPIURL   = "https://openapi.zalo.me"
	DefaultOAuthURL = "https://oauth.zaloapp.com"
)

// WebhookPath is where Zalo posts the OA's events; SignatureHeader carries
// their MAC. TimestampHeader is read only when the body has no timestamp
// (one source says Zalo signs a header's timestamp instead of the body's;
// none confirms it).
const (
	WebhookPath     = "/webhook/zalo-oa"
	SignatureHeader = "X-ZEvent-Signature"
	TimestampHeader = "X-ZEvent-Timestamp"
)

// Zalo's limits for one consultation message, as far as they are known.
const (
	// MaxText is the longest text, in characters (counted as UTF-16 code
	// units, never less than Zalo's count).
	MaxText = 2000
	// MaxButtons is how many buttons one message carries: Zalo's v2
	// documentation says 5; v3 does not say, and some integrations send
	// fewer. More choices go out as follow-up messages.
	MaxButtons = 5
	// MaxButtonTitle is the longest button title (100 characters in
	// third-party v3 documentation); longer titles are cut with "…".
	MaxButtonTitle = 100
	// MaxButtonPayload is the longest button payload, "#gc:" included.
	MaxButtonPayload = 1000
	// MaxImage is the largest image upload/image takes (1 MB, JPEG or PNG;
	// Zalo keeps it 7 days).
	MaxImage = 1 << 20
	// MaxFetch is the largest resident's file OpenMedia downloads.
	MaxFetch = 10 << 20
)

// ButtonPrefix starts the payload of gocua's buttons: a tap comes back as
// the resident's text "#gc:<data>". RefPrefix starts the Media.Ref of a
// file a resident sent: "zalo-oa:<url on Zalo's CDN>".
const (
	ButtonPrefix = "#gc:"
	RefPrefix    = "zalo-oa:"
)

// Adapter is the Zalo OA channel: an http.Handler for the webhook, the
// inbox worker (Run), and a bot.Deliverer for replies.
type Adapter struct {
	busy     atomic.Int64 // inbox entries Run took and has not finished
	cfg      Config
	h        Handler
	inbox    Inbox
	tokens   bot.Tokens
	own      Own
	texts    bot.Texts
	log      *slog.Logger
	httpc    *http.Client // OpenAPI and OAuth calls
	fetchc   *http.Client // residents' files
	now      func() time.Time
	media    MediaSource
	fetcher  Fetcher
	consumer string

	tok         tokenState
	attachments attachmentCache
	progress    progressCache
	recent      recentSends
	loud        loudLog

	// echoPoll and echoWait pace the wait for a send in progress before an
	// echo is judged (tests shorten them).
	echoPoll, echoWait time.Duration
}

// Option tunes an Adapter.
type Option func(*options)

type options struct {
	httpc    *http.Client
	now      func() time.Time
	media    MediaSource
	fetcher  Fetcher
	consumer string
}

// WithHTTPClient replaces the client used for OpenAPI and OAuth calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpc = c } }

// WithClock replaces time.Now: it judges webhook timestamps and token expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithMedia lets Deliver send photos kept outside Zalo and Telegram (web
// chat uploads): their bytes are opened with src and uploaded.
func WithMedia(src MediaSource) Option { return func(o *options) { o.media = src } }

// WithFetcher lets Deliver send photos kept by Telegram ("telegram:<file_id>").
func WithFetcher(f Fetcher) Option { return func(o *options) { o.fetcher = f } }

// WithConsumer names this replica in the inbox's consumer group (default
// the host name): entries it was handed and did not acknowledge are handed
// out again after a while, to any replica.
func WithConsumer(name string) Option { return func(o *options) { o.consumer = name } }

// New builds the adapter. It makes no network call: the token pair is
// seeded and refreshed at the first send, so a Zalo outage never stops
// gocua from starting.
func New(cfg Config, h Handler, inbox Inbox, tokens bot.Tokens, own Own, texts bot.Texts, log *slog.Logger, opts ...Option) (*Adapter, error) {
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"app id", cfg.AppID != ""}, {"app secret", cfg.AppSecret != ""},
		{"OA secret key", cfg.SecretKey != ""}, {"refresh token", cfg.RefreshToken != ""},
		{"handler", h != nil}, {"inbox", inbox != nil}, {"tokens", tokens != nil},
		{"own-message store", own != nil}, {"texts", texts != nil},
	} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("zalo oa: missing %s", strings.Join(missing, ", "))
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.APIURL = strings.TrimRight(cmp.Or(cfg.APIURL, DefaultAPIURL), "/")
	cfg.OAuthURL = strings.TrimRight(cmp.Or(cfg.OAuthURL, DefaultOAuthURL), "/")
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 1<<20)
	cfg.MaxAge = cmp.Or(cfg.MaxAge, 3*time.Hour)
	cfg.MaxSkew = cmp.Or(cfg.MaxSkew, 5*time.Minute)
	cfg.Workers = cmp.Or(cfg.Workers, 8)
	cfg.Reclaim = cmp.Or(cfg.Reclaim, 30*time.Second)
	cfg.HandleTimeout = cmp.Or(cfg.HandleTimeout, 25*time.Second)
	if cfg.Workers < 1 || cfg.Reclaim < 0 || cfg.MaxBody < 1 || cfg.MaxAge < 0 || cfg.MaxSkew < 0 || cfg.HandleTimeout < 0 {
		return nil, errors.New("zalo oa: negative limits in the configuration")
	}
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpc == nil {
		o.httpc = newHTTPClient()
	}
	if o.consumer == "" {
		o.consumer = defaultConsumer()
	}
	return &Adapter{
		cfg: cfg, h: h, inbox: inbox, tokens: tokens, own: own, texts: texts, log: log,
		httpc: o.httpc, fetchc: zalo.NewFetchClient(cfg.AllowPrivateMedia), now: o.now,
		media: o.media, fetcher: o.fetcher, consumer: o.consumer,
		echoPoll: 200 * time.Millisecond, echoWait: 5 * time.Second,
	}, nil
}

// defaultConsumer is the host name (a pod's name), else a name with the pid.
func defaultConsumer() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return fmt.Sprintf("gocua-%d", os.Getpid())
}

// newHTTPClient bounds every stage of an OpenAPI or OAuth call; callers add
// their own context deadline on top.
func newHTTPClient() *http.Client { return platform.NewClient(64) }

// Limits returns Zalo OA's message limits for the core's sender.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxText: MaxText, MaxCaption: MaxText, MaxCallbackData: MaxButtonPayload - len(ButtonPrefix)}
}
