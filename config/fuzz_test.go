package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// secretMarker is put into every fuzzed secret; it must never be printed.
const secretMarker = "Mk7secretQz"

// FuzzConfig sets two GOCUA_* variables to any values and checks that every
// parser copes: Load and Validate never panic, every problem they report
// names its variable (one a line), and no secret — nor a database or Redis
// password — shows in their errors, in String, in LogValue, in fmt's verbs or
// in JSON.
func FuzzConfig(f *testing.F) {
	vars := Vars()
	index := map[string]uint8{}
	for i, v := range vars {
		index[v.Name] = uint8(i)
	}
	seeds := [][2]string{
		{"GOCUA_HTTP_ADDR", ":8080"}, {"GOCUA_HTTP_ADDR", "[::1]:99999"}, {"GOCUA_HTTP_ADDR", "nohost"},
		{"GOCUA_PUBLIC_URL", "https://bot.example.gov.vn/"}, {"GOCUA_PUBLIC_URL", "http://localhost:8080"},
		{"GOCUA_PUBLIC_URL", "https://u:p@h/x?y#z"}, {"GOCUA_PUBLIC_URL", "%zz"}, {"GOCUA_PUBLIC_URL", "https://[::1"},
		{"GOCUA_DATABASE_URL", "db.internal:5432/gocua?sslmode=require&password=x"}, {"GOCUA_DATABASE_URL", "x"},
		{"GOCUA_REDIS_URL", "cache.internal:6380/0"}, {"GOCUA_REDIS_URL", "%"},
		{"GOCUA_DATA_DIR", "./data"}, {"GOCUA_FLOWS_DIR", "/etc/gocua/flows"}, {"GOCUA_AREAS_FILE", "areas.yaml"},
		{"GOCUA_TIMEZONE", "Asia/Ho_Chi_Minh"}, {"GOCUA_TIMEZONE", "Local"}, {"GOCUA_TIMEZONE", "../../etc/passwd"},
		{"GOCUA_TIMEZONE", "UTC"}, {"GOCUA_TIMEZONE", "Mars/Olympus_Mons"}, {"GOCUA_TIMEZONE", "/etc/localtime"},
		{"GOCUA_DEFAULT_LANG", "EN"}, {"GOCUA_DEFAULT_LANG", "fr"},
		{"GOCUA_ADMINS", "telegram:123456789,zalo:8812345678901234567"}, {"GOCUA_ADMINS", "telegram:0,facebook:1,,:"},
		{"GOCUA_ADMINS", "zalo:" + strings.Repeat("a", 65)}, {"GOCUA_ADMINS", "TELEGRAM : 42 ,"},
		{"GOCUA_TRANSCRIPT_DAYS", "90"}, {"GOCUA_TRANSCRIPT_DAYS", "0"}, {"GOCUA_TRANSCRIPT_DAYS", "99999999999999999999"},
		{"GOCUA_TRANSCRIPT_DAYS", "-1"}, {"GOCUA_STATE_TTL", "720h"}, {"GOCUA_STATE_TTL", "-1s"},
		{"GOCUA_STATE_TTL", "9999999999h"}, {"GOCUA_STATE_TTL", "0"},
		{"GOCUA_WEBCHAT_ORIGINS", "https://xa-abc.gov.vn,HTTPS://X.VN/"}, {"GOCUA_WEBCHAT_ORIGINS", "https://a.vn/path,ftp://x,https://u@h,:::"},
		{"GOCUA_WEBCHAT_ORIGINS", "https://h:0,https://h:99999"}, {"GOCUA_LOG_LEVEL", "WARNING"}, {"GOCUA_LOG_LEVEL", "trace"},
		{"GOCUA_LOG_FORMAT", "JSON"}, {"GOCUA_LOG_FORMAT", "xml"},
		{"GOCUA_TELEGRAM_TOKEN", "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"}, {"GOCUA_TELEGRAM_TOKEN", "nope"},
		{"GOCUA_TELEGRAM_WEBHOOK_SECRET", "s3cret_Webhook-value"}, {"GOCUA_TELEGRAM_WEBHOOK_SECRET", "bad secret"},
		{"GOCUA_TELEGRAM_API_URL", "http://127.0.0.1:8081/"}, {"GOCUA_TELEGRAM_API_URL", "ftp://x"},
		{"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", "-1001234567890"}, {"GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", "0x10"},
		{"GOCUA_TELEGRAM_RATE", "25"}, {"GOCUA_TELEGRAM_RATE", "NaN"}, {"GOCUA_TELEGRAM_RATE", "+Inf"},
		{"GOCUA_TELEGRAM_RATE", "1e400"}, {"GOCUA_TELEGRAM_RATE", "0x1p-2"},
		{"GOCUA_ZALO_BOT_TOKEN", "55555:zalo"}, {"GOCUA_ZALO_BOT_WEBHOOK_SECRET", "short"},
		{"GOCUA_ZALO_OA_APP_ID", "4242"}, {"GOCUA_ZALO_OA_APP_SECRET", "app"}, {"GOCUA_ZALO_OA_OAUTH_URL", "https://o?x=1"},
	}
	for i, s := range seeds {
		other := seeds[(i*7+3)%len(seeds)]
		f.Add(index[s[0]], s[1], index[other[0]], other[1])
	}
	f.Fuzz(func(t *testing.T, i1 uint8, v1 string, i2 uint8, v2 string) {
		e := env{}
		set := map[string]bool{}
		for _, kv := range []struct {
			i uint8
			v string
		}{{i1, v1}, {i2, v2}} {
			doc := vars[int(kv.i)%len(vars)]
			e[doc.Name] = secretValue(doc, kv.v)
			set[doc.Name] = true
		}
		c, err := Load(e.get)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				name, _, _ := strings.Cut(line, ":")
				if !set[name] {
					t.Fatalf("Load error line %q does not name a variable that was set (%v)", line, e)
				}
			}
			noMarker(t, "Load error", err.Error())
			return
		}
		out := []string{c.String(), fmt.Sprintf("%v|%+v|%#v|%s", c, c, c, c)}
		if b, err := json.Marshal(c); err == nil {
			out = append(out, string(b))
		}
		var logs strings.Builder
		slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "config", c)
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c)
		out = append(out, logs.String())
		if err := c.Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !namesVariable(line, vars) {
					t.Fatalf("Validate error line %q does not start with a variable's name", line)
				}
			}
			out = append(out, err.Error())
		}
		for _, o := range out {
			noMarker(t, "output", o)
		}
	})
}

// secretValue puts the marker into a secret: as the password of a
// connection URL, around any other secret's value.
func secretValue(doc VarDoc, v string) string {
	switch {
	case !doc.Secret:
		return v
	case doc.Name == "GOCUA_DATABASE_URL":
		return "postgres://gocua:" + secretMarker + "@" + v
	case doc.Name == "GOCUA_REDIS_URL":
		return "redis://default:" + secretMarker + "@" + v
	}
	return secretMarker + v + secretMarker
}

func noMarker(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, secretMarker) {
		t.Fatalf("%s shows a secret:\n%s", what, s)
	}
}

func namesVariable(line string, vars []VarDoc) bool {
	for _, v := range vars {
		if rest, ok := strings.CutPrefix(line, v.Name); ok && (rest == "" || rest[0] == ' ' || rest[0] == ':') {
			return true
		}
	}
	return false
}
