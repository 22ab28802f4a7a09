// Package config turns gocua's GOCUA_* environment variables into one typed
// Config. Load parses (and reports every value it cannot parse, naming the
// variable); Validate checks the rules between values (and reports every
// problem). Secrets are of type Secret, so printing or logging a Config never
// shows them. Vars lists every variable with its default and meaning; it is
// the source of docs/configuration.md.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "time/tzdata" // GOCUA_TIMEZONE works in images without /usr/share/zoneinfo

	"github.com/redis/go-redis/v9"
)

// Config is gocua's whole configuration. main builds it once with Load and
// passes parts of it down as values.
type Config struct {
	HTTP HTTP
	// PublicURL is the https address the platforms call, without a trailing
	// slash, e.g. "https://bot.example.gov.vn". Empty if unset.
	PublicURL   string
	DatabaseURL Secret // postgres:// URL; empty: none configured
	RedisURL    Secret // redis:// or rediss:// URL; empty: none configured
	DataDir     string
	FlowsDir    string // extra/overriding flow files; empty: bundled flows only
	AreasFile   string // communes/wards served and their offices; empty: none
	Timezone    *time.Location
	DefaultLang string // "vi" or "en"
	// Admins are organizers from the start, in the order given, without duplicates.
	Admins         []Identity
	TranscriptDays int           // days a closed ticket's transcript is kept
	VolunteerHours Hours         // when volunteers are on duty; always when unset
	SLA            SLA           // the handoff desk's timers
	StateTTL       time.Duration // how long an idle conversation's state is kept
	Broadcast      Broadcast
	WebChat        WebChat
	Log            Log
	Telegram       Telegram
	ZaloBot        ZaloBot
	ZaloOA         ZaloOA
}

// Broadcast configures broadcasts and reminders.
type Broadcast struct {
	// QuietFrom and QuietTo bound the daily quiet hours (times of day in
	// Timezone; QuietFrom after QuietTo wraps past midnight; equal: none).
	QuietFrom, QuietTo time.Duration
	// Grace is how late a one-off broadcast may still start after gocua
	// was down at its time.
	Grace time.Duration
}

// HTTP configures the HTTP server.
type HTTP struct {
	Addr string // host:port to listen on, e.g. ":8080"
}

// WebChat configures the embeddable web chat.
type WebChat struct {
	// Origins are the scheme://host[:port] origins (lower case) allowed to
	// embed the chat.
	Origins []string
}

// Log configures the process logger.
type Log struct {
	Level  slog.Level
	Format string // "text" or "json"
}

// Telegram configures the Telegram channel.
type Telegram struct {
	Token         Secret
	WebhookSecret Secret
	APIURL        string // Bot API base URL, without a trailing slash
	// VolunteerChatID is the volunteers' group chat (negative for groups);
	// 0 if unset.
	VolunteerChatID int64
	Rate            float64 // messages per second over the whole channel
	// PaidBroadcast lets broadcasts that ask for it use Telegram's paid
	// broadcasts (up to 1000 messages a second, charged in Stars).
	PaidBroadcast bool
}

// Enabled reports whether Telegram is configured (a token is set).
func (t Telegram) Enabled() bool { return t.Token != "" }

// ZaloBot configures the Zalo Bot Platform channel.
type ZaloBot struct {
	Token         Secret
	WebhookSecret Secret
	APIURL        string // API base URL, without a trailing slash
}

// Enabled reports whether the Zalo bot is configured (a token is set).
func (z ZaloBot) Enabled() bool { return z.Token != "" }

// ZaloOA configures the Zalo Official Account channel.
type ZaloOA struct {
	AppID        string
	AppSecret    Secret // the Zalo app's secret key, for OAuth
	SecretKey    Secret // the OA secret key, for webhook signatures
	RefreshToken Secret // the OAuth refresh token to start from
	APIURL       string // OpenAPI base URL, without a trailing slash
	OAuthURL     string // OAuth base URL, without a trailing slash
	// TakeoverQuiet is how long the bot keeps quiet in a conversation after
	// a person answered it from Zalo OA Manager.
	TakeoverQuiet time.Duration
}

