// Package webchat is gocua's web chat channel: a mobile-first chat page at
// /chat, a widget script that ward websites embed, and the HTTP transport
// behind them (POST in, Server-Sent Events out). It speaks to the core like
// every other channel: a resident's POST becomes a bot.Inbound for Handle, and
// Deliver takes the core's bot.Outbound.
//
// A visitor is identified by a random 128-bit id in an HttpOnly cookie,
// signed (see visitor.go); their conversation is bot.ConvKey{Channel:
// bot.ChannelWeb, ChatID: <id>}. New visitors and messages are limited per
// address, and open event streams in all. Every
// message of the conversation, both sides, is appended to the visitor's
// history in Redis, so a reload, a reconnect or a later visit shows what was
// said while the page was closed: a volunteer's relayed reply or a broadcast
// reaches a web resident live when a page is open, and on the next visit
// otherwise. Live pushes go through an in-process hub; every open stream also
// re-reads the history at each keepalive, so a message delivered by another
// replica shows within one keepalive interval.
//
// Nothing a resident writes is logged; all assets are embedded (no CDN).
package webchat

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
)

// Handler is the core: it handles one inbound update and returns nil once
// the update is durably taken.
type Handler interface {
	Handle(ctx context.Context, in bot.Inbound) error
}

// History keeps each visitor's messages. Implemented by *store.Redis.
type History interface {
	// AppendHistory appends msg unless id was appended recently; it returns
	// the message's sequence number and whether it was appended now.
	AppendHistory(ctx context.Context, key bot.ConvKey, id string, msg []byte) (seq int64, added bool, err error)
	// History returns the messages with a sequence number above since, oldest first.
	History(ctx context.Context, key bot.ConvKey, since int64) ([]bot.HistoryItem, error)
}

// HistoryWatcher is a History shared by several replicas that tells each of
// them when a visitor's history grows on any (store.Redis does, through
// Redis pub/sub), so a visitor's event stream on one replica shows at once
// what another delivered. Without it a stream shows what another replica
// appended at its next keepalive.
type HistoryWatcher interface {
	// WatchHistory calls fn with the visitor of every appended message until
	// ctx ends (it then returns nil) or the watch fails; it closes ready
	// once it is watching.
	WatchHistory(ctx context.Context, ready chan<- struct{}, fn func(visitor string)) error
}

// The web chat's message limits.
const (
	MaxText         = 2000 // characters of one message, either way
	MaxCallbackData = 64   // bytes of a button's data
)

// Config configures the adapter. Zero fields take their defaults.
type Config struct {
	// Origins are the scheme://host[:port] origins (lower case, as
	// GOCUA_WEBCHAT_ORIGINS) of the websites allowed to embed the chat and
	// post to it, besides the chat's own origin.
	Origins       []string
	MaxBody       int64         // bytes of one POST (default 8 KiB)
	Rate          float64       // messages per second one visitor may send (default 1)
	Burst         int           // messages a visitor may send back to back (default 5)
	Keepalive     time.Duration // SSE keepalive comment interval (default 20 s)
	HandleTimeout time.Duration // budget for the core per message (default 25 s)
	MaxStreams    int           // open event streams per visitor (default 8)
	// MaxStreamsTotal caps the open event streams of all visitors together
	// (default 4096): each holds a connection and a goroutine.
	MaxStreamsTotal int
	// NewVisitorRate and NewVisitorBurst limit how many new visitors one
	// address may create (default 0.5/s, i.e. 30 a minute, in bursts of 60:
	// a ward office full of residents on one Wi-Fi fits; a script does not).
	NewVisitorRate  float64
	NewVisitorBurst int
	// AddrRate and AddrBurst limit the messages one address may send, all
	// its visitors together (default 10/s in bursts of 30).
	AddrRate  float64
	AddrBurst int
	// MaxTracked is how many keys each of these limits remembers at most
	// (default 16,384 addresses or visitors, about 4 MB each): beyond it
	// a new key makes one forget another at random, so a flood from many
	// addresses cannot grow memory without bound.
	MaxTracked int
	// Keys sign the visitor cookies (required).
	Keys Keys
	// Uploads keeps photos: those residents upload and those volunteers
	// send them (nil: no photos; the upload and media URLs answer 404 and
	// a message with media shows its text and a notice).
	Uploads Uploads
	// Media fetches the files of other platforms that Deliver is handed
	// ("telegram:<file_id>"; nil: such media cannot be shown).
	Media MediaFetcher
	// MaxUpload is the largest photo kept, in bytes (default bot.MaxUpload,
	// 5 MiB).
	MaxUpload int64
	Now       func() time.Time
}

// Adapter is the web chat channel. It is an http.Handler for /chat and
// /chat/… and a bot.Deliverer. Close ends the open event streams.
type Adapter struct {
	cfg     Config
	h       Handler
	hist    History
	log     *slog.Logger
	origins map[string]bool
	mux     *http.ServeMux
	hub     *hub
	limits  *limiter // per visitor
	// per address: new visitors, and messages of all its visitors
	newVisitors, addrSends *limiter
	keys                   *keyring
	page                   *template.Template
	locale                 map[string]map[string]string
	assets                 map[string]asset

	done      chan struct{}
	closeOnce sync.Once
	watching  sync.WaitGroup // the HistoryWatcher's goroutine
}

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

