package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/metrics"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/webchat"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
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
	Out    io.Writer // where the start-up banner goes (nil: none)

	// Knobs with production defaults that tests may change before Run.
	ReorderWindow   time.Duration // how long an update waits for lower-numbered ones of its chat (default 5 ms)
	TelegramPerChat float64       // messages per second to one chat (default 1, Telegram's limit)
	TelegramBurst   int           // messages a chat may get back to back (default 1)
	TelegramRate    float64       // overrides GOCUA_TELEGRAM_RATE when > 0 (benchmarks lift pacing)
	ZaloRate        float64       // overrides both Zalo channels' messages per second when > 0 (benchmarks lift pacing)
	ZaloPerChat     float64       // messages per second to one Zalo chat (default 2)
	ZaloBurst       int           // messages a Zalo chat may get back to back (default 3)
	// OAReclaim is how long a Zalo OA event taken from the inbox and not
	// finished waits before another replica takes it (default 30 s).
	OAReclaim   time.Duration
	SendWorkers int           // concurrent deliveries per channel (default 16)
	QueueEvery  time.Duration // how often waiting residents' places are looked at (default 1 min)
	QueueGap    time.Duration // least time between two queue notices to one resident (default 10 min)
	// ReplicaID names this process in outbox leases: unique among the
	// replicas running at once, the same across restarts of one replica, so
	// that a restarted replica takes its undelivered replies back at once
	// (default: host name and GOCUA_HTTP_ADDR).
	ReplicaID string
	// NameBeat is how often this process announces its ReplicaID in Redis,
	// to find another running process under the same name (default 5 s).
	NameBeat time.Duration
	// RedisPrefix starts every Redis key (default "gocua"; tests isolate themselves with it).
	RedisPrefix string
	// WrapDeliverer, when set, wraps each channel's deliverer (tests inject
	// stalls and failures with it).
	WrapDeliverer func(bot.Channel, bot.Deliverer) bot.Deliverer
	// Outbox tunes how undelivered replies are taken over (zero: the defaults
	// documented on bot.SenderConfig and store.RedisOptions).
	Outbox struct {
		Lease      time.Duration // an outbox lease lasts this long unless renewed (30 s)
		Sweep      time.Duration // how often senders sweep (5 s)
		StaleAfter time.Duration // how old an entry must be before a sweep takes it (15 s)
	}

	// Set by Run.
	Addr  string // the address the HTTP server listens on
	Flows *flows.Set
	Redis *store.Redis
	DB    Durable // PostgreSQL, or the embedded SQLite file
	Desk  *handoff.Desk
	// WebTune, when set, adjusts the web chat's configuration before it is
	// built (tests lift its per-visitor and per-address limits).
	WebTune func(*webchat.Config)
	// DeskTune, when set, adjusts the desk's configuration before it is
	// built (tests shorten its timers and clock).
	DeskTune func(*handoff.Config)
	// Dashboard is the web dashboard; DashboardTune, when set, adjusts its
	// configuration before it is built (tests).
	Dashboard     *dashboard.Server
	DashboardTune func(*dashboard.Config)
	Areas         *areas.Set // GOCUA_AREAS_FILE or the bundled sample
	Queue         *handoff.Queue
	Embedded      struct {
		Redis    bool // conversation state lives in an in-process Redis (lost on restart)
		Database bool // durable data lives in an SQLite file under GOCUA_DATA_DIR
	}
	Service  *bot.Service
	Metrics  *metrics.Metrics
	Telegram *telegram.Adapter
	ZaloBot  *zalo.Adapter
	ZaloOA   *oa.Adapter
	Web      *webchat.Adapter
	// AllowPrivateMedia lets gocua download residents' Zalo files and the
	// pictures flows and broadcasts name by address from loopback and
	// private addresses (tests serve them on 127.0.0.1); unset, it refuses
	// them (bot/netguard). No configuration variable sets it.
	AllowPrivateMedia bool
	// MediaClient, when set, downloads the pictures guides name by address
	// (tests trust their own https server with it).
	MediaClient *http.Client
	Senders     map[bot.Channel]*bot.Sender
	// Broadcasts sends broadcasts; BroadcastTune, when set, adjusts its
	// configuration before it is built (tests shorten its poll and move
	// its clock).
	Broadcasts    *broadcast.Runner
	BroadcastTune func(*broadcast.Config)

	media    mediaSource // files by ref, for channels that upload bytes
	inboxOff bool        // tests: queue Zalo OA events without handling them (a replica about to crash)
	embRedis *store.EmbeddedRedis
	srv      *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeMu  sync.Mutex
	closed   bool
}

