package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretEnv sets every secret to a value containing a marker that must never
// be printed.
func secretEnv() (env, []string) {
	e := env{
		"GOCUA_DATABASE_URL":            "postgres://gocua:pgpw-LEAK1@db.internal:5432/gocua?sslmode=require&password=qpw-LEAK2",
		"GOCUA_REDIS_URL":               "rediss://default:redispw-LEAK3@cache.internal:6380/0",
		"GOCUA_TELEGRAM_TOKEN":          "123456789:LEAK4vCH1vGWJxfSeofSAs0K5PALDsaw0",
		"GOCUA_TELEGRAM_WEBHOOK_SECRET": "LEAK5-webhook",
		"GOCUA_ZALO_BOT_TOKEN":          "55555:LEAK6-zalo",
		"GOCUA_ZALO_BOT_WEBHOOK_SECRET": "LEAK7-zalo-webhook",
		"GOCUA_ZALO_OA_APP_ID":          "4242",
		"GOCUA_ZALO_OA_APP_SECRET":      "LEAK8-app",
		"GOCUA_ZALO_OA_SECRET_KEY":      "LEAK9-key",
		"GOCUA_ZALO_OA_REFRESH_TOKEN":   "LEAK10-refresh",
		"GOCUA_PUBLIC_URL":              "https://bot.example.gov.vn",
	}
	return e, []string{"LEAK", "pgpw", "qpw", "redispw"}
}

func assertNoLeak(t *testing.T, what, out string, markers []string) {
	t.Helper()
	for _, m := range markers {
		if strings.Contains(out, m) {
			t.Errorf("%s leaks %q:\n%s", what, m, out)
		}
	}
}

func TestRedaction(t *testing.T) {
	e, markers := secretEnv()
	c := mustLoad(t, e)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	type holder struct {
		Cfg  Config
		Ptr  *Config
		Tg   Telegram
		Sec  Secret
		List []Secret
	}
	h := holder{Cfg: c, Ptr: &c, Tg: c.Telegram, Sec: c.ZaloOA.SecretKey, List: []Secret{c.Telegram.Token}}

	outputs := map[string]string{"String()": c.String()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10s", "%d"} {
		outputs["config "+verb] = fmt.Sprintf(verb, c)
		outputs["holder "+verb] = fmt.Sprintf(verb, h)
		outputs["&holder "+verb] = fmt.Sprintf(verb, &h)
		outputs["secret "+verb] = fmt.Sprintf(verb, c.Telegram.Token)
	}
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("config", "config", c, "ptr", &c, "telegram", c.Telegram, "oa", c.ZaloOA,
			"token", c.Telegram.Token, "holder", h)
		log.Info("attrs", slog.Any("db", c.DatabaseURL), slog.String("s", c.Telegram.WebhookSecret.String()))
		outputs[name] = buf.String()
	}
	for name, v := range map[string]any{"config": c, "holder": h, "telegram": c.Telegram} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%s): %v", name, err)
		}
		outputs["json "+name] = string(b)
	}
	for what, out := range outputs {
		assertNoLeak(t, what, out, markers)
	}

	// The redacted forms still say what is configured.
	for what, want := range map[string]string{
		"String()":      "GOCUA_TELEGRAM_TOKEN=[redacted]",
		"config %v":     "GOCUA_ZALO_OA_APP_ID=4242",
		"config %+v":    "GOCUA_REDIS_URL=rediss://default:xxxxx@cache.internal:6380/0",
		"config %s":     "GOCUA_PUBLIC_URL=https://bot.example.gov.vn",
		"config %#v":    `Token:config.Secret("[redacted]")`,
		"secret %v":     "[redacted]",
		"secret %#v":    `config.Secret("[redacted]")`,
		"secret %q":     `"[redacted]"`,
		"secret %10s":   "[redacted]",
		"secret %x":     fmt.Sprintf("%x", redacted),
		"holder %+v":    "Sec:[redacted]",
		"&holder %#v":   `Sec:config.Secret("[redacted]")`,
		"json config":   `"AppID":"4242"`,
		"json holder":   `"Sec":"[redacted]"`,
		"json telegram": `"Token":"[redacted]"`,
		"slog json":     `"telegram_webhook_secret":"[redacted]"`,
		"slog text":     "config.database_url=\"postgres://gocua:xxxxx@db.internal:5432/gocua?password=xxxxx&sslmode=require\"",
	} {
		if !strings.Contains(outputs[what], want) {
			t.Errorf("%s = %s\nwant it to contain %s", what, outputs[what], want)
		}
	}
}

func TestSecret_Unset(t *testing.T) {
	var s Secret
	if s.String() != "" || fmt.Sprint(s) != "" || s.LogValue().String() != "" {
		t.Errorf("unset secret prints %q / %q / %q, want empty", s.String(), fmt.Sprint(s), s.LogValue().String())
	}
	if b, _ := json.Marshal(s); string(b) != `""` {
		t.Errorf("json = %s", b)
	}
	c := mustLoad(t, env{})
	if !strings.Contains(c.String(), "GOCUA_TELEGRAM_TOKEN=\n") {
		t.Errorf("String() should show an unset secret as empty:\n%s", c)
	}
	if got := Secret("x").Reveal(); got != "x" {
		t.Errorf("Reveal() = %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"postgres://u:p4ss@db:5432/x", "postgres://u:xxxxx@db:5432/x"},
		{"postgres://u@db/x", "postgres://u@db/x"},
		{"postgres://db/x?sslmode=disable&password=p4ss", "postgres://db/x?password=xxxxx&sslmode=disable"},
		{"redis://:p4ss@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"https://api.telegram.org", "https://api.telegram.org"},
		{"postgres:p4ss", redacted},
		{"postgres://u:p4ss@db/%zz", redacted},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
