package telegram

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

func TestSetWebhook(t *testing.T) {
	f := newFixture(t)
	cmds := map[string][]Command{
		"vi": {{Name: "start", Description: "Bắt đầu"}, {Name: "huy", Description: "Huỷ yêu cầu"}},
		"en": {{Name: "start", Description: "Start"}, {Name: "huy", Description: "Cancel the request"}},
	}
	if err := f.a.SetWebhook(context.Background(), cmds); err != nil {
		t.Fatal(err)
	}
	wh := f.api.CallsTo("setWebhook")
	if len(wh) != 1 {
		t.Fatalf("setWebhook calls: %d", len(wh))
	}
	p := wh[0].Params
	if p["url"] != "https://bot.example.gov.vn/webhook/telegram" || p["secret_token"] != secret || p["max_connections"] != "40" {
		t.Fatalf("setWebhook params %v", p)
	}
	var allowed []string
	if err := json.Unmarshal([]byte(p["allowed_updates"]), &allowed); err != nil {
		t.Fatalf("allowed_updates %q: %v", p["allowed_updates"], err)
	}
	if want := []string{"message", "edited_message", "callback_query", "my_chat_member"}; !slices.Equal(allowed, want) {
		t.Fatalf("allowed_updates %v, want %v", allowed, want)
	}

	calls := f.api.CallsTo("setMyCommands")
	type list []struct{ Command, Description string }
	byLang := map[string]list{}
	for _, c := range calls {
		var l list
		if err := json.Unmarshal([]byte(c.Params["commands"]), &l); err != nil {
			t.Fatal(err)
		}
		byLang[c.Params["language_code"]] = l
		if !strings.Contains(c.Params["scope"], `"all_private_chats"`) {
			t.Errorf("scope %q", c.Params["scope"])
		}
	}
	if len(calls) != 3 || len(byLang) != 3 {
		t.Fatalf("setMyCommands by language: %v", byLang)
	}
	if byLang[""][0].Description != "Bắt đầu" || byLang["vi"][1].Command != "huy" || byLang["en"][1].Description != "Cancel the request" {
		t.Fatalf("setMyCommands by language: %v", byLang)
	}
	if got := f.api.Webhook(); got.URL != "https://bot.example.gov.vn/webhook/telegram" {
		t.Fatalf("fake server's webhook %+v", got)
	}
}

func TestSetWebhookRefusesBadConfig(t *testing.T) {
	api := telegramtest.New(t)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no public URL", Config{WebhookSecret: secret}, "GOCUA_PUBLIC_URL"},
		{"http", Config{WebhookSecret: secret, PublicURL: "http://bot.example"}, "GOCUA_PUBLIC_URL"},
		{"no secret", Config{PublicURL: "https://bot.example"}, "GOCUA_TELEGRAM_WEBHOOK_SECRET"},
		{"secret with bad characters", Config{WebhookSecret: "có dấu", PublicURL: "https://bot.example"}, "GOCUA_TELEGRAM_WEBHOOK_SECRET"},
		{"secret too long", Config{WebhookSecret: strings.Repeat("a", 257), PublicURL: "https://bot.example"}, "GOCUA_TELEGRAM_WEBHOOK_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Token, tt.cfg.APIURL = api.Token(), api.URL()
			a, err := New(tt.cfg, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.SetWebhook(context.Background(), nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	if n := len(api.Calls()); n != 0 {
		t.Fatalf("%d requests made with a bad configuration", n)
	}
}

func TestSetWebhookTrailingSlashAndFailure(t *testing.T) {
	api := telegramtest.New(t)
	a, err := New(Config{Token: api.Token(), APIURL: api.URL(), WebhookSecret: secret, PublicURL: "https://bot.example/"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetWebhook(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if u := api.Webhook().URL; u != "https://bot.example/webhook/telegram" {
		t.Fatalf("url %q", u)
	}
	api.FailNext("setMyCommands", "", telegramtest.ServerError())
	if err := a.SetWebhook(context.Background(), map[string][]Command{"vi": {{Name: "start", Description: "x"}}}); err == nil {
		t.Fatal("setMyCommands failure not reported")
	}
}

func TestNewRequiresToken(t *testing.T) {
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Fatal("empty token accepted")
	}
}