// NewMain returns a Main for cfg that logs to log.
func NewMain(cfg config.Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log, ReorderWindow: 5 * time.Millisecond, TelegramPerChat: 1, TelegramBurst: 1,
		ZaloPerChat: zaloPerChat, ZaloBurst: zaloChatBurst}
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

// Durable is the durable store: PostgreSQL in production, the embedded
// SQLite file by default. Both pass the same contract suite (store).
type Durable interface {
	bot.Records
	bot.Preferences
	bot.Residents
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close()
	Resident(ctx context.Context, key bot.ConvKey) (store.Resident, error)
	Ticket(ctx context.Context, id int64) (store.Ticket, error)
	TicketMessages(ctx context.Context, id int64) ([]store.TicketMessage, error)
	CountEvents(ctx context.Context, kind, flow string) (int64, error)
	WaitingTickets(ctx context.Context) (int64, error)
	SigningKeys(ctx context.Context, p store.KeyPolicy, now time.Time) ([]bot.SigningKey, error)
	Desk() *store.Desk
	Dashboard() *store.Dashboard
	Uploads() *store.Uploads
	Broadcasts() *store.Broadcasts
	bot.Reminders
	RemindersQueue() *store.RemindersQueue
	bot.Tokens
}

// visitorKeys signs web chat visitor cookies: a new key every 30 days,
// each kept as long as a cookie it signed can live (400 days) after it
// stopped signing.
var visitorKeys = store.KeyPolicy{Purpose: "webchat-visitor", Rotate: 30 * 24 * time.Hour, Keep: 430 * 24 * time.Hour}

// keySource gives the web chat the durable store's visitor keys.
type keySource struct{ db Durable }

func (k keySource) SigningKeys(ctx context.Context) ([]bot.SigningKey, error) {
	return k.db.SigningKeys(ctx, visitorKeys, time.Now())
}

var (
	_ Durable = (*store.Postgres)(nil)
	_ Durable = (*store.SQLite)(nil)
)