// Enabled reports whether any Zalo OA credential is set. Validate makes sure
// that then all of them are.
func (z ZaloOA) Enabled() bool {
	return z.AppID != "" || z.AppSecret != "" || z.SecretKey != "" || z.RefreshToken != ""
}

// SLA are the volunteer desk's timers.
type SLA struct {
	Unclaimed       time.Duration // nobody took the ticket: remind the group and the organizers
	SilentVolunteer time.Duration // the resident's last message has no answer: back to the queue
	SilentResident  time.Duration // the resident did not answer the volunteer: closed as abandoned
}

// Identity is one platform user, as named in GOCUA_ADMINS.
type Identity struct {
	Channel string // "telegram" or "zalo"
	ID      string // Telegram: the numeric user id; Zalo: the user id
}

// String returns "channel:id", the form GOCUA_ADMINS uses.
func (id Identity) String() string { return id.Channel + ":" + id.ID }

// VarDoc documents one environment variable.
type VarDoc struct {
	Name        string
	Default     string // "" if none
	Description string // one line
	// Secret variables are redacted when printed and may instead be read from
	// the file named by Name+"_FILE" (trimmed).
	Secret bool
}

// Vars lists every variable Load reads, in documentation order.
func Vars() []VarDoc {
	vs := variables()
	docs := make([]VarDoc, len(vs))
	for i, v := range vs {
		docs[i] = v.VarDoc
	}
	return docs
}

