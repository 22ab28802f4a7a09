package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	telegram := env{"GOCUA_TELEGRAM_TOKEN": tgToken, "GOCUA_TELEGRAM_WEBHOOK_SECRET": tgSecret}
	oa := env{
		"GOCUA_ZALO_OA_APP_ID": "123", "GOCUA_ZALO_OA_APP_SECRET": "app-secret",
		"GOCUA_ZALO_OA_SECRET_KEY": "secret-key", "GOCUA_ZALO_OA_REFRESH_TOKEN": "refresh-token",
	}
	tests := []struct {
		name string
		e    env
		want []string // substrings of the error, each on its own line; none: valid
	}{
		{"defaults", env{}, nil},
		{"telegram", telegram, nil},
		{"telegram without secret", env{"GOCUA_TELEGRAM_TOKEN": tgToken},
			[]string{"GOCUA_TELEGRAM_WEBHOOK_SECRET is required when GOCUA_TELEGRAM_TOKEN is set (Telegram must prove each webhook call)"}},
		{"telegram token format", telegram.with("GOCUA_TELEGRAM_TOKEN", "not-a-token"),
			[]string{"GOCUA_TELEGRAM_TOKEN does not look like a bot token"}},
		{"telegram token too short", telegram.with("GOCUA_TELEGRAM_TOKEN", "123:abc"),
			[]string{"GOCUA_TELEGRAM_TOKEN does not look like a bot token"}},
		{"telegram secret charset", telegram.with("GOCUA_TELEGRAM_WEBHOOK_SECRET", "has space!"),
			[]string{"GOCUA_TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters"}},
		{"telegram secret too long", telegram.with("GOCUA_TELEGRAM_WEBHOOK_SECRET", strings.Repeat("a", 257)),
			[]string{"GOCUA_TELEGRAM_WEBHOOK_SECRET must be 1 to 256 characters"}},
		{"telegram secret 256", telegram.with("GOCUA_TELEGRAM_WEBHOOK_SECRET", strings.Repeat("a", 256)), nil},
		{"telegram api url", env{"GOCUA_TELEGRAM_API_URL": "api.telegram.org"},
			[]string{`GOCUA_TELEGRAM_API_URL "api.telegram.org" is not an http(s) URL`}},
		{"telegram rate zero", env{"GOCUA_TELEGRAM_RATE": "0"}, []string{"GOCUA_TELEGRAM_RATE 0 is out of range"}},
		{"telegram rate negative", env{"GOCUA_TELEGRAM_RATE": "-1"}, []string{"GOCUA_TELEGRAM_RATE -1 is out of range"}},
		{"telegram rate huge", env{"GOCUA_TELEGRAM_RATE": "1000.5"}, []string{"GOCUA_TELEGRAM_RATE 1000.5 is out of range"}},
		{"telegram rate NaN", env{"GOCUA_TELEGRAM_RATE": "NaN"}, []string{"GOCUA_TELEGRAM_RATE NaN is out of range"}},
		{"telegram rate 1000", env{"GOCUA_TELEGRAM_RATE": "1000"}, nil},
		{"telegram rate huge public says how", env{"GOCUA_TELEGRAM_RATE": "5000", "GOCUA_TELEGRAM_API_URL": "https://API.Telegram.org/"},
			[]string{"GOCUA_TELEGRAM_RATE 5000 is out of range for api.telegram.org", "needs GOCUA_TELEGRAM_API_URL set to a self-hosted Bot API server"}},
		{"telegram rate self-hosted", env{"GOCUA_TELEGRAM_RATE": "50000", "GOCUA_TELEGRAM_API_URL": "http://127.0.0.1:8081"}, nil},
		{"telegram rate self-hosted max", env{"GOCUA_TELEGRAM_RATE": "1000000", "GOCUA_TELEGRAM_API_URL": "http://bot-api:8081"}, nil},
		{"telegram rate self-hosted too high", env{"GOCUA_TELEGRAM_RATE": "1e7", "GOCUA_TELEGRAM_API_URL": "http://bot-api:8081"},
			[]string{"GOCUA_TELEGRAM_RATE 1e+07 is out of range (above 0, at most 1000000"}},
		{"telegram rate self-hosted zero", env{"GOCUA_TELEGRAM_RATE": "0", "GOCUA_TELEGRAM_API_URL": "http://bot-api:8081"},
			[]string{"GOCUA_TELEGRAM_RATE 0 is out of range"}},
		{"telegram rate self-hosted Inf", env{"GOCUA_TELEGRAM_RATE": "+Inf", "GOCUA_TELEGRAM_API_URL": "http://bot-api:8081"},
			[]string{"GOCUA_TELEGRAM_RATE +Inf is out of range"}},
		{"volunteer chat", env{"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID": "-1001234567890"}, nil},

		{"public url https", env{"GOCUA_PUBLIC_URL": "https://bot.example.gov.vn"}, nil},
		{"public url trailing slash", env{"GOCUA_PUBLIC_URL": "https://bot.example.gov.vn/"}, nil},
		{"public url localhost http", env{"GOCUA_PUBLIC_URL": "http://localhost:8080"}, nil},
		{"public url loopback http", env{"GOCUA_PUBLIC_URL": "http://127.0.0.1:8080"}, nil},
		{"public url http", env{"GOCUA_PUBLIC_URL": "http://bot.example.gov.vn"},
			[]string{`GOCUA_PUBLIC_URL "http://bot.example.gov.vn" must use https`}},
		{"public url path", env{"GOCUA_PUBLIC_URL": "https://example.gov.vn/bot"},
			[]string{"GOCUA_PUBLIC_URL", "must have no path, query or fragment"}},
		{"public url query", env{"GOCUA_PUBLIC_URL": "https://example.gov.vn?x=1"},
			[]string{"GOCUA_PUBLIC_URL", "must have no path, query or fragment"}},
		{"public url relative", env{"GOCUA_PUBLIC_URL": "bot.example.gov.vn"},
			[]string{"GOCUA_PUBLIC_URL", "is not an absolute URL"}},
		{"public url user", env{"GOCUA_PUBLIC_URL": "https://u:hunter2@example.gov.vn"},
			[]string{"GOCUA_PUBLIC_URL", "must not contain a user name or password"}},

		{"database url", env{"GOCUA_DATABASE_URL": "postgresql://db/gocua"}, nil},
		{"database url scheme", env{"GOCUA_DATABASE_URL": "mysql://db/gocua"},
			[]string{"GOCUA_DATABASE_URL must be a postgres:// or postgresql:// URL"}},
		{"redis url", env{"GOCUA_REDIS_URL": "rediss://cache:6380"}, nil},
		{"redis url scheme", env{"GOCUA_REDIS_URL": "cache:6379"},
			[]string{"GOCUA_REDIS_URL must be a redis:// or rediss:// URL"}},

		{"http addr", env{"GOCUA_HTTP_ADDR": "8080"}, []string{`GOCUA_HTTP_ADDR "8080" is not host:port`}},
		{"http addr port", env{"GOCUA_HTTP_ADDR": ":http-alt"}, []string{`GOCUA_HTTP_ADDR ":http-alt" has no valid port`}},
		{"lang", env{"GOCUA_DEFAULT_LANG": "fr"}, []string{`GOCUA_DEFAULT_LANG "fr" is not supported`}},
		{"lang upper", env{"GOCUA_DEFAULT_LANG": "EN"}, nil},
		{"log format", env{"GOCUA_LOG_FORMAT": "xml"}, []string{`GOCUA_LOG_FORMAT "xml" is not supported`}},
		{"transcript days zero", env{"GOCUA_TRANSCRIPT_DAYS": "0"}, []string{"GOCUA_TRANSCRIPT_DAYS 0 is out of range"}},
		{"transcript days huge", env{"GOCUA_TRANSCRIPT_DAYS": "1000000"}, []string{"GOCUA_TRANSCRIPT_DAYS 1000000 is out of range"}},
		{"state ttl zero", env{"GOCUA_STATE_TTL": "0s"}, []string{"GOCUA_STATE_TTL 0s must be above 0"}},
		{"sla too short", env{"GOCUA_SLA_UNCLAIMED": "30s"}, []string{"GOCUA_SLA_UNCLAIMED 30s is out of range"}},
		{"sla too long", env{"GOCUA_SLA_SILENT_RESIDENT": "200h"}, []string{"GOCUA_SLA_SILENT_RESIDENT 200h0m0s is out of range"}},
		{"sla set", env{"GOCUA_SLA_SILENT_VOLUNTEER": "1h"}, nil},
		{"webchat origins", env{"GOCUA_WEBCHAT_ORIGINS": "https://a.gov.vn,http://localhost:3000"}, nil},
		{"webchat origin path", env{"GOCUA_WEBCHAT_ORIGINS": "https://a.gov.vn,https://b.gov.vn/chat"},
			[]string{`GOCUA_WEBCHAT_ORIGINS: "https://b.gov.vn/chat" is not an origin`}},
		{"webchat origin scheme", env{"GOCUA_WEBCHAT_ORIGINS": "ftp://a.gov.vn"},
			[]string{`GOCUA_WEBCHAT_ORIGINS: "ftp://a.gov.vn" is not an origin`}},
		{"webchat origin bare host", env{"GOCUA_WEBCHAT_ORIGINS": "a.gov.vn"},
			[]string{`GOCUA_WEBCHAT_ORIGINS: "a.gov.vn" is not an origin`}},
		{"webchat origin port", env{"GOCUA_WEBCHAT_ORIGINS": "https://a.gov.vn:99999"},
			[]string{`GOCUA_WEBCHAT_ORIGINS: "https://a.gov.vn:99999" has an invalid port`}},

		{"zalo bot", env{"GOCUA_ZALO_BOT_TOKEN": "123:abc-xyz", "GOCUA_ZALO_BOT_WEBHOOK_SECRET": "12345678"}, nil},
		{"zalo bot without secret", env{"GOCUA_ZALO_BOT_TOKEN": "123:abc-xyz"},
			[]string{"GOCUA_ZALO_BOT_WEBHOOK_SECRET is required when GOCUA_ZALO_BOT_TOKEN is set"}},
		{"zalo bot token format", env{"GOCUA_ZALO_BOT_TOKEN": "abc", "GOCUA_ZALO_BOT_WEBHOOK_SECRET": "12345678"},
			[]string{"GOCUA_ZALO_BOT_TOKEN does not look like a Zalo bot token"}},
		{"zalo bot secret short", env{"GOCUA_ZALO_BOT_TOKEN": "123:abc", "GOCUA_ZALO_BOT_WEBHOOK_SECRET": "1234567"},
			[]string{"GOCUA_ZALO_BOT_WEBHOOK_SECRET must be 8 to 256 characters"}},
		{"zalo bot api url", env{"GOCUA_ZALO_BOT_API_URL": "https://x.example?q=1"},
			[]string{"GOCUA_ZALO_BOT_API_URL", "must have no query"}},

		{"zalo oa", oa, nil},
		{"zalo oa only app id", env{"GOCUA_ZALO_OA_APP_ID": "123"}, []string{
			"GOCUA_ZALO_OA_APP_SECRET is required when any Zalo OA credential is set",
			"GOCUA_ZALO_OA_SECRET_KEY is required",
			"GOCUA_ZALO_OA_REFRESH_TOKEN is required",
		}},
		{"zalo oa missing refresh token", oa.with("GOCUA_ZALO_OA_REFRESH_TOKEN", ""),
			[]string{"GOCUA_ZALO_OA_REFRESH_TOKEN is required"}},
		{"zalo oa only secret key", env{"GOCUA_ZALO_OA_SECRET_KEY": "k"}, []string{
			"GOCUA_ZALO_OA_APP_ID is required",
			"GOCUA_ZALO_OA_APP_SECRET is required",
			"GOCUA_ZALO_OA_REFRESH_TOKEN is required",
		}},
		{"zalo oa urls", env{"GOCUA_ZALO_OA_API_URL": "openapi.zalo.me", "GOCUA_ZALO_OA_OAUTH_URL": "ws://oauth"},
			[]string{"GOCUA_ZALO_OA_API_URL", "GOCUA_ZALO_OA_OAUTH_URL"}},

		{"every problem at once", env{
			"GOCUA_TELEGRAM_TOKEN": tgToken, "GOCUA_DEFAULT_LANG": "fr", "GOCUA_PUBLIC_URL": "http://x.vn",
			"GOCUA_REDIS_URL": "memcached://x",
		}, []string{
			"GOCUA_PUBLIC_URL", "GOCUA_REDIS_URL", "GOCUA_DEFAULT_LANG", "GOCUA_TELEGRAM_WEBHOOK_SECRET",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.e)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
			for _, l := range lines {
				if !strings.Contains(l, "GOCUA_") {
					t.Errorf("problem %q names no variable", l)
				}
			}
		})
	}
}

