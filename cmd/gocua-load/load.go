package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// botToken is the token the fake Bot API accepts and the bots under test
// are given (a well-formed @BotFather token: gocua's configuration checks).
const botToken = "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"

// webhookSecret is what every webhook post carries in
// X-Telegram-Bot-Api-Secret-Token.
const webhookSecret = "gocua-load-secret"

// lateAfter is how far behind its schedule a send may go before it counts
// as late (timer wake-ups on a busy machine are a few hundred µs late).
const lateAfter = 5 * time.Millisecond

// perChatGap is Telegram's pace for one chat: a chat's updates are at least
// this far apart.
const perChatGap = time.Second

// texts are what residents send, in turn: each is answered by gocua's
// flows, and by the floor's echo.
var texts = []string{"menu", "cai vneid"}

// phase counts one stretch of load at one rate. Counters are updated by the
// scheduler, the senders and the fake API at once.
type phase struct {
	sent    atomic.Int64 // updates posted
	late    atomic.Int64 // posted more than lateAfter behind schedule
	busy    atomic.Int64 // not posted: no chat was free (each chat has one update outstanding, 1 s apart)
	dropped atomic.Int64 // not posted: -max-inflight posts were already in flight
	errors  atomic.Int64 // the webhook failed or answered other than 200
	missing atomic.Int64 // posted and answered 200, but no reply within -grace after the phase

	mu  sync.Mutex
	lat []time.Duration // webhook post → first reply to that chat
}

func (p *phase) add(d time.Duration) {
	p.mu.Lock()
	p.lat = append(p.lat, d)
	p.mu.Unlock()
}

// latencies returns the recorded latencies, sorted.
func (p *phase) latencies() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.lat)
	slices.Sort(out)
	return out
}

// chat is one resident. posted and ph are shared with the fake API's
// handlers; last and n belong to the scheduler.
type chat struct {
	id     int64
	posted atomic.Int64 // ns since the load's epoch of the update awaiting its reply; 0: none
	ph     atomic.Pointer[phase]
	last   time.Duration // when its last update was posted (since epoch)
	n      int           // updates posted
}

// Load drives one bot that speaks the Telegram webhook contract, and serves
// the fake Bot API that bot sends its replies to. Latency is from posting an
// update until the first sendMessage to its chat: each chat has at most one
// update outstanding, so the reply is that update's.
type Load struct {
	webhook string // the bot's webhook URL
	client  *http.Client
	poisson bool
	sem     chan struct{} // bounds posts in flight
	epoch   time.Time
	chats   []chat
	firstID int64
	cursor  int
	update  int64 // last update id (the scheduler's)
	rnd     *rand.Rand
	wg      sync.WaitGroup // posts in flight

	api      *http.Server
	apiLn    net.Listener
	messages atomic.Int64 // message ids handed out by the fake API
	lastCall atomic.Int64 // when the fake API was last called (since epoch)
	extra    atomic.Int64 // replies to chats with nothing outstanding (a flow's second message, or late)
	calls    sync.Map     // method → *atomic.Int64
}

// LoadConfig sets up a Load.
type LoadConfig struct {
	Chats       int  // distinct chats (residents)
	Poisson     bool // Poisson arrivals instead of evenly spaced ones
	MaxInflight int  // posts in flight at most; more are dropped and counted
	// Connections is how many connections the posts share at most, as
	// Telegram opens at most a webhook's max_connections (gocua asks for
	// 40); a post waits for a free one, and its latency counts the wait.
	// 0: as many as there are posts in flight.
	Connections int
}

// NewLoad starts the fake Bot API on a free loopback port; Close stops it.
func NewLoad(cfg LoadConfig) (*Load, error) {
	if cfg.Chats < 1 || cfg.MaxInflight < 1 || cfg.Connections < 0 {
		return nil, fmt.Errorf("chats (%d) and max in-flight (%d) must be at least 1, connections (%d) not negative", cfg.Chats, cfg.MaxInflight, cfg.Connections)
	}
	conns := cfg.Connections
	if conns == 0 {
		conns = cfg.MaxInflight
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake Bot API: %w", err)
	}
	seed := uint64(time.Now().UnixNano())
	l := &Load{
		client: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				MaxConnsPerHost: conns, MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
				IdleConnTimeout: 90 * time.Second, DisableCompression: true,
			},
		},
		poisson: cfg.Poisson,
		sem:     make(chan struct{}, cfg.MaxInflight),
		epoch:   time.Now(),
		chats:   make([]chat, cfg.Chats),
		// chat ids of this run only: a leftover of another run's state never
		// answers for them
		firstID: 1_000_000_000 + int64(seed%1_000_000)*10_000,
		rnd:     rand.New(rand.NewPCG(seed, seed>>7)),
		apiLn:   ln,
	}
	l.update = int64(seed % 1_000_000_000)
	for i := range l.chats {
		l.chats[i].id = l.firstID + int64(i)
		l.chats[i].last = -perChatGap
	}
	l.api = &http.Server{Handler: http.HandlerFunc(l.serveAPI), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = l.api.Serve(ln) }() // ends when Close shuts the server down
	return l, nil
}