// Load reads every GOCUA_* variable through getenv (os.Getenv in main, a map
// in tests), applies defaults, and parses values. A secret may come from the
// file its _FILE twin names. The error joins one message per variable that
// could not be read or parsed, naming it (and its value, unless it is a
// secret). Call Validate afterwards for the rules between values.
func Load(getenv func(string) string) (Config, error) {
	var (
		c    Config
		errs []error
	)
	for _, v := range variables() {
		raw, err := lookup(getenv, v.Name, v.Secret)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if raw == "" {
			raw = v.Default
		}
		if raw == "" {
			continue
		}
		if err := v.parse(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// lookup returns the trimmed value of name, or for a secret the trimmed
// content of the file named by name_FILE.
func lookup(getenv func(string) string, name string, secret bool) (string, error) {
	val := strings.TrimSpace(getenv(name))
	if !secret {
		return val, nil
	}
	fileVar := name + "_FILE"
	path := strings.TrimSpace(getenv(fileVar))
	if path == "" {
		return val, nil
	}
	if val != "" {
		return "", fmt.Errorf("%s and %s are both set; set only one", name, fileVar)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", fileVar, err)
	}
	val = strings.TrimSpace(string(b))
	if val == "" {
		return "", fmt.Errorf("%s: %s is empty", fileVar, path)
	}
	return val, nil
}

// String lists every variable as NAME=value, one a line, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	for i, v := range variables() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(v.show(&c))
	}
	return b.String()
}

// LogValue implements slog.LogValuer: a group with one attribute per variable
// (key: the name without GOCUA_, lower case), secrets redacted.
func (c Config) LogValue() slog.Value {
	vs := variables()
	attrs := make([]slog.Attr, len(vs))
	for i, v := range vs {
		attrs[i] = slog.String(strings.ToLower(strings.TrimPrefix(v.Name, "GOCUA_")), v.show(&c))
	}
	return slog.GroupValue(attrs...)
}

// variable ties a VarDoc to the Config field it fills.
type variable struct {
	VarDoc
	// parse stores a non-empty raw value (already trimmed; the default if the
	// variable is unset). Its error need not name the variable, and must not
	// quote a secret's value.
	parse func(c *Config, raw string) error
	// show renders the field for String and LogValue, secrets redacted.
	show func(c *Config) string
}

// Constructors for the common kinds of variable.

func stringVar(name, def, desc string, field func(*Config) *string) variable {
	return variable{
		VarDoc: VarDoc{Name: name, Default: def, Description: desc},
		parse:  func(c *Config, raw string) error { *field(c) = raw; return nil },
		show:   func(c *Config) string { return *field(c) },
	}
}

// lowerVar stores the value in lower case (enumerations checked by Validate).
func lowerVar(name, def, desc string, field func(*Config) *string) variable {
	v := stringVar(name, def, desc, field)
	v.parse = func(c *Config, raw string) error { *field(c) = strings.ToLower(raw); return nil }
	return v
}

// urlVar stores a URL without its trailing slash and shows it with any
// password redacted.
func urlVar(name, def, desc string, field func(*Config) *string) variable {
	v := stringVar(name, def, desc, field)
	v.parse = func(c *Config, raw string) error { *field(c) = strings.TrimRight(raw, "/"); return nil }
	v.show = func(c *Config) string { return redactURL(*field(c)) }
	return v
}

func secretVar(name, desc string, field func(*Config) *Secret) variable {
	return variable{
		VarDoc: VarDoc{Name: name, Description: desc, Secret: true},
		parse:  func(c *Config, raw string) error { *field(c) = Secret(raw); return nil },
		show:   func(c *Config) string { return field(c).String() },
	}
}

// secretURLVar is a secret connection URL: shown with only its password
// redacted, so logs still tell which server is used.
func secretURLVar(name, desc string, field func(*Config) *Secret) variable {
	v := secretVar(name, desc, field)
	v.show = func(c *Config) string { return redactURL(field(c).Reveal()) }
	return v
}

// redisURLVar is GOCUA_REDIS_URL: a secret URL that names a Redis Cluster
// when it has addr= parameters (go-redis's cluster URL form, the rule
// store.OpenRedis follows), and must then be one redis.ParseClusterURL
// reads, without a database number (a cluster has only DB 0).
func redisURLVar(name, desc string, field func(*Config) *Secret) variable {
	v := secretURLVar(name, desc, field)
	v.parse = func(c *Config, raw string) error {
		if err := checkRedisClusterURL(raw); err != nil {
			return err
		}
		*field(c) = Secret(raw)
		return nil
	}
	return v
}

// checkRedisClusterURL checks a cluster URL (one with addr= parameters)
// and a Sentinel URL (one with master_name=); others pass (Validate checks
// their scheme). Its errors never quote the
// URL, which holds the password.
func checkRedisClusterURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	if u.Query().Has("master_name") { // a master through Sentinel (store.IsSentinelURL)
		if u.Query().Get("master_name") == "" {
			return errors.New("a Redis Sentinel URL needs the master's name: master_name=<name>")
		}
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return fmt.Errorf("not a valid Redis Sentinel URL (redis://[user:password@]sentinel:port[/db]?master_name=name&addr=sentinel:port…): %s", strings.TrimPrefix(err.Error(), "redis: "))
		}
		if on := replicaRouting(map[string]bool{"replica_only": o.ReplicaOnly, "route_by_latency": o.RouteByLatency, "route_randomly": o.RouteRandomly}); on != "" {
			return fmt.Errorf("a Redis Sentinel URL for gocua cannot send commands to replicas (%s): %s", on, masterOnly)
		}
		return nil
	}
	if !u.Query().Has("addr") {
		return nil
	}
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return fmt.Errorf("a Redis Cluster URL cannot choose database %q: a cluster has only database 0", p)
	}
	o, err := redis.ParseClusterURL(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("not a valid Redis Cluster URL (redis://[user:password@]host:port?addr=host:port&addr=…): %s", strings.TrimPrefix(err.Error(), "redis: "))
	}
	if on := replicaRouting(map[string]bool{"read_only": o.ReadOnly, "route_by_latency": o.RouteByLatency, "route_randomly": o.RouteRandomly}); on != "" {
		return fmt.Errorf("a Redis Cluster URL for gocua cannot send commands to replicas (%s): %s", on, masterOnly)
	}
	return nil
}

// masterOnly is why gocua refuses the URL options that send reads to
// replicas: a replica may not have the last write yet.
const masterOnly = "gocua reads back at once what it wrote (a conversation's state, whether an update was handled), so every command must go to the master; remove the option"