//go:embed assets
var assetFS embed.FS

// New builds the adapter. hist is usually the store's *store.Redis.
func New(cfg Config, h Handler, hist History, log *slog.Logger) (*Adapter, error) {
	cfg.MaxBody = cmp.Or(cfg.MaxBody, 8<<10)
	cfg.Rate = cmp.Or(cfg.Rate, 1)
	cfg.Burst = cmp.Or(cfg.Burst, 5)
	cfg.Keepalive = cmp.Or(cfg.Keepalive, 20*time.Second)
	cfg.HandleTimeout = cmp.Or(cfg.HandleTimeout, 25*time.Second)
	cfg.MaxStreams = cmp.Or(cfg.MaxStreams, 8)
	cfg.MaxStreamsTotal = cmp.Or(cfg.MaxStreamsTotal, 4096)
	cfg.NewVisitorRate = cmp.Or(cfg.NewVisitorRate, 0.5)
	cfg.NewVisitorBurst = cmp.Or(cfg.NewVisitorBurst, 60)
	cfg.AddrRate = cmp.Or(cfg.AddrRate, 10)
	cfg.AddrBurst = cmp.Or(cfg.AddrBurst, 30)
	cfg.MaxTracked = cmp.Or(cfg.MaxTracked, 16384)
	cfg.MaxUpload = cmp.Or(cfg.MaxUpload, bot.MaxUpload)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Keys == nil {
		return nil, errors.New("webchat: no signing keys configured")
	}
	a := &Adapter{
		cfg: cfg, h: h, hist: hist, log: log,
		origins: make(map[string]bool),
		hub:     newHub(),
		limits:  newLimiter(cfg.Rate, cfg.Burst, cfg.MaxTracked),
		assets:  make(map[string]asset),
		done:    make(chan struct{}),

		newVisitors: newLimiter(cfg.NewVisitorRate, cfg.NewVisitorBurst, cfg.MaxTracked),
		addrSends:   newLimiter(cfg.AddrRate, cfg.AddrBurst, cfg.MaxTracked),
		keys:        &keyring{src: cfg.Keys},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.keys.load(ctx, cfg.Now(), false); err != nil {
		return nil, err
	}
	for _, o := range cfg.Origins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("webchat: origin %q: %w", o, err)
		}
		a.origins[n] = true
	}
	if err := a.loadAssets(); err != nil {
		return nil, err
	}
	a.routes()
	if w, ok := hist.(HistoryWatcher); ok {
		a.watching.Go(func() { a.watch(w) })
	}
	return a, nil
}

