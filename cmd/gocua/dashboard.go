package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/dashboard"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
)

// startDashboard builds the dashboard at /dashboard/ and its sender: what
// the desk answers a volunteer's web action goes to their web
// conversation, shown to them as a notice.
func (m *Main) startDashboard(cfg config.Config, mux *http.ServeMux, enqueuers map[bot.Channel]bot.Enqueuer) error {
	dcfg := dashboard.Config{
		PublicURL:      cfg.PublicURL,
		LocalURL:       m.localURL,
		Lang:           cfg.DefaultLang,
		Location:       cfg.Timezone,
		Areas:          m.Areas,
		Flows:          func() *flows.Set { return m.Service.Flows() },
		Bots:           m.bots,
		BroadcastEnv:   func(now time.Time) broadcast.Env { return composeEnv(cfg, m.Service.Flows(), m.Areas, now) },
		BroadcastRules: broadcastRules(cfg),
		Wake: func() {
			if m.Broadcasts != nil {
				m.Broadcasts.Wake()
			}
		},
	}
	if m.DashboardTune != nil {
		m.DashboardTune(&dcfg)
	}
	var err error
	m.Dashboard, err = dashboard.New(dcfg, dashboard.Deps{
		Store: m.DB.Dashboard(), Staff: m.DB.Desk(), Core: m.Service, Broadcasts: m.DB.Broadcasts(), Uploads: m.DB.Uploads(),
		Limiter: m.Redis,
	}, m.Log.With("component", "dashboard"))
	if err != nil {
		return err
	}
	snd := bot.NewSender(bot.SenderConfig{
		Channel: bot.ChannelDashboard, Metrics: m.Metrics, Limits: m.Dashboard.Limits(),
		Rate: 1000, PerChat: 50, Burst: 50, // our own page: no platform limits
		SweepEvery: m.Outbox.Sweep, StaleAfter: m.Outbox.StaleAfter, RenewEvery: m.Outbox.Lease / 3,
	}, m.Dashboard, m.Redis, m.DB, m.Log.With("channel", "dashboard", "component", "sender"))
	m.Senders[bot.ChannelDashboard] = snd
	enqueuers[bot.ChannelDashboard] = snd
	mux.Handle(dashboard.Prefix, m.Dashboard)
	mux.Handle(strings.TrimSuffix(dashboard.Prefix, "/"), m.Dashboard)
	return nil
}

// localURL is the address this process listens on, for links when
// GOCUA_PUBLIC_URL is unset (the embedded default).
func (m *Main) localURL() string { return "http://" + listenHost(m.Addr) }

// bots are the deep links the area posters offer.
func (m *Main) bots(ctx context.Context) dashboard.Bots {
	var b dashboard.Bots
	base := m.Config.PublicURL
	if base == "" {
		base = m.localURL()
	}
	b.WebChat = strings.TrimRight(base, "/") + "/chat"
	if m.Telegram != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		name, err := m.Telegram.Username(ctx)
		if err != nil {
			m.Log.Warn("dashboard: the bot's Telegram username is unknown; posters offer the web chat", "err", err)
		}
		b.TelegramUsername = name
	}
	return b
}

// linkRef mints the desk's /dashboard links through the dashboard, built
// after the desk.
type linkRef struct{ m *Main }

func (l linkRef) MintLink(ctx context.Context, volunteer int64, now time.Time) (string, time.Duration, error) {
	if l.m.Dashboard == nil {
		return "", 0, errors.New("dashboard: not started")
	}
	return l.m.Dashboard.MintLink(ctx, volunteer, now)
}

var _ handoff.LinkMinter = linkRef{}

const dashboardUsage = `usage: gocua dashboard link <channel>:<user id>

  link telegram:123456789   prints a one-time dashboard login link (valid for
                            10 minutes) for that staff member; an identity in
                            GOCUA_ADMINS becomes an organizer if it is not yet
`

// dashboardCmd runs `gocua dashboard`.
func dashboardCmd(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer, log *slog.Logger) int {
	if len(args) != 2 || args[0] != "link" {
		fmt.Fprint(stderr, dashboardUsage)
		return 2
	}
	ch, id, ok := strings.Cut(args[1], ":")
	if !ok || id == "" || !staffChannel(bot.Channel(ch)) {
		fmt.Fprintf(stderr, "gocua dashboard link: %q is not <channel>:<user id> (e.g. telegram:123456789)\n", args[1])
		return 2
	}
	db, err := openDurable(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "gocua dashboard link: %v\n", err)
		return 1
	}
	defer db.Close()
	user := bot.ConvKey{Channel: bot.Channel(ch), ChatID: id}
	now := time.Now()
	v, err := db.Desk().Volunteer(ctx, user)
	if errors.Is(err, handoff.ErrNotFound) && isAdmin(cfg, user) {
		v, err = db.Desk().EnsureOrganizer(ctx, user, user, "", now)
	}
	switch {
	case errors.Is(err, handoff.ErrNotFound):
		fmt.Fprintf(stderr, "gocua dashboard link: %s is not staff: they send /volunteer to the bot and an organizer approves them, or add them to GOCUA_ADMINS\n", user)
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "gocua dashboard link: %v\n", err)
		return 1
	case !v.Active():
		fmt.Fprintf(stderr, "gocua dashboard link: %s is %s, not an approved volunteer or organizer\n", user, v.Status)
		return 1
	}
	base := cfg.PublicURL
	if base == "" {
		base = "http://" + listenHost(cfg.HTTP.Addr)
	}
	link, err := dashboard.NewLink(ctx, db.Dashboard(), base, v.ID, now, dashboardLinkTTL)
	if err != nil {
		fmt.Fprintf(stderr, "gocua dashboard link: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", link)
	fmt.Fprintf(stderr, "A sign-in link for %s (%s), valid once for %d minutes. Do not share it.\n",
		cmpName(v), v.Role, int(dashboardLinkTTL/time.Minute))
	return 0
}

// dashboardLinkTTL is how long a printed link works (as the bot's).
const dashboardLinkTTL = 10 * time.Minute

// listenHost is GOCUA_HTTP_ADDR as a browser on this machine reaches it.
func listenHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "localhost:8080"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// staffChannel reports a channel staff members talk to the bot on.
func staffChannel(ch bot.Channel) bool {
	switch ch {
	case bot.ChannelTelegram, bot.ChannelZaloBot, bot.ChannelZaloOA:
		return true
	}
	return false
}

func isAdmin(cfg config.Config, user bot.ConvKey) bool {
	for _, a := range cfg.Admins {
		if a.Channel == string(user.Channel) && a.ID == user.ChatID {
			return true
		}
	}
	return false
}

func cmpName(v handoff.Volunteer) string {
	if v.Name != "" {
		return v.Name
	}
	return fmt.Sprintf("#%d", v.ID)
}
