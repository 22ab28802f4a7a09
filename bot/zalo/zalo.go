// Package zalo is the Zalo Bot Platform channel adapter
// (bot-api.zaloplatforms.com, a Telegram-like API with a static bot token;
// not the Zalo Official Account API, which lives in bot/zalo/oa). It
// receives events on its own webhook handler, turns them into bot.Inbound
// for the core, and delivers bot.Outbound through the Bot API.
//
// The platform has no buttons: a message's buttons are sent as numbered
// lines (bot.RenderMenu), the numbered choices are kept per chat (Menus),
// and a resident's answer — a number or a label — comes back to the core
// as the button it names (bot.InButton).
//
// The webhook answers 200 only after the core has taken the event (Handle
// returned nil); any failure before that answers 503, so Zalo delivers the
// event again and an acknowledged event is never lost. Re-deliveries are
// recognised by message_id in the core.
//
// Photos go out by URL only, and Zalo fetches that URL more than once, so it
// must stay valid: the adapter serves the photos it sends from the durable
// upload store at a stable, unguessable address (MediaHandler), keyed by an
// HMAC of the webhook secret.
package zalo

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Handler is the core: it handles one inbound event and returns nil once the
// event is durably taken. *bot.Service implements it.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) error
}

// Menus keeps, per chat, the numbered choices of the last message with
// buttons the bot sent there, so a resident's "2" can be read as the button
// it names. Implemented by store.Redis.
type Menus interface {
	// SetMenu replaces the chat's menu.
	SetMenu(ctx context.Context, key bot.ConvKey, m bot.Menu) error
	// Menu returns the chat's menu (the zero Menu when none is kept).
	Menu(ctx context.Context, key bot.ConvKey) (bot.Menu, error)
}

// Uploads keeps the photos the adapter sends, for MediaHandler to serve.
// Implemented by *store.Uploads.
type Uploads interface {
	// SaveUpload stores up with a new random id and returns it as stored
	// (without its bytes); an upload already saved for the same Visitor
	// and MsgID is returned instead, so retries keep one copy.
	SaveUpload(ctx context.Context, up bot.Upload) (bot.Upload, error)
	// Upload returns an upload with its bytes; an error wrapping
	// bot.ErrNoUpload if there is none.
	Upload(ctx context.Context, id string) (bot.Upload, error)
}

// Fetcher downloads a file another platform keeps, by its ref, refusing
// files over max bytes with an error wrapping bot.ErrRejected.
// *telegram.Adapter implements it for "telegram:<file_id>" refs (a photo a
// Telegram volunteer sends a Zalo resident).
type Fetcher interface {
	FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error)
}

// Config configures the adapter.
type Config struct {
	Token string // the bot token, "<digits>:<secret>" (GOCUA_ZALO_BOT_TOKEN)
	// WebhookSecret is the secret_token given to setWebhook; Zalo sends it
	// in SecretHeader. Without it every webhook call is refused, and no
	// stored photo can be sent: it also keys the media addresses, so
	// changing it ends the addresses of photos sent before.
	WebhookSecret string
	APIURL        string // Bot API base URL (default DefaultAPIURL)
	// PublicURL is the https base address Zalo calls: the webhook for
	// SetWebhook, and the photos it fetches (GOCUA_PUBLIC_URL).
	PublicURL     string
	MaxBody       int64         // largest webhook body accepted (default 1 MiB)
	HandleTimeout time.Duration // budget for the core per event (default 25 s)
	// DefaultLang is the language of the numbered menu's words when a
	// message does not say (default "vi").
	DefaultLang string
	// AllowPrivateMedia lets the client that downloads residents' files
	// reach loopback and private addresses (tests on 127.0.0.1 only).
	AllowPrivateMedia bool
}

// DefaultAPIURL is the public Bot Platform API.
const DefaultAPIURL = "https://bot-api.zaloplatforms.com"

// MaxText is Zalo's limit for a message's text and a photo's caption, in
// characters; the adapter counts with bot.TextLen, which is never more
// lenient.
const MaxText = 2000

// MaxMedia is the largest file OpenMedia hands out, in bytes (what Telegram
// accepts for an uploaded photo).
const MaxMedia = 10 << 20