// openStores connects to Redis and PostgreSQL, or starts the embedded ones
// for whichever URL is unset, and applies migrations.
func (m *Main) openStores(ctx context.Context) error {
	cfg := m.Config
	redisURL := cfg.RedisURL.Reveal()
	if redisURL == "" {
		emb, err := store.StartEmbeddedRedis(ctx)
		if err != nil {
			return fmt.Errorf("embedded redis: %w", err)
		}
		m.embRedis, m.Embedded.Redis, redisURL = emb, true, emb.URL()
	}
	store.RouteRedisLogs(m.Log)
	var err error
	ropts := store.RedisOptions{StateTTL: cfg.StateTTL, Prefix: m.RedisPrefix, Owner: m.replicaID(), LeaseTTL: m.Outbox.Lease}
	if m.Redis, err = store.OpenRedis(ctx, redisURL, ropts); err != nil {
		return fmt.Errorf("GOCUA_REDIS_URL: %w", err)
	}
	if !m.Embedded.Redis {
		m.warnEvictions(ctx)
	}
	// assigned only on success: a nil *Postgres in the interface would
	// make Close call it
	if url := cfg.DatabaseURL.Reveal(); url != "" {
		pg, err := store.OpenPostgres(ctx, url, m.Log.With("component", "postgres"))
		if err != nil {
			return fmt.Errorf("GOCUA_DATABASE_URL: %w", err)
		}
		m.DB = pg
	} else {
		m.Embedded.Database = true
		lite, err := store.OpenSQLite(ctx, m.sqlitePath(), m.Log.With("component", "sqlite"))
		if err != nil {
			return fmt.Errorf("GOCUA_DATA_DIR: %w", err)
		}
		m.DB = lite
	}
	if err := m.DB.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (m *Main) sqlitePath() string { return sqlitePath(m.Config) }

// warnEvictions says at start, once per master, when Redis would evict
// keys once full (store.EvictionRisk): gocua's guarantees assume it never
// does. It is a warning, not a refusal: a full Redis is the risk, and the
// operator may not be able to change a managed service's policy at once.
func (m *Main) warnEvictions(ctx context.Context) {
	risks, err := m.Redis.Evictions(ctx)
	if err != nil {
		m.Log.Warn("redis: eviction policy not checked; make sure maxmemory-policy is noeviction", "err", err)
		return
	}
	for _, e := range risks {
		m.Log.Warn("redis evicts keys when it is full: committed replies and dedupe markers could be lost; set maxmemory-policy noeviction (or no maxmemory) and watch its memory",
			"node", e.Addr, "maxmemory_policy", e.Policy, "maxmemory", e.MaxMemory)
	}
}

// deliverer is d, wrapped by WrapDeliverer when set.
func (m *Main) deliverer(ch bot.Channel, d bot.Deliverer) bot.Deliverer {
	if m.WrapDeliverer != nil {
		return m.WrapDeliverer(ch, d)
	}
	return d
}

// organizers answers the broadcast wizard from the desk's roles.
type organizers struct{ d *store.Desk }

func (o organizers) Organizer(ctx context.Context, user bot.ConvKey) (bool, error) {
	v, err := o.d.Volunteer(ctx, user)
	switch {
	case errors.Is(err, handoff.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return v.Organizer(), nil
}

// broadcastConfig sends broadcasts on every channel that is on, paced like
// its replies through the shared limits.
func (m *Main) broadcastConfig() broadcast.Config {
	cfg := m.Config
	bc := broadcast.Config{
		Owner:     m.replicaID(),
		Channels:  map[bot.Channel]broadcast.Channel{},
		Pacer:     m.Redis,
		Residents: m.DB,
		Metrics:   m.Metrics,
		Flows:     m.Service.Flows,
		Rules:     broadcastRules(cfg),
		Location:  cfg.Timezone,
		Quiet:     broadcast.QuietHours{From: cfg.Broadcast.QuietFrom, To: cfg.Broadcast.QuietTo},
		Grace:     cfg.Broadcast.Grace,
		Reminders: m.DB.RemindersQueue(),
		Relay:     m.Service.Relay,
	}
	if m.Telegram != nil {
		bc.Channels[bot.ChannelTelegram] = broadcast.Channel{
			Deliverer: m.deliverer(bot.ChannelTelegram, m.Telegram),
			Rate:      cmp.Or(m.TelegramRate, cfg.Telegram.Rate), PerChat: m.TelegramPerChat,
			Paid: cfg.Telegram.PaidBroadcast,
		}
		bc.Notifier = m.Telegram
	}
	if m.ZaloBot != nil {
		bc.Channels[bot.ChannelZaloBot] = broadcast.Channel{Deliverer: m.deliverer(bot.ChannelZaloBot, m.ZaloBot), Rate: cmp.Or(m.ZaloRate, zaloBotRate), PerChat: m.ZaloPerChat}
	}
	if m.ZaloOA != nil {
		bc.Channels[bot.ChannelZaloOA] = broadcast.Channel{Deliverer: m.deliverer(bot.ChannelZaloOA, m.ZaloOA), Rate: cmp.Or(m.ZaloRate, zaloOARate), PerChat: m.ZaloPerChat}
	}
	if m.Web != nil {
		bc.Channels[bot.ChannelWeb] = broadcast.Channel{Deliverer: m.deliverer(bot.ChannelWeb, m.Web), Rate: 1000, PerChat: 20}
	}
	if m.BroadcastTune != nil {
		m.BroadcastTune(&bc)
	}
	return bc
}

// replicaID is ReplicaID or its default, the host name and configured
// listen address: distinct for replicas on different hosts (containers have
// their own host names) or ports, stable across restarts.
func (m *Main) replicaID() string {
	if m.ReplicaID != "" {
		return m.ReplicaID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return host + "/" + m.Config.HTTP.Addr
}

// watchName announces this process under its replica name every beat and
// reports, until ctx ends, each time another process announced itself
// under that name in between: two live processes with one name each take
// the other's outbox leases for their own, so replies can go out twice or
// out of order. Its first announcement may find a process that is gone (a
// restart under the same name is how a replica takes its replies back),
// so only the later ones count. Every sighting is counted; the error is
// logged at most once a minute.
func (m *Main) watchName(ctx context.Context) {
	beat := cmp.Or(m.NameBeat, 5*time.Second)
	nonce := rand.Text()
	t := time.NewTicker(beat)
	defer t.Stop()
	var logged time.Time
	for first := true; ; {
		prev, err := m.Redis.Announce(ctx, nonce, 3*beat)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				m.Log.Warn("replica name not announced", "name", m.replicaID(), "err", err)
			}
		case !first && prev != "" && prev != nonce:
			m.Metrics.NameTaken()
			if time.Since(logged) < time.Minute {
				break
			}
			logged = time.Now()
			m.Log.Error("another running gocua uses this replica's name: the two take each other's undelivered replies, which can then go out twice or out of order; give each replica its own host name or GOCUA_HTTP_ADDR port",
				"name", m.replicaID())
		default:
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sqlitePath is where the embedded durable store keeps its file.
func sqlitePath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "gocua.db") }

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
	for _, w := range m.Flows.Warnings() { // what `gocua flows check` reports as warnings
		m.Log.Warn("flows: " + w.String())
	}
	if m.Areas, err = loadAreas(cfg.AreasFile, m.Log); err != nil {
		return err
	}
	if err := m.openStores(ctx); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.cancel = cancel
	m.Senders = make(map[bot.Channel]*bot.Sender)
	enqueuers := make(map[bot.Channel]bot.Enqueuer)
	m.Metrics = metrics.New()
	m.Metrics.WaitingTickets(m.DB.WaitingTickets)
	dc := deskConfig(cfg)
	dc.Areas = m.Areas
	dc.Retain = append(dc.Retain, m.DB.Uploads().DeleteUploadsBefore)
	dc.Links = linkRef{m}
	if m.DeskTune != nil {
		m.DeskTune(&dc)
	}
	m.Desk = handoff.New(dc, m.DB.Desk(), m.Redis, m.Log.With("component", "desk"))
	m.Queue = handoff.NewQueue(m.DB.Desk(), m.QueueGap)
	if !cfg.VolunteerHours.Always() {
		m.Queue.Hours = cfg.VolunteerHours
	}
	if err := m.Desk.Start(ctx, time.Now()); err != nil {
		return err
	}
	if !cfg.Telegram.Enabled() {
		m.Log.Warn("the volunteer desk answers from Telegram, which is off: residents' requests for a volunteer wait until it is on")
	} else if cfg.Telegram.VolunteerChatID == 0 {
		m.Log.Info("no volunteers' group (GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID): volunteers take tickets with /next")
	}
	var wake func()
	wizard := broadcast.NewWizard(broadcast.WizardConfig{
		Organizers: organizers{m.DB.Desk()},
		Store:      m.DB.Broadcasts(),
		Rules:      broadcastRules(cfg),
		Areas:      m.Areas,
		Env:        func(now time.Time) broadcast.Env { return composeEnv(cfg, m.Service.Flows(), m.Areas, now) },
		Wake: func() {
			if wake != nil {
				wake()
			}
		},
	}, m.Desk)
	m.Service = bot.NewService(bot.Config{
		DefaultLang:   cfg.DefaultLang,
		ReorderWindow: m.ReorderWindow,
		Preferences:   m.DB,
		Metrics:       m.Metrics,
		Desk:          wizard,
		Mailboxes:     m.Redis,
		Marks:         m.Redis,
		Areas:         m.Areas,
		Residents:     m.DB,
		Queue:         m.Queue,
		Taps:          m.DB.Broadcasts(),
		Reminders:     m.DB,
		Location:      cfg.Timezone,
		TakeoverQuiet: cfg.ZaloOA.TakeoverQuiet,
	}, m.Flows, m.Redis, m.DB, enqueuers, m.Log.With("component", "core"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", m.ready)
	mux.Handle("GET /metrics", m.Metrics.Handler())

	if cfg.Telegram.Enabled() {
		m.Telegram, err = telegram.New(telegram.Config{
			Token:           cfg.Telegram.Token.Reveal(),
			WebhookSecret:   cfg.Telegram.WebhookSecret.Reveal(),
			APIURL:          cfg.Telegram.APIURL,
			PublicURL:       cfg.PublicURL,
			VolunteerChatID: cfg.Telegram.VolunteerChatID,
		}, m.Service, m.Log.With("channel", "telegram"), m.telegramOptions()...)
		if err != nil {
			return fmt.Errorf("telegram: %w", err)
		}
		snd := bot.NewSender(bot.SenderConfig{
			Limits:  m.Telegram.Limits(),
			Rate:    cmp.Or(m.TelegramRate, cfg.Telegram.Rate),
			PerChat: m.TelegramPerChat,
			Burst:   m.TelegramBurst,
			Pacer:   m.Redis,
			Workers: m.SendWorkers,
			Channel: bot.ChannelTelegram,
			Metrics: m.Metrics,

			SweepEvery: m.Outbox.Sweep,
			StaleAfter: m.Outbox.StaleAfter,
			RenewEvery: m.Outbox.Lease / 3,
		}, m.deliverer(bot.ChannelTelegram, m.Telegram), m.Redis, m.DB, m.Log.With("channel", "telegram", "component", "sender"))
		m.Senders[bot.ChannelTelegram] = snd
		enqueuers[bot.ChannelTelegram] = snd
		mux.Handle("POST /webhook/telegram", m.Telegram)
	} else {
		m.Log.Warn("Telegram is off: set GOCUA_TELEGRAM_TOKEN and GOCUA_TELEGRAM_WEBHOOK_SECRET to enable it")
	}
	m.media.add(bot.WebRefPrefix, m.DB.Uploads())
	m.media.add(bot.FlowRefPrefix, flowImages{m.Service})
	m.media.add("https://", webImages{m.mediaClient()})
	if err := m.startZalo(mux, enqueuers); err != nil {
		return err
	}
	// The web chat is always on: it needs no platform account.
	if m.Web, err = webchat.New(m.webChatConfig(), m.Service, m.Redis, m.Log.With("channel", "web")); err != nil {
		return fmt.Errorf("web chat: %w", err)
	}
	webSnd := bot.NewSender(bot.SenderConfig{
		Channel: bot.ChannelWeb, Metrics: m.Metrics, Limits: m.Web.Limits(),
		Rate: 1000, PerChat: 20, Burst: 20, // our own page: no platform limits to respect
		SweepEvery: m.Outbox.Sweep, StaleAfter: m.Outbox.StaleAfter, RenewEvery: m.Outbox.Lease / 3,
	}, m.deliverer(bot.ChannelWeb, m.Web), m.Redis, m.DB, m.Log.With("channel", "web", "component", "sender"))
	m.Senders[bot.ChannelWeb] = webSnd
	enqueuers[bot.ChannelWeb] = webSnd
	mux.Handle("/chat", m.Web)
	mux.Handle("/chat/", m.Web)
	if err := m.startDashboard(cfg, mux, enqueuers); err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}

	// Take over what earlier runs committed and did not deliver before
	// accepting traffic, so that nothing is queued twice meanwhile. Each
	// sender takes its own channel's messages only: with a channel switched
	// off, its replies wait in the outbox until it is on again.
	for ch, snd := range m.Senders {
		if err := snd.Recover(ctx); err != nil {
			return fmt.Errorf("resume %s outbox: %w", ch, err)
		}
	}
	for _, snd := range m.Senders {
		m.wg.Go(func() { _ = snd.Run(runCtx) })
	}
	deps := handoff.Deps{Flows: m.Service.Flows, Relay: m.Service.Relay}
	if m.Telegram != nil {
		deps.Poster = m.Telegram
	}
	m.wg.Go(func() { m.Desk.Run(runCtx, deps) })
	if m.ZaloOA != nil && !m.inboxOff {
		m.wg.Go(func() { _ = m.ZaloOA.Run(runCtx) })
	}
	if m.ZaloBot != nil {
		m.wg.Go(func() { m.checkZaloWebhook(runCtx) })
	}
	m.wg.Go(func() { m.runQueue(runCtx, m.Queue) })
	m.Broadcasts = broadcast.New(m.broadcastConfig(), m.DB.Broadcasts(), m.Log.With("component", "broadcast"))
	wake = m.Broadcasts.Wake
	m.wg.Go(func() { m.Broadcasts.Run(runCtx) })
	m.wg.Go(func() { m.Dashboard.Run(runCtx) })
	if !m.Embedded.Redis { // an in-process Redis has no other process to share it
		m.wg.Go(func() { m.watchName(runCtx) })
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
	m.banner()
	m.Log.Info("gocua is running", "addr", m.Addr, "flows", len(m.Flows.Flows()), "flows_version", m.Flows.Version(),
		"telegram", cfg.Telegram.Enabled(), "zalo_bot", m.ZaloBot != nil, "zalo_oa", m.ZaloOA != nil)
	return nil
}

// banner tells whoever started gocua where to look and what is kept.
func (m *Main) banner() {
	if m.Out == nil {
		return
	}
	base := m.localURL()
	var b strings.Builder
	fmt.Fprintf(&b, "\ngocua %s is running\n", buildVersion())
	fmt.Fprintf(&b, "  web chat     %s/chat\n", base)
	fmt.Fprintf(&b, "  dashboard    %s/dashboard/ (sign in with a link: `gocua dashboard link telegram:<your user id>`, or /dashboard to the bot)\n", base)
	fmt.Fprintf(&b, "  health       %s/healthz   %s/readyz\n", base, base)
	fmt.Fprintf(&b, "  metrics      %s/metrics\n", base)
	if m.Embedded.Database {
		fmt.Fprintf(&b, "  durable data embedded SQLite file %s (kept across restarts; set GOCUA_DATABASE_URL for PostgreSQL)\n", m.sqlitePath())
	} else {
		fmt.Fprintln(&b, "  durable data PostgreSQL (GOCUA_DATABASE_URL)")
	}
	if m.Embedded.Redis {
		fmt.Fprintln(&b, "  conversations in-process Redis: NOT kept across restarts (residents start their guide again, web chat history is cleared); set GOCUA_REDIS_URL for Redis")
	} else {
		fmt.Fprintln(&b, "  conversations Redis (GOCUA_REDIS_URL)")
	}
	if m.Telegram != nil {
		fmt.Fprintln(&b, "  telegram     on: POST /webhook/telegram (register it with `gocua webhook set`)")
	} else {
		fmt.Fprintln(&b, "  telegram     off: set GOCUA_TELEGRAM_TOKEN and GOCUA_TELEGRAM_WEBHOOK_SECRET")
	}
	if m.ZaloBot != nil {
		fmt.Fprintln(&b, "  zalo bot     on: POST /webhook/zalo-bot (register it with `gocua webhook set`)")
	} else {
		fmt.Fprintln(&b, "  zalo bot     off: set GOCUA_ZALO_BOT_TOKEN and GOCUA_ZALO_BOT_WEBHOOK_SECRET")
	}
	if m.ZaloOA != nil {
		fmt.Fprintln(&b, "  zalo oa      on: POST /webhook/zalo-oa (set it in the Zalo developer console)")
	} else {
		fmt.Fprintln(&b, "  zalo oa      off: set GOCUA_ZALO_OA_APP_ID, _APP_SECRET, _SECRET_KEY and _REFRESH_TOKEN")
	}
	fmt.Fprintln(m.Out, b.String())
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
	// A channel that lost its credentials is reported, but the replica
	// stays ready: the other channels and the dashboard still work, and
	// taking it out of the load balancer would not bring them back.
	var notes []string
	if m.ZaloOA != nil {
		if ok, detail := m.ZaloOA.Health(); !ok {
			notes = append(notes, "zalo-oa: "+detail)
		}
	}
	if len(problems) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, p := range append(problems, notes...) {
			fmt.Fprintln(w, p)
		}
		return
	}
	fmt.Fprintln(w, "ready")
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
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
	if m.Web != nil {
		m.Web.Close() // end the live event streams so the server can drain
	}
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
	if m.embRedis != nil {
		m.embRedis.Close()
	}
	return errors.Join(errs...)
}

// deskConfig is the volunteer desk's part of the configuration: the
// volunteers' group and the organizers named in GOCUA_ADMINS.
func deskConfig(cfg config.Config) handoff.Config {
	dc := handoff.Config{Lang: cfg.DefaultLang, Location: cfg.Timezone, TranscriptDays: cfg.TranscriptDays,
		SLA: handoff.SLA{Unclaimed: cfg.SLA.Unclaimed, SilentVolunteer: cfg.SLA.SilentVolunteer, SilentResident: cfg.SLA.SilentResident}}
	if id := cfg.Telegram.VolunteerChatID; id != 0 {
		dc.Group = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(id, 10)}
	}
	for _, a := range cfg.Admins {
		if a.Channel == "telegram" {
			dc.Admins = append(dc.Admins, bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: a.ID})
		}
	}
	return dc
}