func TestValidate_ZeroConfig(t *testing.T) {
	// A Config not built by Load is checked too: nothing is silently assumed.
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("Validate of a zero Config succeeded")
	}
	for _, name := range []string{"GOCUA_HTTP_ADDR", "GOCUA_DATA_DIR", "GOCUA_TIMEZONE", "GOCUA_DEFAULT_LANG",
		"GOCUA_TRANSCRIPT_DAYS", "GOCUA_STATE_TTL", "GOCUA_LOG_FORMAT", "GOCUA_TELEGRAM_API_URL",
		"GOCUA_TELEGRAM_RATE", "GOCUA_ZALO_BOT_API_URL", "GOCUA_ZALO_OA_API_URL", "GOCUA_ZALO_OA_OAUTH_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("no problem reported for %s:\n%v", name, err)
		}
	}
	bad := Config{Admins: []Identity{{"facebook", "1"}}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), `GOCUA_ADMINS: "facebook:1"`) {
		t.Errorf("bad admin not reported: %v", err)
	}
}

// Invalid secrets are reported without quoting them.
func TestValidate_NeverQuotesSecrets(t *testing.T) {
	secrets := map[string]string{
		"GOCUA_TELEGRAM_TOKEN":          "tok-en-value-0001",
		"GOCUA_TELEGRAM_WEBHOOK_SECRET": "bad secret value 0002",
		"GOCUA_ZALO_BOT_TOKEN":          "zalo token value 0003",
		"GOCUA_ZALO_BOT_WEBHOOK_SECRET": "s-0004",
		"GOCUA_DATABASE_URL":            "mysql://root:db-pass-0005@db/x",
		"GOCUA_REDIS_URL":               "memcached://:redis-pass-0006@cache",
	}
	c := mustLoad(t, env(secrets))
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate succeeded, want errors")
	}
	for name, v := range secrets {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("no problem reported for %s", name)
		}
		for _, part := range []string{v, "0001", "0002", "0003", "0004", "db-pass", "redis-pass"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("error quotes secret material %q:\n%v", part, err)
			}
		}
	}
}
