package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	telegramToken         = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{30,64}$`)
	telegramWebhookSecret = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	zaloBotToken          = regexp.MustCompile(`^[0-9]{1,20}:\S+$`)
)

// maxTranscriptDays keeps days×24h well inside time.Duration.
const maxTranscriptDays = 36500

// GOCUA_TELEGRAM_RATE's bounds: the public Bot API (publicBotAPIHost) allows
// about 30 messages a second, so more than maxPublicTelegramRate there is a
// mistake; a self-hosted Bot API server or a load test's fake one has no
// overall limit, and maxTelegramRate keeps the pacer's interval at 1 µs or
// more. Neither changes the per-chat pace (1 message a second).
const (
	publicBotAPIHost      = "api.telegram.org"
	maxPublicTelegramRate = 1000
	maxTelegramRate       = 1000000
)

// isPublicBotAPI reports whether raw (GOCUA_TELEGRAM_API_URL) is Telegram's
// public Bot API, or does not parse (the stricter bound applies).
func isPublicBotAPI(raw string) bool {
	u, err := url.Parse(raw)
	return err != nil || strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), publicBotAPIHost)
}

// Validate checks every value and the rules between them, and returns all
// problems joined, one a line, each naming its variable. It never quotes a
// secret's value. It does no I/O.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if err := checkAddr(c.HTTP.Addr); err != nil {
		add("GOCUA_HTTP_ADDR %q %v", c.HTTP.Addr, err)
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			add("GOCUA_PUBLIC_URL %q %v", redactURL(c.PublicURL), err)
		}
	}
	if s := c.DatabaseURL.Reveal(); s != "" && !hasScheme(s, "postgres", "postgresql") {
		add("GOCUA_DATABASE_URL must be a postgres:// or postgresql:// URL")
	}
	if s := c.RedisURL.Reveal(); s != "" && !hasScheme(s, "redis", "rediss") {
		add("GOCUA_REDIS_URL must be a redis:// or rediss:// URL")
	}
	if c.DataDir == "" {
		add("GOCUA_DATA_DIR must not be empty")
	}
	if c.Timezone == nil {
		add("GOCUA_TIMEZONE is not set")
	}
	if c.DefaultLang != "vi" && c.DefaultLang != "en" {
		add("GOCUA_DEFAULT_LANG %q is not supported (use vi or en)", c.DefaultLang)
	}
	for _, id := range c.Admins {
		if !(id.Channel == "telegram" && telegramUserID.MatchString(id.ID)) &&
			!(id.Channel == "zalo" && zaloUserID.MatchString(id.ID)) {
			add("GOCUA_ADMINS: %q is not telegram:<numeric user id> or zalo:<user id>", id.String())
		}
	}
	if c.TranscriptDays < 1 || c.TranscriptDays > maxTranscriptDays {
		add("GOCUA_TRANSCRIPT_DAYS %d is out of range (1 to %d days)", c.TranscriptDays, maxTranscriptDays)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"GOCUA_SLA_UNCLAIMED", c.SLA.Unclaimed}, {"GOCUA_SLA_SILENT_VOLUNTEER", c.SLA.SilentVolunteer}, {"GOCUA_SLA_SILENT_RESIDENT", c.SLA.SilentResident}} {
		if d.v < time.Minute || d.v > 7*24*time.Hour {
			add("%s %s is out of range (1m to 168h)", d.name, d.v)
		}
	}
	if c.StateTTL <= 0 {
		add("GOCUA_STATE_TTL %s must be above 0 (idle conversations are forgotten after it)", c.StateTTL)
	}
	for _, o := range c.WebChat.Origins {
		if err := checkOrigin(o); err != nil {
			add("GOCUA_WEBCHAT_ORIGINS: %q %v", redactURL(o), err)
		}
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("GOCUA_LOG_FORMAT %q is not supported (use text or json)", c.Log.Format)
	}

	tg := c.Telegram
	if tg.Enabled() {
		if !telegramToken.MatchString(tg.Token.Reveal()) {
			add("GOCUA_TELEGRAM_TOKEN does not look like a bot token from @BotFather (<digits>:<35 letters, digits, _ or ->)")
		}
		if tg.WebhookSecret == "" {
			add("GOCUA_TELEGRAM_WEBHOOK_SECRET is required when GOCUA_TELEGRAM_TOKEN is set (Telegram must prove each webhook call)")
		}
	}
	if tg.WebhookSecret != "" && !telegramWebhookSecret.MatchString(tg.WebhookSecret.Reveal()) {
		add("GOCUA_TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters of A-Z a-z 0-9 _ - (Telegram's rule)")
	}
	if err := checkBaseURL(tg.APIURL); err != nil {
		add("GOCUA_TELEGRAM_API_URL %q %v", redactURL(tg.APIURL), err)
	}
	switch rate := strconv.FormatFloat(tg.Rate, 'g', -1, 64); {
	case !(tg.Rate > 0 && tg.Rate <= maxTelegramRate):
		add("GOCUA_TELEGRAM_RATE %s is out of range (above 0, at most %d messages per second, %d with %s)",
			rate, maxTelegramRate, maxPublicTelegramRate, publicBotAPIHost)
	case tg.Rate > maxPublicTelegramRate && isPublicBotAPI(tg.APIURL):
		add("GOCUA_TELEGRAM_RATE %s is out of range for %s (above 0, at most %d messages per second; Telegram allows about 30): "+
			"a higher rate needs GOCUA_TELEGRAM_API_URL set to a self-hosted Bot API server or a load test's", rate, publicBotAPIHost, maxPublicTelegramRate)
	}

	zb := c.ZaloBot
	if zb.Enabled() {
		if !zaloBotToken.MatchString(zb.Token.Reveal()) {
			add("GOCUA_ZALO_BOT_TOKEN does not look like a Zalo bot token (<digits>:<secret>)")
		}
		if zb.WebhookSecret == "" {
			add("GOCUA_ZALO_BOT_WEBHOOK_SECRET is required when GOCUA_ZALO_BOT_TOKEN is set (Zalo must prove each webhook call)")
		}
	}
	if n := len(zb.WebhookSecret.Reveal()); n > 0 && (n < 8 || n > 256) {
		add("GOCUA_ZALO_BOT_WEBHOOK_SECRET must be 8 to 256 characters (Zalo's rule)")
	}
	if err := checkBaseURL(zb.APIURL); err != nil {
		add("GOCUA_ZALO_BOT_API_URL %q %v", redactURL(zb.APIURL), err)
	}

	oa := c.ZaloOA
	if oa.Enabled() {
		for _, req := range []struct {
			name string
			set  bool
		}{
			{"GOCUA_ZALO_OA_APP_ID", oa.AppID != ""},
			{"GOCUA_ZALO_OA_APP_SECRET", oa.AppSecret != ""},
			{"GOCUA_ZALO_OA_SECRET_KEY", oa.SecretKey != ""},
			{"GOCUA_ZALO_OA_REFRESH_TOKEN", oa.RefreshToken != ""},
		} {
			if !req.set {
				add("%s is required when any Zalo OA credential is set (the OA needs app id, app secret, secret key and refresh token)", req.name)
			}
		}
	}
	if err := checkBaseURL(oa.APIURL); err != nil {
		add("GOCUA_ZALO_OA_API_URL %q %v", redactURL(oa.APIURL), err)
	}
	if err := checkBaseURL(oa.OAuthURL); err != nil {
		add("GOCUA_ZALO_OA_OAUTH_URL %q %v", redactURL(oa.OAuthURL), err)
	}
	return errors.Join(errs...)
}

// The check helpers return a phrase that follows the quoted value.

func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("is not host:port (e.g. :8080 or 127.0.0.1:8080)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("has no valid port number (0 to 65535)")
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func checkPublicURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return errors.New("is not an absolute URL such as https://bot.example.gov.vn")
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		return errors.New("must use https (Telegram and Zalo only call https webhooks; http is accepted for localhost)")
	case u.User != nil:
		return errors.New("must not contain a user name or password")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("must have no path, query or fragment (webhook paths are added to it)")
	}
	return nil
}

// checkBaseURL checks an API server address: http or https, a host, no query.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http"):
		return errors.New("is not an http(s) URL")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("must have no query or fragment")
	}
	return nil
}

func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("is not an origin (scheme://host[:port], e.g. https://xa-abc.gov.vn)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	return nil
}

// hasScheme reports whether raw parses as a URL with one of schemes.
func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			return true
		}
	}
	return false
}