// replicaRouting names the options set in opts, comma-separated in name
// order; "" when none is.
func replicaRouting(opts map[string]bool) string {
	var on []string
	for name, set := range opts {
		if set {
			on = append(on, name+"=true")
		}
	}
	slices.Sort(on)
	return strings.Join(on, ", ")
}

// variables is the table behind Load, Vars, String and LogValue. It is built
// on each call so that nothing package-level can be changed.
func variables() []variable {
	return []variable{
		stringVar("GOCUA_HTTP_ADDR", ":8080",
			"Address the HTTP server (webhooks, health checks, dashboard, web chat) listens on, as host:port.",
			func(c *Config) *string { return &c.HTTP.Addr }),
		urlVar("GOCUA_PUBLIC_URL", "",
			"Public https address of this server, without a path (e.g. https://bot.example.gov.vn); webhooks are registered under it. http is accepted only for localhost.",
			func(c *Config) *string { return &c.PublicURL }),
		secretURLVar("GOCUA_DATABASE_URL",
			"PostgreSQL URL (postgres:// or postgresql://) for durable data: residents, volunteers, tickets, broadcasts, audit log.",
			func(c *Config) *Secret { return &c.DatabaseURL }),
		redisURLVar("GOCUA_REDIS_URL",
			"Redis URL (redis://, or rediss:// for TLS) for conversation state, dedupe, rate limits and locks. With addr= parameters it names a Redis Cluster: redis://host1:7000?addr=host2:7000&addr=host3:7000.",
			func(c *Config) *Secret { return &c.RedisURL }),
		stringVar("GOCUA_DATA_DIR", "./data",
			"Directory where gocua keeps its local files.",
			func(c *Config) *string { return &c.DataDir }),
		stringVar("GOCUA_FLOWS_DIR", "",
			"Directory of flow YAML files that add to the bundled flows or override them (by id).",
			func(c *Config) *string { return &c.FlowsDir }),
		stringVar("GOCUA_AREAS_FILE", "",
			"File listing the communes/wards served and their offices.",
			func(c *Config) *string { return &c.AreasFile }),
		{
			VarDoc: VarDoc{Name: "GOCUA_TIMEZONE", Default: "Asia/Ho_Chi_Minh",
				Description: "IANA time zone for schedules, reminders and the dates people see."},
			parse: func(c *Config, raw string) error {
				loc, err := time.LoadLocation(raw)
				if err != nil {
					return fmt.Errorf("unknown time zone %q (use an IANA name such as Asia/Ho_Chi_Minh)", raw)
				}
				c.Timezone = loc
				return nil
			},
			show: func(c *Config) string {
				if c.Timezone == nil {
					return ""
				}
				return c.Timezone.String()
			},
		},
		lowerVar("GOCUA_DEFAULT_LANG", "vi",
			"Language for residents whose language is not known yet: vi or en.",
			func(c *Config) *string { return &c.DefaultLang }),
		{
			VarDoc: VarDoc{Name: "GOCUA_ADMINS",
				Description: "Comma-separated telegram:<user id> and zalo:<user id> entries who are organizers from the start."},
			parse: func(c *Config, raw string) (err error) {
				c.Admins, err = parseAdmins(raw)
				return err
			},
			show: func(c *Config) string {
				s := make([]string, len(c.Admins))
				for i, id := range c.Admins {
					s[i] = id.String()
				}
				return strings.Join(s, ",")
			},
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_TRANSCRIPT_DAYS", Default: "90",
				Description: "Days a closed ticket's transcript is kept before it is deleted (a whole number, 1 to 36500)."},
			parse: func(c *Config, raw string) error {
				n, err := strconv.Atoi(raw)
				if err != nil {
					return fmt.Errorf("%q is not a whole number of days", raw)
				}
				c.TranscriptDays = n
				return nil
			},
			show: func(c *Config) string { return strconv.Itoa(c.TranscriptDays) },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_VOLUNTEER_HOURS",
				Description: "When volunteers are on duty, in GOCUA_TIMEZONE, e.g. \"T2-T6 07:30-11:30,13:30-17:00; T7 07:30-11:30\" (T2…T7, CN or Mon…Sun); unset: always. Outside these hours residents are told when someone will answer."},
			parse: func(c *Config, raw string) error {
				h, err := ParseHours(raw, c.Timezone)
				if err != nil {
					return err
				}
				c.VolunteerHours = h
				return nil
			},
			show: func(c *Config) string { return c.VolunteerHours.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_SLA_UNCLAIMED", Default: "10m",
				Description: "A ticket nobody took for this long is recalled in the volunteers' group and to the organizers."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil {
					return fmt.Errorf("%q is not a duration (write it like 10m or 1h30m)", raw)
				}
				c.SLA.Unclaimed = d
				return nil
			},
			show: func(c *Config) string { return c.SLA.Unclaimed.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_SLA_SILENT_VOLUNTEER", Default: "15m",
				Description: "An assigned ticket whose resident has had no answer for this long goes back to the queue."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil {
					return fmt.Errorf("%q is not a duration (write it like 10m or 1h30m)", raw)
				}
				c.SLA.SilentVolunteer = d
				return nil
			},
			show: func(c *Config) string { return c.SLA.SilentVolunteer.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_SLA_SILENT_RESIDENT", Default: "30m",
				Description: "A resident who has not answered the volunteer for this long is taken to have left: the ticket closes as abandoned."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil {
					return fmt.Errorf("%q is not a duration (write it like 10m or 1h30m)", raw)
				}
				c.SLA.SilentResident = d
				return nil
			},
			show: func(c *Config) string { return c.SLA.SilentResident.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_QUIET_HOURS", Default: "21:00-07:00",
				Description: "Daily hours, in GOCUA_TIMEZONE, in which no broadcast or reminder is sent (what falls due waits until they end); off for none."},
			parse: func(c *Config, raw string) error {
				from, to, err := parseWindow(raw)
				if err != nil {
					return err
				}
				c.Broadcast.QuietFrom, c.Broadcast.QuietTo = from, to
				return nil
			},
			show: func(c *Config) string { return showWindow(c.Broadcast.QuietFrom, c.Broadcast.QuietTo) },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_BROADCAST_GRACE", Default: "6h",
				Description: "A one-off broadcast whose time passed while gocua was down is still sent at start if it is at most this late; later ones are marked missed."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil || d < 0 {
					return fmt.Errorf("%q is not a duration (write it like 6h or 30m)", raw)
				}
				c.Broadcast.Grace = d
				return nil
			},
			show: func(c *Config) string { return c.Broadcast.Grace.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_STATE_TTL", Default: "720h",
				Description: "How long an idle conversation's state is kept, as a Go duration (e.g. 720h for 30 days)."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil {
					return fmt.Errorf("%q is not a duration (write it like 720h or 90m)", raw)
				}
				c.StateTTL = d
				return nil
			},
			show: func(c *Config) string { return c.StateTTL.String() },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_WEBCHAT_ORIGINS",
				Description: "Comma-separated origins (scheme://host[:port]) of web pages allowed to embed the web chat."},
			parse: func(c *Config, raw string) error {
				c.WebChat.Origins = nil
				for o := range strings.SplitSeq(raw, ",") {
					if o = strings.ToLower(strings.TrimRight(strings.TrimSpace(o), "/")); o != "" && !slices.Contains(c.WebChat.Origins, o) {
						c.WebChat.Origins = append(c.WebChat.Origins, o)
					}
				}
				return nil
			},
			show: func(c *Config) string { return strings.Join(c.WebChat.Origins, ",") },
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_LOG_LEVEL", Default: "info",
				Description: "Least important log records written: debug, info, warn or error."},
			parse: func(c *Config, raw string) error {
				switch strings.ToLower(raw) {
				case "debug":
					c.Log.Level = slog.LevelDebug
				case "info":
					c.Log.Level = slog.LevelInfo
				case "warn", "warning":
					c.Log.Level = slog.LevelWarn
				case "error":
					c.Log.Level = slog.LevelError
				default:
					return fmt.Errorf("%q is not a log level (use debug, info, warn or error)", raw)
				}
				return nil
			},
			show: func(c *Config) string { return strings.ToLower(c.Log.Level.String()) },
		},
		lowerVar("GOCUA_LOG_FORMAT", "text",
			"Log format: text or json.",
			func(c *Config) *string { return &c.Log.Format }),

		secretVar("GOCUA_TELEGRAM_TOKEN",
			"Bot token from @BotFather (<digits>:<35 characters>); setting it turns Telegram on.",
			func(c *Config) *Secret { return &c.Telegram.Token }),
		secretVar("GOCUA_TELEGRAM_WEBHOOK_SECRET",
			"Secret Telegram sends with every webhook call (1–256 of A-Z a-z 0-9 _ -); required with the token.",
			func(c *Config) *Secret { return &c.Telegram.WebhookSecret }),
		urlVar("GOCUA_TELEGRAM_API_URL", "https://api.telegram.org",
			"Bot API server; point it at a self-hosted Bot API server or a test server.",
			func(c *Config) *string { return &c.Telegram.APIURL }),
		{
			VarDoc: VarDoc{Name: "GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID",
				Description: "Chat id of the volunteers' Telegram group (negative for groups)."},
			parse: func(c *Config, raw string) error {
				n, err := strconv.ParseInt(raw, 10, 64)
				if err != nil {
					return fmt.Errorf("%q is not a chat id (a whole number, negative for groups)", raw)
				}
				c.Telegram.VolunteerChatID = n
				return nil
			},
			show: func(c *Config) string {
				if c.Telegram.VolunteerChatID == 0 {
					return ""
				}
				return strconv.FormatInt(c.Telegram.VolunteerChatID, 10)
			},
		},
		{
			VarDoc: VarDoc{Name: "GOCUA_TELEGRAM_RATE", Default: "25",
				Description: "Messages per second sent to Telegram overall (above 0; Telegram allows about 30). At most 1000 with api.telegram.org; up to 1000000 when GOCUA_TELEGRAM_API_URL is a self-hosted Bot API server or a load test's. Each chat still gets at most 1 a second."},
			parse: func(c *Config, raw string) error {
				r, err := strconv.ParseFloat(raw, 64)
				if err != nil {
					return fmt.Errorf("%q is not a number of messages per second", raw)
				}
				c.Telegram.Rate = r
				return nil
			},
			show: func(c *Config) string { return strconv.FormatFloat(c.Telegram.Rate, 'g', -1, 64) },
		},

		{
			VarDoc: VarDoc{Name: "GOCUA_TELEGRAM_PAID_BROADCAST", Default: "false",
				Description: "true lets broadcasts created with --paid use Telegram's paid broadcasts (faster than 30 a second, charged in Stars; enable them in @BotFather first)."},
			parse: func(c *Config, raw string) error {
				b, err := strconv.ParseBool(raw)
				if err != nil {
					return fmt.Errorf("%q is not true or false", raw)
				}
				c.Telegram.PaidBroadcast = b
				return nil
			},
			show: func(c *Config) string { return strconv.FormatBool(c.Telegram.PaidBroadcast) },
		},
		secretVar("GOCUA_ZALO_BOT_TOKEN",
			"Zalo Bot Platform token (<digits>:<secret>); setting it turns the Zalo bot on.",
			func(c *Config) *Secret { return &c.ZaloBot.Token }),
		secretVar("GOCUA_ZALO_BOT_WEBHOOK_SECRET",
			"Secret Zalo sends with every webhook call (8–256 characters); required with the token.",
			func(c *Config) *Secret { return &c.ZaloBot.WebhookSecret }),
		urlVar("GOCUA_ZALO_BOT_API_URL", "https://bot-api.zaloplatforms.com",
			"Zalo Bot Platform API server.",
			func(c *Config) *string { return &c.ZaloBot.APIURL }),

		stringVar("GOCUA_ZALO_OA_APP_ID", "",
			"Id of the Zalo app linked to the Official Account; setting any Zalo OA credential requires all four (app id, app secret, secret key, refresh token).",
			func(c *Config) *string { return &c.ZaloOA.AppID }),
		secretVar("GOCUA_ZALO_OA_APP_SECRET",
			"Secret key of that Zalo app (used for OAuth).",
			func(c *Config) *Secret { return &c.ZaloOA.AppSecret }),
		secretVar("GOCUA_ZALO_OA_SECRET_KEY",
			"OA secret key (checks the X-ZEvent-Signature of webhook calls).",
			func(c *Config) *Secret { return &c.ZaloOA.SecretKey }),
		secretVar("GOCUA_ZALO_OA_REFRESH_TOKEN",
			"OAuth refresh token to start from (Zalo replaces it on every refresh).",
			func(c *Config) *Secret { return &c.ZaloOA.RefreshToken }),
		urlVar("GOCUA_ZALO_OA_API_URL", "https://openapi.zalo.me",
			"Zalo OA API server.",
			func(c *Config) *string { return &c.ZaloOA.APIURL }),
		urlVar("GOCUA_ZALO_OA_OAUTH_URL", "https://oauth.zaloapp.com",
			"Zalo OAuth server.",
			func(c *Config) *string { return &c.ZaloOA.OAuthURL }),
		{
			VarDoc: VarDoc{Name: "GOCUA_ZALO_OA_TAKEOVER_QUIET", Default: "30m",
				Description: "After someone answers a resident from Zalo OA Manager, the bot keeps quiet in that conversation this long (a command or a button tap from the resident ends it sooner)."},
			parse: func(c *Config, raw string) error {
				d, err := time.ParseDuration(raw)
				if err != nil || d <= 0 {
					return fmt.Errorf("%q is not a positive duration (write it like 30m or 2h)", raw)
				}
				c.ZaloOA.TakeoverQuiet = d
				return nil
			},
			show: func(c *Config) string { return c.ZaloOA.TakeoverQuiet.String() },
		},
	}
}

