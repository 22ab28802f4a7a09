package zalo

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

func TestSetWebhook(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PublicURL = "https://bot.example.gov.vn/" }, nil)
	if err := f.a.SetWebhook(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls := f.api.CallsTo("setWebhook")
	if len(calls) != 1 {
		t.Fatalf("setWebhook calls: %d", len(calls))
	}
	if p := calls[0].Params; p["url"] != "https://bot.example.gov.vn/webhook/zalo-bot" || p["secret_token"] != secret || len(p) != 2 {
		t.Fatalf("setWebhook params %v", p)
	}
	if got := f.api.Webhook(); got.URL != "https://bot.example.gov.vn/webhook/zalo-bot" || got.SecretToken != secret {
		t.Fatalf("fake server's webhook %+v", got)
	}
	// and the check agrees
	if warn, err := f.a.CheckWebhook(context.Background()); err != nil || warn != "" {
		t.Fatalf("CheckWebhook: %q, %v", warn, err)
	}
}

func TestSetWebhookRefusesBadConfig(t *testing.T) {
	api := zalotest.New(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no public URL", Config{WebhookSecret: secret}, "GOCUA_PUBLIC_URL"},
		{"http", Config{WebhookSecret: secret, PublicURL: "http://bot.example"}, "GOCUA_PUBLIC_URL"},
		{"not a URL", Config{WebhookSecret: secret, PublicURL: "%zz"}, "GOCUA_PUBLIC_URL"},
		{"no secret", Config{PublicURL: "https://bot.example"}, "GOCUA_ZALO_BOT_WEBHOOK_SECRET"},
		{"secret too short", Config{WebhookSecret: "1234567", PublicURL: "https://bot.example"}, "GOCUA_ZALO_BOT_WEBHOOK_SECRET"},
		{"secret too long", Config{WebhookSecret: strings.Repeat("a", 257), PublicURL: "https://bot.example"}, "GOCUA_ZALO_BOT_WEBHOOK_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Token, tt.cfg.APIURL = api.Token(), api.URL()
			a, err := New(tt.cfg, nil, nil, fakeTexts{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.SetWebhook(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	if n := len(api.Calls()); n != 0 {
		t.Fatalf("%d requests made with a bad configuration", n)
	}
}

func TestSetWebhookFailure(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PublicURL = "https://bot.example.gov.vn" }, nil)
	f.api.FailNext("setWebhook", 1, zalotest.NotOK(400, "url is unreachable"))
	if err := f.a.SetWebhook(context.Background()); !errors.Is(err, bot.ErrRejected) || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("%v", err)
	}
	f.api.FailNext("setWebhook", 1, zalotest.Failure{HTTPStatus: 401, ErrorCode: 401, Description: "Unauthorized"})
	if err := f.a.SetWebhook(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("%v", err)
	}
}

func TestCheckWebhook(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.PublicURL = "https://bot.example.gov.vn" }, nil)
	tests := []struct {
		name       string
		registered string
		want       string // a word the warning holds; "" = no warning
	}{
		{"ours", "https://bot.example.gov.vn/webhook/zalo-bot", ""},
		{"ours with a slash", "https://bot.example.gov.vn/webhook/zalo-bot/", ""},
		{"none: polling or never set", "", "no Zalo bot webhook is registered"},
		{"another address", "https://old.example.org/zalo", "https://old.example.org/zalo"},
		{"an http one", "http://bot.example.gov.vn/webhook/zalo-bot", "not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.api.SetWebhookURL(tt.registered)
			warn, err := f.a.CheckWebhook(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if (tt.want == "") != (warn == "") || !strings.Contains(warn, tt.want) {
				t.Fatalf("warning %q, want one with %q", warn, tt.want)
			}
		})
	}
	f.api.FailNext("getWebhookInfo", 1, zalotest.ServerError(503))
	if _, err := f.a.CheckWebhook(context.Background()); err == nil {
		t.Fatal("failure not reported")
	}
	g := newFixtureWith(t, func(c *Config) { c.PublicURL = "" }, nil)
	if _, err := g.a.CheckWebhook(context.Background()); err == nil || !strings.Contains(err.Error(), "GOCUA_PUBLIC_URL") {
		t.Fatalf("without a public URL: %v", err)
	}
}