// Adapter is the Zalo Bot Platform channel: an http.Handler for the
// webhook, a bot.Deliverer for replies, the photo server Zalo fetches from,
// and the webhook registration for the CLI. Its methods are safe for
// concurrent use.
type Adapter struct {
	cfg      Config
	h        Handler
	menus    Menus
	texts    bot.Texts
	log      *slog.Logger
	httpc    *http.Client // Bot API calls
	fetchc   *http.Client // residents' files (NewFetchClient)
	now      func() time.Time
	uploads  Uploads
	fetcher  Fetcher
	mediaKey []byte // keys the media addresses; nil without a webhook secret

	// progress remembers how many parts of a long message were sent, so a
	// retried delivery does not send them again.
	progress memo[int]
	// photos remembers the upload that holds a photo fetched from another
	// platform (by its upload key), so a retry or the next recipient of a
	// broadcast does not fetch and store it again; mimes the type of uploads
	// already looked up (by id).
	photos memo[fetchedPhoto]
	mimes  memo[string]
	// cache holds recently served photos: Zalo fetches each several times,
	// and a broadcast's image once per recipient.
	cache mediaCache

	lastAuthLog atomic.Int64 // unix nanos of the last loud 401 log
}

// Option tunes an Adapter.
type Option func(*options)

type options struct {
	httpc   *http.Client
	now     func() time.Time
	uploads Uploads
	fetcher Fetcher
}

// WithHTTPClient replaces the client used for Bot API calls.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpc = c } }

// WithClock replaces time.Now (it stamps events without a date and stored
// photos).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithUploads lets the adapter send photos: it serves them from u
// (MediaHandler) and stores there the ones it fetches from elsewhere.
// Without it, or without Config.PublicURL, only photos given by an https
// address can be sent.
func WithUploads(u Uploads) Option { return func(o *options) { o.uploads = u } }

// WithFetcher lets Deliver send photos kept by another platform
// ("telegram:<file_id>"), fetched through f and stored with WithUploads.
func WithFetcher(f Fetcher) Option { return func(o *options) { o.fetcher = f } }

// New builds the adapter. texts gives the numbered menus' words in the
// residents' languages (*flows.Set). h, menus and texts may be nil when the
// adapter only registers the webhook (gocua webhook set): ServeHTTP then
// answers 503; without menus a resident's numbered answer reaches the core
// as text; without texts menus go out without the line saying how to
// answer. New makes no network call.
func New(cfg Config, h Handler, menus Menus, texts bot.Texts, log *slog.Logger, opts ...Option) (*Adapter, error) {
	if cfg.Token == "" {
		return nil, errors.New("zalo: GOCUA_ZALO_BOT_TOKEN is empty")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.APIURL = cmp.Or(cfg.APIURL, DefaultAPIURL)
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 1<<20)
	cfg.HandleTimeout = cmp.Or(cfg.HandleTimeout, 25*time.Second)
	cfg.DefaultLang = cmp.Or(cfg.DefaultLang, "vi")
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.httpc == nil {
		o.httpc = newHTTPClient()
	}
	// a nil *telegram.Adapter or *store.Uploads in the interface (a channel
	// that is off) is no fetcher or store at all
	if isNil(o.fetcher) {
		o.fetcher = nil
	}
	if isNil(o.uploads) {
		o.uploads = nil
	}
	if isNil(menus) {
		menus = nil
	}
	if isNil(texts) {
		texts = noTexts{}
	}
	if cfg.WebhookSecret == "" {
		log.Warn("zalo bot webhook secret is not configured: every webhook call will be refused and no photo can be sent",
			"variable", "GOCUA_ZALO_BOT_WEBHOOK_SECRET")
	}
	if menus == nil {
		log.Warn("zalo bot adapter has no menu store: numbered answers reach the core as text")
	}
	a := &Adapter{
		cfg: cfg, h: h, menus: menus, texts: texts, log: log,
		httpc: o.httpc, fetchc: NewFetchClient(cfg.AllowPrivateMedia), now: o.now,
		uploads: o.uploads, fetcher: o.fetcher,
	}
	if cfg.WebhookSecret != "" {
		a.mediaKey = deriveMediaKey(cfg.WebhookSecret)
	}
	return a, nil
}

// newHTTPClient bounds every stage of a Bot API call; callers add their own
// context deadline on top.
func newHTTPClient() *http.Client { return platform.NewClient(100) }

// noTexts stands in for missing texts: every text is empty.
type noTexts struct{}

func (noTexts) Text(string, string, map[string]string) string { return "" }

// isNil reports whether v is nil or an interface holding a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// Limits returns Zalo's message limits for the core's sender.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxText: MaxText, MaxCaption: MaxText}
}