var (
	telegramUserID = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	zaloUserID     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// parseAdmins parses GOCUA_ADMINS: comma-separated channel:id entries; empty
// entries are skipped and duplicates dropped.
func parseAdmins(raw string) ([]Identity, error) {
	var (
		ids []Identity
		bad []string
	)
	for item := range strings.SplitSeq(raw, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		ch, id, _ := strings.Cut(item, ":")
		ch, id = strings.ToLower(strings.TrimSpace(ch)), strings.TrimSpace(id)
		switch {
		case ch == "telegram" && telegramUserID.MatchString(id):
		case ch == "zalo" && zaloUserID.MatchString(id):
		default:
			bad = append(bad, strconv.Quote(item))
			continue
		}
		if ident := (Identity{Channel: ch, ID: id}); !slices.Contains(ids, ident) {
			ids = append(ids, ident)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%s: each entry must be telegram:<numeric user id> or zalo:<user id>", strings.Join(bad, ", "))
	}
	return ids, nil
}

// parseWindow reads a daily window "21:00-07:00" ("off": none, returned
// as two equal times).
func parseWindow(raw string) (from, to time.Duration, err error) {
	raw = strings.TrimSpace(raw)
	if strings.EqualFold(raw, "off") {
		return 0, 0, nil
	}
	bad := fmt.Errorf("%q: want HH:MM-HH:MM, e.g. 21:00-07:00, or off", raw)
	a, b, ok := strings.Cut(raw, "-")
	if !ok {
		return 0, 0, bad
	}
	clock := func(s string) (time.Duration, bool) {
		t, err := time.Parse("15:04", strings.TrimSpace(s))
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, err == nil
	}
	from, ok1 := clock(a)
	to, ok2 := clock(b)
	if !ok1 || !ok2 {
		return 0, 0, bad
	}
	return from, to, nil
}

func showWindow(from, to time.Duration) string {
	if from == to {
		return "off"
	}
	f := func(d time.Duration) string { return fmt.Sprintf("%02d:%02d", int(d.Hours()), int(d.Minutes())%60) }
	return f(from) + "-" + f(to)
}