// APIURL is the fake Bot API's base URL (GOCUA_TELEGRAM_API_URL).
func (l *Load) APIURL() string { return "http://" + l.apiLn.Addr().String() }

// Target points the load at a bot's webhook URL.
func (l *Load) Target(webhook string) { l.webhook = webhook }

// Close waits for posts in flight and stops the fake Bot API.
func (l *Load) Close() error {
	l.wg.Wait()
	l.client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return l.api.Shutdown(ctx)
}

// Calls returns how often each Bot API method was called.
func (l *Load) Calls() map[string]int64 {
	out := map[string]int64{}
	l.calls.Range(func(k, v any) bool { out[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return out
}

// Run posts updates at rate a second for d, open loop: each is posted on
// its schedule whether or not earlier ones were answered. It returns when
// the last is posted; Settle then waits for the replies.
func (l *Load) Run(ctx context.Context, rate float64, d time.Duration, ph *phase) {
	if rate <= 0 {
		return
	}
	start := time.Now()
	step := time.Duration(float64(time.Second) / rate)
	next := start
	for k := 1; ; k++ {
		now := time.Now()
		if wait := next.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case now = <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		if next.Sub(start) >= d {
			return
		}
		if now.Sub(next) > lateAfter {
			ph.late.Add(1)
		}
		l.post(now, ph)
		if l.poisson {
			next = next.Add(time.Duration(l.rnd.ExpFloat64() * float64(step)))
		} else {
			next = start.Add(time.Duration(k) * step)
		}
	}
}

// post sends one update to the next free chat.
func (l *Load) post(now time.Time, ph *phase) {
	since := now.Sub(l.epoch)
	var c *chat
	for range min(64, len(l.chats)) {
		cand := &l.chats[l.cursor]
		l.cursor = (l.cursor + 1) % len(l.chats)
		if cand.posted.Load() == 0 && since-cand.last >= perChatGap {
			c = cand
			break
		}
	}
	if c == nil {
		ph.busy.Add(1)
		return
	}
	select {
	case l.sem <- struct{}{}:
	default:
		ph.dropped.Add(1)
		return
	}
	l.update++
	c.n++
	c.last = since
	body := updateJSON(l.update, c.id, c.n, now.Unix(), texts[(c.n-1)%len(texts)])
	ph.sent.Add(1)
	c.ph.Store(ph)
	c.posted.Store(int64(max(since, 1)))
	l.wg.Go(func() {
		defer func() { <-l.sem }()
		req, err := http.NewRequest(http.MethodPost, l.webhook, bytes.NewReader(body))
		if err != nil {
			l.failed(c, ph)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", webhookSecret)
		// latency counts from the post itself, not from its turn in the
		// schedule (late posts are counted apart)
		c.posted.Store(int64(max(time.Since(l.epoch), 1)))
		resp, err := l.client.Do(req)
		if err != nil {
			l.failed(c, ph)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			l.failed(c, ph)
		}
	})
}

// failed counts a post the bot did not take, and frees its chat.
func (l *Load) failed(c *chat, ph *phase) {
	ph.errors.Add(1)
	c.posted.Store(0)
}

// Settle waits up to grace for the replies to ph's updates, then counts the
// ones still unanswered as missing and frees their chats.
func (l *Load) Settle(ctx context.Context, ph *phase, grace time.Duration) {
	l.wg.Wait()
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if l.outstanding(ph, false) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	ph.missing.Add(int64(l.outstanding(ph, true)))
}

// Quiet waits until the bot has not called the fake Bot API for quiet (it
// has sent what it had queued: a bot behind its load keeps sending after
// the load stops), at most max. It returns how long it waited.
func (l *Load) Quiet(ctx context.Context, quiet, max time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < max && ctx.Err() == nil {
		if time.Since(l.epoch)-time.Duration(l.lastCall.Load()) >= quiet {
			break
		}
		time.Sleep(quiet / 10)
	}
	return time.Since(start)
}

// outstanding counts ph's updates awaiting their reply; with free, it
// forgets them (a late reply then counts as extra).
func (l *Load) outstanding(ph *phase, free bool) int {
	n := 0
	for i := range l.chats {
		c := &l.chats[i]
		if c.ph.Load() == ph && c.posted.Load() != 0 {
			if free && c.posted.Swap(0) == 0 {
				continue
			}
			n++
		}
	}
	return n
}

// reply records a message the bot sent to chatID.
func (l *Load) reply(chatID int64) {
	i := chatID - l.firstID
	if i < 0 || i >= int64(len(l.chats)) {
		return
	}
	c := &l.chats[i]
	ph := c.ph.Load()
	posted := c.posted.Swap(0)
	if posted == 0 || ph == nil {
		l.extra.Add(1)
		return
	}
	ph.add(time.Since(l.epoch) - time.Duration(posted))
}

// updateJSON is a private chat's text message as Telegram posts it.
func updateJSON(updateID, chatID int64, messageID int, date int64, text string) []byte {
	b := make([]byte, 0, 320)
	b = append(b, `{"update_id":`...)
	b = strconv.AppendInt(b, updateID, 10)
	b = append(b, `,"message":{"message_id":`...)
	b = strconv.AppendInt(b, int64(messageID), 10)
	b = append(b, `,"date":`...)
	b = strconv.AppendInt(b, date, 10)
	b = append(b, `,"chat":{"id":`...)
	b = strconv.AppendInt(b, chatID, 10)
	b = append(b, `,"type":"private","first_name":"Lan"},"from":{"id":`...)
	b = strconv.AppendInt(b, chatID, 10)
	b = append(b, `,"is_bot":false,"first_name":"Lan","language_code":"vi"},"text":`...)
	b = strconv.AppendQuote(b, text)
	return append(b, "}}"...)
}

// serveAPI is the fake Bot API: every method answers 200 at once with a
// valid result; sendMessage records the reply.
func (l *Load) serveAPI(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot"+botToken+"/")
	if !ok || rest == "" {
		writeAPI(w, http.StatusUnauthorized, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	method := rest
	l.lastCall.Store(int64(time.Since(l.epoch)))
	v, _ := l.calls.LoadOrStore(method, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
	switch method {
	case "sendMessage", "editMessageText", "sendPhoto", "sendDocument":
		chatID, text, err := chatParam(r)
		if err != nil {
			writeAPI(w, http.StatusBadRequest, `{"ok":false,"error_code":400,"description":`+strconv.Quote("Bad Request: "+err.Error())+`}`)
			return
		}
		if method == "sendMessage" {
			l.reply(chatID)
		}
		b := make([]byte, 0, 256)
		b = append(b, `{"ok":true,"result":{"message_id":`...)
		b = strconv.AppendInt(b, l.messages.Add(1), 10)
		b = append(b, `,"date":`...)
		b = strconv.AppendInt(b, time.Now().Unix(), 10)
		b = append(b, `,"chat":{"id":`...)
		b = strconv.AppendInt(b, chatID, 10)
		b = append(b, `,"type":"private"},"text":`...)
		b = strconv.AppendQuote(b, text)
		b = append(b, "}}"...)
		writeAPI(w, http.StatusOK, string(b))
	case "getMe":
		writeAPI(w, http.StatusOK, `{"ok":true,"result":{"id":123456789,"is_bot":true,"first_name":"gocua","username":"gocua_load_bot"}}`)
	case "getWebhookInfo":
		writeAPI(w, http.StatusOK, `{"ok":true,"result":{"url":"","has_custom_certificate":false,"pending_update_count":0}}`)
	default: // setWebhook, sendChatAction, answerCallbackQuery, setMyCommands, …
		_, _ = io.Copy(io.Discard, r.Body)
		writeAPI(w, http.StatusOK, `{"ok":true,"result":true}`)
	}
}

// chatParam reads chat_id and text from a Bot API call in any of the
// encodings clients use (go-telegram/bot sends multipart/form-data).
func chatParam(r *http.Request) (int64, string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var id, text string
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			return 0, "", fmt.Errorf("multipart: %w", err)
		}
		id, text = first(r.MultipartForm.Value["chat_id"]), first(r.MultipartForm.Value["text"])
	case "application/json":
		var p struct {
			ChatID any    `json:"chat_id"`
			Text   string `json:"text"`
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber() // a chat id as a number stays an integer, not 1.2e+06
		if err := dec.Decode(&p); err != nil {
			return 0, "", err
		}
		id, text = fmt.Sprint(p.ChatID), p.Text
	default:
		if err := r.ParseForm(); err != nil {
			return 0, "", err
		}
		id, text = r.PostForm.Get("chat_id"), r.PostForm.Get("text")
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, "", errors.New("chat_id is not a number")
	}
	return n, text, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func writeAPI(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
