package config

import (
	"cmp"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// env is a map-backed getenv.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// with returns a copy of e with kv (name, value, name, value…) set.
func (e env) with(kv ...string) env {
	out := make(env, len(e)+len(kv)/2)
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

const (
	tgToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
	tgSecret = "s3cret_Webhook-value"
)

func mustLoad(t *testing.T, e env) Config {
	t.Helper()
	c, err := Load(e.get)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoad_Defaults(t *testing.T) {
	c := mustLoad(t, env{})
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate on defaults: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"HTTP.Addr", c.HTTP.Addr, ":8080"},
		{"PublicURL", c.PublicURL, ""},
		{"DatabaseURL", c.DatabaseURL, Secret("")},
		{"RedisURL", c.RedisURL, Secret("")},
		{"DataDir", c.DataDir, "./data"},
		{"FlowsDir", c.FlowsDir, ""},
		{"Broadcast", c.Broadcast, Broadcast{QuietFrom: 21 * time.Hour, QuietTo: 7 * time.Hour, Grace: 6 * time.Hour}},
		{"Telegram.PaidBroadcast", c.Telegram.PaidBroadcast, false},
		{"AreasFile", c.AreasFile, ""},
		{"Timezone", c.Timezone.String(), "Asia/Ho_Chi_Minh"},
		{"DefaultLang", c.DefaultLang, "vi"},
		{"Admins", len(c.Admins), 0},
		{"TranscriptDays", c.TranscriptDays, 90},
		{"StateTTL", c.StateTTL, 720 * time.Hour},
		{"WebChat.Origins", len(c.WebChat.Origins), 0},
		{"Log.Level", c.Log.Level, slog.LevelInfo},
		{"Log.Format", c.Log.Format, "text"},
		{"Telegram.Enabled", c.Telegram.Enabled(), false},
		{"Telegram.APIURL", c.Telegram.APIURL, "https://api.telegram.org"},
		{"Telegram.VolunteerChatID", c.Telegram.VolunteerChatID, int64(0)},
		{"Telegram.Rate", c.Telegram.Rate, 25.0},
		{"ZaloBot.Enabled", c.ZaloBot.Enabled(), false},
		{"ZaloBot.APIURL", c.ZaloBot.APIURL, "https://bot-api.zaloplatforms.com"},
		{"ZaloOA.Enabled", c.ZaloOA.Enabled(), false},
		{"ZaloOA.APIURL", c.ZaloOA.APIURL, "https://openapi.zalo.me"},
		{"ZaloOA.OAuthURL", c.ZaloOA.OAuthURL, "https://oauth.zaloapp.com"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoad_AllSet(t *testing.T) {
	e := env{
		"GOCUA_HTTP_ADDR":                  "127.0.0.1:9000",
		"GOCUA_PUBLIC_URL":                 "https://bot.example.gov.vn/",
		"GOCUA_DATABASE_URL":               "postgres://gocua:pw@db:5432/gocua",
		"GOCUA_REDIS_URL":                  "rediss://:pw@cache:6380/2",
		"GOCUA_DATA_DIR":                   "/var/lib/gocua",
		"GOCUA_FLOWS_DIR":                  "/etc/gocua/flows",
		"GOCUA_AREAS_FILE":                 "/etc/gocua/areas.yaml",
		"GOCUA_TIMEZONE":                   "UTC",
		"GOCUA_DEFAULT_LANG":               " EN ",
		"GOCUA_ADMINS":                     "telegram:42, zalo:abc_1",
		"GOCUA_TRANSCRIPT_DAYS":            "30",
		"GOCUA_SLA_UNCLAIMED":              "5m",
		"GOCUA_SLA_SILENT_VOLUNTEER":       "20m",
		"GOCUA_SLA_SILENT_RESIDENT":        "1h",
		"GOCUA_STATE_TTL":                  "48h",
		"GOCUA_WEBCHAT_ORIGINS":            "https://Xa-ABC.gov.vn/, http://localhost:3000",
		"GOCUA_LOG_LEVEL":                  "DEBUG",
		"GOCUA_LOG_FORMAT":                 "json",
		"GOCUA_TELEGRAM_TOKEN":             tgToken,
		"GOCUA_TELEGRAM_WEBHOOK_SECRET":    tgSecret,
		"GOCUA_TELEGRAM_API_URL":           "http://127.0.0.1:8081/",
		"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID": "-1001234567890",
		"GOCUA_TELEGRAM_RATE":              "2.5",
		"GOCUA_ZALO_BOT_TOKEN":             "987654321:zalo-bot-secret-token",
		"GOCUA_ZALO_BOT_WEBHOOK_SECRET":    "zalo-webhook-secret",
		"GOCUA_ZALO_BOT_API_URL":           "http://127.0.0.1:8082",
		"GOCUA_ZALO_OA_APP_ID":             "1234567890",
		"GOCUA_ZALO_OA_APP_SECRET":         "oa-app-secret",
		"GOCUA_ZALO_OA_SECRET_KEY":         "oa-secret-key",
		"GOCUA_ZALO_OA_REFRESH_TOKEN":      "oa-refresh-token",
		"GOCUA_ZALO_OA_API_URL":            "http://127.0.0.1:8083",
		"GOCUA_ZALO_OA_OAUTH_URL":          "http://127.0.0.1:8084",
		"GOCUA_QUIET_HOURS":                "22:00-06:30",
		"GOCUA_BROADCAST_GRACE":            "2h",
		"GOCUA_TELEGRAM_PAID_BROADCAST":    "true",
	}
	c := mustLoad(t, e)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := Config{
		HTTP:           HTTP{Addr: "127.0.0.1:9000"},
		PublicURL:      "https://bot.example.gov.vn",
		DatabaseURL:    "postgres://gocua:pw@db:5432/gocua",
		RedisURL:       "rediss://:pw@cache:6380/2",
		DataDir:        "/var/lib/gocua",
		FlowsDir:       "/etc/gocua/flows",
		AreasFile:      "/etc/gocua/areas.yaml",
		Timezone:       time.UTC,
		DefaultLang:    "en",
		Admins:         []Identity{{"telegram", "42"}, {"zalo", "abc_1"}},
		TranscriptDays: 30,
		SLA:            SLA{Unclaimed: 5 * time.Minute, SilentVolunteer: 20 * time.Minute, SilentResident: time.Hour},
		StateTTL:       48 * time.Hour,
		Broadcast:      Broadcast{QuietFrom: 22 * time.Hour, QuietTo: 6*time.Hour + 30*time.Minute, Grace: 2 * time.Hour},
		WebChat:        WebChat{Origins: []string{"https://xa-abc.gov.vn", "http://localhost:3000"}},
		Log:            Log{Level: slog.LevelDebug, Format: "json"},
		Telegram: Telegram{
			Token: tgToken, WebhookSecret: tgSecret, APIURL: "http://127.0.0.1:8081",
			VolunteerChatID: -1001234567890, Rate: 2.5, PaidBroadcast: true,
		},
		ZaloBot: ZaloBot{Token: "987654321:zalo-bot-secret-token", WebhookSecret: "zalo-webhook-secret", APIURL: "http://127.0.0.1:8082"},
		ZaloOA: ZaloOA{
			AppID: "1234567890", AppSecret: "oa-app-secret", SecretKey: "oa-secret-key", RefreshToken: "oa-refresh-token",
			APIURL: "http://127.0.0.1:8083", OAuthURL: "http://127.0.0.1:8084", TakeoverQuiet: 30 * time.Minute,
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %#v\nwant %#v", c, want)
	}
	if !c.Telegram.Enabled() || !c.ZaloBot.Enabled() || !c.ZaloOA.Enabled() {
		t.Errorf("Enabled() = %v, %v, %v; want all true", c.Telegram.Enabled(), c.ZaloBot.Enabled(), c.ZaloOA.Enabled())
	}
}

// The names in the public contract, plus GOCUA_STATE_TTL and
// GOCUA_VOLUNTEER_HOURS.
var contract = []string{
	"GOCUA_HTTP_ADDR", "GOCUA_PUBLIC_URL", "GOCUA_DATABASE_URL", "GOCUA_REDIS_URL", "GOCUA_DATA_DIR",
	"GOCUA_FLOWS_DIR", "GOCUA_TIMEZONE", "GOCUA_DEFAULT_LANG", "GOCUA_ADMINS", "GOCUA_AREAS_FILE",
	"GOCUA_TRANSCRIPT_DAYS", "GOCUA_WEBCHAT_ORIGINS", "GOCUA_LOG_LEVEL", "GOCUA_LOG_FORMAT",
	"GOCUA_TELEGRAM_TOKEN", "GOCUA_TELEGRAM_WEBHOOK_SECRET", "GOCUA_TELEGRAM_API_URL",
	"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", "GOCUA_TELEGRAM_RATE",
	"GOCUA_ZALO_BOT_TOKEN", "GOCUA_ZALO_BOT_WEBHOOK_SECRET", "GOCUA_ZALO_BOT_API_URL",
	"GOCUA_ZALO_OA_APP_ID", "GOCUA_ZALO_OA_APP_SECRET", "GOCUA_ZALO_OA_SECRET_KEY",
	"GOCUA_ZALO_OA_REFRESH_TOKEN", "GOCUA_ZALO_OA_API_URL", "GOCUA_ZALO_OA_OAUTH_URL",
	"GOCUA_STATE_TTL", "GOCUA_VOLUNTEER_HOURS",
	"GOCUA_SLA_UNCLAIMED", "GOCUA_SLA_SILENT_VOLUNTEER", "GOCUA_SLA_SILENT_RESIDENT",
	"GOCUA_QUIET_HOURS", "GOCUA_BROADCAST_GRACE", "GOCUA_TELEGRAM_PAID_BROADCAST",
	"GOCUA_ZALO_OA_TAKEOVER_QUIET",
}

// secretNames are the variables with a _FILE twin.
var secretNames = []string{
	"GOCUA_DATABASE_URL", "GOCUA_REDIS_URL", "GOCUA_TELEGRAM_TOKEN", "GOCUA_TELEGRAM_WEBHOOK_SECRET",
	"GOCUA_ZALO_BOT_TOKEN", "GOCUA_ZALO_BOT_WEBHOOK_SECRET", "GOCUA_ZALO_OA_APP_SECRET",
	"GOCUA_ZALO_OA_SECRET_KEY", "GOCUA_ZALO_OA_REFRESH_TOKEN",
}

func TestVars_MatchContract(t *testing.T) {
	var names, secrets []string
	for _, v := range Vars() {
		if v.Description == "" {
			t.Errorf("%s has no description", v.Name)
		}
		if strings.Contains(v.Description, "\n") || strings.Contains(v.Description, "|") {
			t.Errorf("%s: description must be one table-safe line", v.Name)
		}
		names = append(names, v.Name)
		if v.Secret {
			secrets = append(secrets, v.Name)
		}
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(contract))
	if !slices.Equal(names, want) {
		t.Errorf("Vars() names:\n got %v\nwant %v", names, want)
	}
	slices.Sort(secrets)
	if want := slices.Sorted(slices.Values(secretNames)); !slices.Equal(secrets, want) {
		t.Errorf("secret vars:\n got %v\nwant %v", secrets, want)
	}
}

func TestLoad_ReadsEveryVar(t *testing.T) {
	read := map[string]bool{}
	if _, err := Load(func(k string) string { read[k] = true; return "" }); err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars() {
		if !read[v.Name] {
			t.Errorf("Load did not read %s", v.Name)
		}
		if v.Secret && !read[v.Name+"_FILE"] {
			t.Errorf("Load did not read %s_FILE", v.Name)
		}
		delete(read, v.Name)
		delete(read, v.Name+"_FILE")
	}
	for k := range read {
		t.Errorf("Load read %s, which Vars() does not document", k)
	}
}

func TestLoad_ParseErrors(t *testing.T) {
	tests := []struct {
		name, value string
		quoted      string // the part of value the error must quote; "" means all of it
	}{
		{"GOCUA_TIMEZONE", "Mars/Olympus_Mons", ""},
		{"GOCUA_TRANSCRIPT_DAYS", "ninety", ""},
		{"GOCUA_VOLUNTEER_HOURS", "T2-T6 9h-17h", "9h"},
		{"GOCUA_SLA_UNCLAIMED", "ten minutes", ""},
		{"GOCUA_TRANSCRIPT_DAYS", "1.5", ""},
		{"GOCUA_STATE_TTL", "720", ""},
		{"GOCUA_STATE_TTL", "a month", ""},
		{"GOCUA_LOG_LEVEL", "verbose", ""},
		{"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", "@volunteers", ""},
		{"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", "99999999999999999999", ""},
		{"GOCUA_TELEGRAM_RATE", "fast", ""},
		{"GOCUA_ADMINS", "telegram:42,facebook:7", "facebook:7"},
		{"GOCUA_ADMINS", "telegram:abc", ""},
		{"GOCUA_ADMINS", "zalo:", ""},
		{"GOCUA_ADMINS", "42", ""},
		{"GOCUA_QUIET_HOURS", "21h-7h", ""},
		{"GOCUA_QUIET_HOURS", "21:00", ""},
		{"GOCUA_QUIET_HOURS", "25:00-07:00", ""},
		{"GOCUA_BROADCAST_GRACE", "-1h", ""},
		{"GOCUA_BROADCAST_GRACE", "all day", ""},
		{"GOCUA_TELEGRAM_PAID_BROADCAST", "yes please", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			_, err := Load(env{tt.name: tt.value}.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			quoted := tt.quoted
			if quoted == "" {
				quoted = tt.value
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.name+": ") || !strings.Contains(msg, strconv.Quote(quoted)) {
				t.Errorf("error %q should name %s and quote %q", msg, tt.name, quoted)
			}
		})
	}
}

func TestLoad_ReportsEveryParseError(t *testing.T) {
	_, err := Load(env{
		"GOCUA_TIMEZONE":      "Nowhere/Here",
		"GOCUA_LOG_LEVEL":     "loud",
		"GOCUA_TELEGRAM_RATE": "x",
	}.get)
	if err == nil {
		t.Fatal("Load succeeded, want errors")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d error lines, want 3:\n%v", len(lines), err)
	}
	for i, name := range []string{"GOCUA_TIMEZONE", "GOCUA_LOG_LEVEL", "GOCUA_TELEGRAM_RATE"} {
		if !strings.HasPrefix(lines[i], name+":") {
			t.Errorf("line %d = %q, want it to start with %s:", i, lines[i], name)
		}
	}
}

func TestLoad_Admins(t *testing.T) {
	tests := []struct {
		raw  string
		want []Identity
	}{
		{"", nil},
		{" , ", nil},
		{"telegram:42", []Identity{{"telegram", "42"}}},
		{"Telegram:42 , zalo:8812345678901234567,", []Identity{{"telegram", "42"}, {"zalo", "8812345678901234567"}}},
		{"zalo:AbC-9_x,telegram:7,zalo:AbC-9_x", []Identity{{"zalo", "AbC-9_x"}, {"telegram", "7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			c := mustLoad(t, env{"GOCUA_ADMINS": tt.raw})
			if !slices.Equal(c.Admins, tt.want) {
				t.Errorf("Admins = %v, want %v", c.Admins, tt.want)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
	if got := (Identity{"telegram", "42"}).String(); got != "telegram:42" {
		t.Errorf("Identity.String() = %q", got)
	}
}

func TestLoad_Timezone(t *testing.T) {
	at := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		raw        string
		wantOffset int // seconds east of UTC on 2026-01-15
	}{
		{"", 7 * 3600}, // default Asia/Ho_Chi_Minh
		{"Asia/Ho_Chi_Minh", 7 * 3600},
		{"Asia/Bangkok", 7 * 3600},
		{"UTC", 0},
		{"Europe/Berlin", 3600},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			c := mustLoad(t, env{"GOCUA_TIMEZONE": tt.raw})
			if _, off := at.In(c.Timezone).Zone(); off != tt.wantOffset {
				t.Errorf("offset = %d, want %d", off, tt.wantOffset)
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_SecretFiles(t *testing.T) {
	for _, name := range secretNames {
		t.Run(name, func(t *testing.T) {
			const value = "from-a-file-value"
			c := mustLoad(t, env{name + "_FILE": writeFile(t, "\n  "+value+"\n")})
			if got := c.String(); !strings.Contains(got, name+"=") {
				t.Fatalf("String() does not list %s", name)
			}
			var found bool
			for _, s := range []Secret{c.DatabaseURL, c.RedisURL, c.Telegram.Token, c.Telegram.WebhookSecret,
				c.ZaloBot.Token, c.ZaloBot.WebhookSecret, c.ZaloOA.AppSecret, c.ZaloOA.SecretKey, c.ZaloOA.RefreshToken} {
				if s.Reveal() == value {
					found = true
				}
			}
			if !found {
				t.Errorf("%s_FILE: the trimmed file content is in no secret field", name)
			}
		})
	}

	t.Run("fills the right field", func(t *testing.T) {
		c := mustLoad(t, env{"GOCUA_TELEGRAM_TOKEN_FILE": writeFile(t, tgToken+"\n")})
		if c.Telegram.Token.Reveal() != tgToken {
			t.Errorf("Telegram.Token = %q", c.Telegram.Token.Reveal())
		}
	})

	errCases := []struct {
		name string
		e    env
		want []string
	}{
		{"both set", env{"GOCUA_TELEGRAM_TOKEN": tgToken, "GOCUA_TELEGRAM_TOKEN_FILE": writeFile(t, tgToken)},
			[]string{"GOCUA_TELEGRAM_TOKEN and GOCUA_TELEGRAM_TOKEN_FILE are both set"}},
		{"missing file", env{"GOCUA_REDIS_URL_FILE": "/nonexistent/redis-url"},
			[]string{"GOCUA_REDIS_URL_FILE", "/nonexistent/redis-url"}},
		{"empty file", env{"GOCUA_ZALO_OA_SECRET_KEY_FILE": writeFile(t, " \n")},
			[]string{"GOCUA_ZALO_OA_SECRET_KEY_FILE", "is empty"}},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.e.get)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tgToken) {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}

	t.Run("non-secret has no twin", func(t *testing.T) {
		c := mustLoad(t, env{"GOCUA_HTTP_ADDR_FILE": writeFile(t, ":9999")})
		if c.HTTP.Addr != ":8080" {
			t.Errorf("HTTP.Addr = %q, want the default", c.HTTP.Addr)
		}
	})
}

func TestLoad_QuietHoursOff(t *testing.T) {
	c := mustLoad(t, env{"GOCUA_QUIET_HOURS": "off"})
	if c.Broadcast.QuietFrom != c.Broadcast.QuietTo {
		t.Fatalf("off: %+v", c.Broadcast)
	}
	if got := showWindow(c.Broadcast.QuietFrom, c.Broadcast.QuietTo); got != "off" {
		t.Fatalf("shown as %q", got)
	}
	c = mustLoad(t, env{"GOCUA_QUIET_HOURS": " 22:15 - 05:00 "})
	if got := showWindow(c.Broadcast.QuietFrom, c.Broadcast.QuietTo); got != "22:15-05:00" {
		t.Fatalf("shown as %q", got)
	}
}

// GOCUA_REDIS_URL with addr= parameters names a Redis Cluster
// (redis.ParseClusterURL's form), with master_name= a master through Redis
// Sentinel (redis.ParseFailoverURL's): a good one loads and validates as it
// is; a malformed one is refused by Load, naming the variable, the kind of
// URL and the reason, never quoting the password.
func TestLoad_RedisURL(t *testing.T) {
	const pw = "clusterPW-9f3"
	tests := []struct {
		name, url string
		want      string // "" for a URL that loads; else what the error must say
		kind      string // what the error says the URL is ("": a Redis Cluster URL)
	}{
		{"three nodes", "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", "", ""},
		{"tls and password", "rediss://default:" + pw + "@cache-1:6380?addr=cache-2:6380", "", ""},
		{"database 0", "redis://h1:7000/0?addr=h2:7000&max_redirects=3", "", ""},
		{"reads from replicas", "redis://:" + pw + "@h1:7000?addr=h2:7000&read_only=true", "cannot send commands to replicas (read_only=true)", ""},
		{"routed by latency", "redis://:" + pw + "@h1:7000?addr=h2:7000&route_by_latency=true&route_randomly=1", "(route_by_latency=true, route_randomly=true)", ""},
		{"replicas switched off", "redis://h1:7000?addr=h2:7000&read_only=false", "", ""},
		{"single node", "redis://:" + pw + "@cache:6379/3", "", ""},
		{"database", "redis://:" + pw + "@h1:7000/2?addr=h2:7000", `cannot choose database "2"`, ""},
		{"addr without port", "redis://:" + pw + "@h1:7000?addr=h2", "unable to parse addr param: h2", ""},
		{"empty addr", "redis://:" + pw + "@h1:7000?addr=", "unable to parse addr param", ""},
		{"unknown option", "redis://:" + pw + "@h1:7000?addr=h2:7000&db=1", "unexpected option: db", ""},
		{"bad option value", "redis://:" + pw + "@h1:7000?addr=h2:7000&max_redirects=many", "max_redirects", ""},
		{"scheme", "http://:" + pw + "@h1:7000?addr=h2:7000", "invalid URL scheme", ""},
		{"three sentinels", "redis://:" + pw + "@10.0.0.1:26379/2?master_name=gocua&addr=10.0.0.2:26379&addr=10.0.0.3:26379", "", ""},
		{"one sentinel, tls", "rediss://10.0.0.1:26379?master_name=gocua&password=" + pw, "", ""},
		{"sentinel without a name", "redis://:" + pw + "@10.0.0.1:26379?master_name=", "needs the master's name", "Sentinel"},
		{"sentinel option", "redis://:" + pw + "@10.0.0.1:26379?master_name=gocua&colour=blue", "unexpected option: colour", "Sentinel"},
		{"sentinel to a replica", "redis://:" + pw + "@10.0.0.1:26379?master_name=gocua&replica_only=true", "cannot send commands to replicas (replica_only=true)", "Sentinel"},
		{"sentinel routed randomly", "redis://:" + pw + "@10.0.0.1:26379?master_name=gocua&route_randomly=true", "(route_randomly=true)", "Sentinel"},
		{"sentinel database", "redis://:" + pw + "@10.0.0.1:26379/x?master_name=gocua", "invalid database number", "Sentinel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env{"GOCUA_REDIS_URL": tt.url}.get)
			if tt.want == "" {
				if err == nil {
					err = c.Validate()
				}
				if err != nil {
					t.Fatalf("%s: %v", tt.url, err)
				}
				if got := c.RedisURL.Reveal(); got != tt.url {
					t.Errorf("RedisURL = %q, want %q", got, tt.url)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error saying %q", tt.url, tt.want)
			}
			msg := err.Error()
			kind := cmp.Or(tt.kind, "Redis Cluster")
			if !strings.HasPrefix(msg, "GOCUA_REDIS_URL: ") || !strings.Contains(msg, kind) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q should name GOCUA_REDIS_URL, say it is about a %s URL and say %q", msg, kind, tt.want)
			}
			if strings.Contains(msg, pw) {
				t.Errorf("error %q shows the password", msg)
			}
		})
	}
}
