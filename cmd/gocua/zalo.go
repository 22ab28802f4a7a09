package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
)

// Zalo's sending limits as gocua paces them. The Bot Platform publishes
// none (it answers 429, which the sender honours); the OA allows 4000 API
// calls a minute per app. Per chat both get a short burst, so the two or
// three messages of one answer arrive together.
const (
	zaloBotRate    = 20
	zaloOARate     = 50
	zaloPerChat    = 2
	zaloChatBurst  = 3
	zaloSendWorker = 16
)

// liveTexts reads the locale's texts from the flows the core runs now.
type liveTexts struct{ svc *bot.Service }

func (l liveTexts) Text(lang, key string, vars map[string]string) string {
	return l.svc.Flows().Text(lang, key, vars)
}

// mediaSource opens a file by its ref for a channel that uploads bytes
// (Telegram shows a volunteer the photo a Zalo or web chat resident sent):
// each ref prefix is read by the adapter that knows it. Sources are added
// while gocua starts, before any delivery.
type mediaSource struct {
	mu    sync.RWMutex
	byRef map[string]opener // ref prefix ("web:", "zalo-bot:") → source
}

type opener interface {
	OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error)
}

func (s *mediaSource) add(prefix string, o opener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byRef == nil {
		s.byRef = make(map[string]opener)
	}
	s.byRef[prefix] = o
}

// OpenMedia implements telegram.MediaSource and oa.MediaSource.
func (s *mediaSource) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	s.mu.RLock()
	var o opener
	for prefix, src := range s.byRef {
		if strings.HasPrefix(ref, prefix) {
			o = src
			break
		}
	}
	s.mu.RUnlock()
	if o == nil {
		return bot.Media{}, nil, fmt.Errorf("media %q: no channel keeps it: %w", clipRef(ref), bot.ErrRejected)
	}
	return o.OpenMedia(ctx, ref)
}

func clipRef(ref string) string {
	if i := strings.IndexByte(ref, ':'); i > 0 {
		return ref[:i] + ":…"
	}
	return "…"
}

// startZalo builds the Zalo channels that are configured: their adapters,
// senders and webhooks on mux. Call it after the Telegram adapter is made.
func (m *Main) startZalo(mux *http.ServeMux, enqueuers map[bot.Channel]bot.Enqueuer) error {
	cfg := m.Config
	texts := liveTexts{m.Service}
	if cfg.ZaloBot.Enabled() {
		opts := []zalo.Option{zalo.WithUploads(m.DB.Uploads()), zalo.WithFetcher(m.fetchers())}
		a, err := zalo.New(zalo.Config{
			Token:             cfg.ZaloBot.Token.Reveal(),
			WebhookSecret:     cfg.ZaloBot.WebhookSecret.Reveal(),
			APIURL:            cfg.ZaloBot.APIURL,
			PublicURL:         cfg.PublicURL,
			DefaultLang:       cfg.DefaultLang,
			AllowPrivateMedia: m.AllowPrivateMedia,
		}, m.Service, m.Redis, texts, m.Log.With("channel", "zalo-bot"), opts...)
		if err != nil {
			return fmt.Errorf("zalo bot: %w", err)
		}
		m.ZaloBot = a
		if cfg.PublicURL == "" {
			m.Log.Warn("GOCUA_PUBLIC_URL is not set: the Zalo bot cannot send photos (Zalo fetches them from gocua's public address)")
		}
		m.media.add(zalo.RefPrefix, a)
		m.addSender(bot.ChannelZaloBot, a, a.Limits(), zaloBotRate, enqueuers)
		mux.Handle("POST "+zalo.WebhookPath, a)
		mux.Handle("GET "+zalo.MediaPath, a.MediaHandler())
	}
	if cfg.ZaloOA.Enabled() {
		opts := []oa.Option{oa.WithMedia(&m.media), oa.WithConsumer(m.replicaID())}
		if m.Telegram != nil {
			opts = append(opts, oa.WithFetcher(m.Telegram))
		}
		a, err := oa.New(oa.Config{
			AppID:             cfg.ZaloOA.AppID,
			AppSecret:         cfg.ZaloOA.AppSecret.Reveal(),
			SecretKey:         cfg.ZaloOA.SecretKey.Reveal(),
			RefreshToken:      cfg.ZaloOA.RefreshToken.Reveal(),
			APIURL:            cfg.ZaloOA.APIURL,
			OAuthURL:          cfg.ZaloOA.OAuthURL,
			Reclaim:           m.OAReclaim,
			AllowPrivateMedia: m.AllowPrivateMedia,
		}, m.Service, m.Redis, m.DB, m.Redis, texts, m.Log.With("channel", "zalo-oa"), opts...)
		if err != nil {
			return fmt.Errorf("zalo oa: %w", err)
		}
		m.ZaloOA = a
		m.media.add("zalo-oa:", a)
		m.Metrics.Authorized(bot.ChannelZaloOA, func() bool { ok, _ := a.Health(); return ok })
		m.addSender(bot.ChannelZaloOA, a, a.Limits(), zaloOARate, enqueuers)
		mux.Handle("POST "+oa.WebhookPath, a)
	}
	return nil
}

// addSender makes the sender of a channel paced through the shared limits.
func (m *Main) addSender(ch bot.Channel, d bot.Deliverer, limits bot.Limits, rate float64, enqueuers map[bot.Channel]bot.Enqueuer) {
	snd := bot.NewSender(bot.SenderConfig{
		Channel: ch, Metrics: m.Metrics, Limits: limits,
		Rate: cmp.Or(m.ZaloRate, rate), PerChat: m.ZaloPerChat, Burst: m.ZaloBurst, Pacer: m.Redis, Workers: cmp.Or(m.SendWorkers, zaloSendWorker),
		SweepEvery: m.Outbox.Sweep, StaleAfter: m.Outbox.StaleAfter, RenewEvery: m.Outbox.Lease / 3,
	}, m.deliverer(ch, d), m.Redis, m.DB, m.Log.With("channel", string(ch), "component", "sender"))
	m.Senders[ch] = snd
	enqueuers[ch] = snd
}

// checkZaloWebhook warns when Zalo calls another address than ours: a
// webhook registered elsewhere (or none) means residents' messages never
// arrive, with no error anywhere.
func (m *Main) checkZaloWebhook(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	warning, err := m.ZaloBot.CheckWebhook(ctx)
	switch {
	case err != nil:
		m.Log.Warn("zalo bot: could not check the registered webhook", "err", err)
	case warning != "":
		m.Log.Warn("zalo bot: "+warning, "fix", "gocua webhook set")
	}
}