// watch wakes this replica's streams of every visitor whose history grew on
// any replica, until Close; a failed watch is started again after a pause
// (1 s, doubling up to 30 s), meanwhile streams fall back to their
// keepalive reads.
func (a *Adapter) watch(w HistoryWatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-a.done
		cancel()
	}()
	pause := time.Second
	for {
		ready := make(chan struct{})
		err := w.WatchHistory(ctx, ready, a.hub.notify)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ready:
			pause = time.Second // it had worked
		default:
		}
		a.log.Warn("web chat: watching other replicas' deliveries failed; retrying", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// loadAssets reads the embedded page, scripts, styles and UI strings.
func (a *Adapter) loadAssets() error {
	raw, err := fs.ReadFile(assetFS, "assets/locale.json")
	if err != nil {
		return fmt.Errorf("webchat: %w", err)
	}
	if err := json.Unmarshal(raw, &a.locale); err != nil {
		return fmt.Errorf("webchat: locale.json: %w", err)
	}
	for _, lang := range []string{"vi", "en"} {
		if len(a.locale[lang]) == 0 {
			return fmt.Errorf("webchat: locale.json has no %q strings", lang)
		}
		for k := range a.locale["vi"] {
			if a.locale[lang][k] == "" {
				return fmt.Errorf("webchat: locale.json: %q has no %q string", k, lang)
			}
		}
	}
	// the scripts get the UI strings injected, so the page needs no extra round trip
	files := map[string]string{
		"chat.js":   "text/javascript; charset=utf-8",
		"chat.css":  "text/css; charset=utf-8",
		"widget.js": "text/javascript; charset=utf-8",
	}
	for name, ctype := range files {
		body, err := fs.ReadFile(assetFS, "assets/"+name)
		if err != nil {
			return fmt.Errorf("webchat: %w", err)
		}
		if strings.HasSuffix(name, ".js") {
			body = bytes.Replace(body, []byte("/*LOCALE*/null"), raw, 1)
		}
		sum := sha256.Sum256(body)
		a.assets[name] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	a.page, err = template.ParseFS(assetFS, "assets/chat.html")
	if err != nil {
		return fmt.Errorf("webchat: chat.html: %w", err)
	}
	return nil
}

// Limits returns the web chat's message limits for the core's sender.
func (a *Adapter) Limits() bot.Limits {
	return bot.Limits{MaxText: MaxText, MaxCallbackData: MaxCallbackData}
}

// ServeHTTP serves /chat and everything under /chat/.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

// Close ends every open event stream (browsers reconnect to another replica
// or after the restart). Register it with http.Server.RegisterOnShutdown so
// Shutdown does not wait for streams that never end on their own.
func (a *Adapter) Close() {
	a.closeOnce.Do(func() { close(a.done) })
	a.watching.Wait()
}

func (a *Adapter) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /chat", a.servePage)
	m.HandleFunc("GET /chat/{$}", a.servePage)
	m.HandleFunc("GET /chat/widget.js", a.serveAsset("widget.js"))
	m.HandleFunc("GET /chat/static/chat.js", a.serveAsset("chat.js"))
	m.HandleFunc("GET /chat/static/chat.css", a.serveAsset("chat.css"))
	m.HandleFunc("POST /chat/api/send", a.serveSend)
	m.HandleFunc("GET /chat/api/events", a.serveEvents)
	m.HandleFunc("GET /chat/api/history", a.serveHistory)
	m.HandleFunc("POST /chat/api/upload", a.serveUpload)
	m.HandleFunc("GET /chat/media/{id}", a.serveMedia)
	a.mux = m
}

// message is one chat message as stored in the history and sent to pages.
type message struct {
	Seq     int64          `json:"seq,omitempty"` // set when read back from the history
	ID      string         `json:"id"`
	From    string         `json:"from"` // "bot" or "me" (the resident)
	Text    string         `json:"text"`
	Buttons [][]bot.Button `json:"buttons,omitempty"`
	// Media is the photo the message carries, served at /chat/media/<id>.
	Media *mediaRef `json:"media,omitempty"`
	// Note names a notice the page shows in its own language (one of the
	// note* constants): why a file sent with the message is not shown.
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// mediaRef is a message's photo.
type mediaRef struct {
	ID   string `json:"id"`   // the upload id
	MIME string `json:"type"` // image/jpeg, image/png or image/webp
}

// Message senders.
const (
	fromBot      = "bot"
	fromResident = "me"
)

// Deliver appends out to its visitor's history and pushes it to the
// visitor's open pages. It implements bot.Deliverer; delivering the same
// out.ID again (a retry after a crash) shows it once.
func (a *Adapter) Deliver(ctx context.Context, out bot.Outbound) error {
	// A message that can never be shown is rejected (bot.ErrRejected), so the
	// sender drops it at once; the resident is not to blame for it.
	if out.Key.Channel != bot.ChannelWeb || !validVisitor(out.Key.ChatID) {
		return fmt.Errorf("webchat: message %s: %w: %s is not a web chat visitor", out.ID, bot.ErrRejected, out.Key)
	}
	if n := len([]rune(out.Text)); n > MaxText {
		return fmt.Errorf("webchat: message %s is %d characters, over %d: %w", out.ID, n, MaxText, bot.ErrRejected)
	}
	for _, row := range out.Buttons {
		for _, b := range row {
			if b.URL == "" && len(b.Data) > MaxCallbackData {
				return fmt.Errorf("webchat: message %s: button data is %d bytes, over %d: %w", out.ID, len(b.Data), MaxCallbackData, bot.ErrRejected)
			}
			if b.URL != "" && !safeURL(b.URL) {
				return fmt.Errorf("webchat: message %s: button URL is not http(s): %w", out.ID, bot.ErrRejected)
			}
		}
	}
	id := strings.ReplaceAll(out.ID, "\n", " ")
	m := message{ID: id, From: fromBot, Text: out.Text, Buttons: out.Buttons, At: a.cfg.Now().UTC()}
	// A file that cannot be shown is still a message: its text is delivered
	// with a notice, and the error says the file was rejected.
	var rejected error
	if out.Media != nil {
		ref, note, err := a.deliverMedia(ctx, out)
		switch {
		case errors.Is(err, bot.ErrRejected):
			m.Note, rejected = note, err
		case err != nil:
			return err // a fetch or the store failed: the sender tries again
		default:
			m.Media = ref
		}
	}
	msg, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("webchat: message %s: %w", out.ID, err)
	}
	_, added, err := a.hist.AppendHistory(ctx, out.Key, id, msg)
	if err != nil {
		return fmt.Errorf("webchat: deliver %s: %w", out.ID, err)
	}
	if added {
		a.hub.notify(out.Key.ChatID)
	}
	return rejected
}

// safeURL reports whether a button link may be opened from the page.
func safeURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// normalizeOrigin lower-cases an origin and checks it is scheme://host[:port].
func normalizeOrigin(o string) (string, error) {
	o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
	u, err := url.Parse(o)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return "", errors.New("is not scheme://host[:port]")
	}
	return u.Scheme + "://" + u.Host, nil
}
