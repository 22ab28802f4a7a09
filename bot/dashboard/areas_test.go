package dashboard

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// withBots is a configuration whose posters link to the bots.
func withBots(cfg Config, b Bots) Config {
	cfg.Bots = func(context.Context) Bots { return b }
	return cfg
}

func TestAreasPage(t *testing.T) {
	e := newTestEnv(t, withBots(Config{Areas: wardAreas(t)}, Bots{TelegramUsername: "gocua_bot"}))
	org := e.login(orgID)
	res := org.get(Prefix + "areas")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	for _, want := range []string{"Thành phố Huế", "2 xã / phường", "Phường Thuận Hóa", "Xã Quảng Điền", "<code>a1</code>",
		"Công an phường Thuận Hóa", "1 Lê Lợi", "Thứ Hai–Thứ Sáu 7:30–11:30", "Chưa có thông tin cơ quan",
		`href="/dashboard/areas/a1/poster"`, `href="/dashboard/areas/a2/poster.png"`} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	noInlineHere(t, res.Body)
	// an organizer of a1 sees a1
	body := e.login(orgA1ID).get(Prefix + "areas").Body
	if strings.Contains(body, "Xã Quảng Điền") || !strings.Contains(body, "Phường Thuận Hóa") {
		t.Errorf("a1's organizer sees: %s", body)
	}
	// volunteers may not
	if res := e.login(volID).get(Prefix + "areas"); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
	// without areas, or without any bot to link to
	bare := newTestEnv(t, Config{})
	if body := bare.login(orgID).get(Prefix + "areas").Body; !strings.Contains(body, "Chưa có danh sách xã / phường") {
		t.Errorf("no areas: %s", body)
	}
	nolink := newTestEnv(t, Config{Areas: wardAreas(t)})
	c := nolink.login(orgID)
	if body := c.get(Prefix + "areas").Body; !strings.Contains(body, "cần bật Telegram hoặc web chat") || strings.Contains(body, "/poster") {
		t.Errorf("no links: %s", body)
	}
	if res := c.get(Prefix + "areas/a1/poster"); res.StatusCode != http.StatusOK || strings.Contains(res.Body, "<svg") {
		t.Errorf("poster without links: %d", res.StatusCode)
	}
	if res := c.get(Prefix + "areas/a1/poster.png"); res.StatusCode != http.StatusConflict {
		t.Errorf("png without links: %d", res.StatusCode)
	}
}

func TestPosterOfUnknownAreaIsNotFound(t *testing.T) {
	e := newTestEnv(t, withBots(Config{Areas: wardAreas(t)}, Bots{TelegramUsername: "gocua_bot"}))
	org, a1 := e.login(orgID), e.login(orgA1ID)
	for _, c := range []struct {
		c    *client
		code string
	}{
		{org, "nope"}, {org, "A1"}, {org, "a1%20"}, {org, "%E1%BB%87"}, {org, strings.Repeat("a", 70)}, {org, "a1%00"},
		{a1, "a2"},
	} {
		for _, suffix := range []string{"/poster", "/poster.png"} {
			if res := c.c.get(Prefix + "areas/" + c.code + suffix); res.StatusCode != http.StatusNotFound {
				t.Errorf("%s%s: %d", c.code, suffix, res.StatusCode)
			}
		}
	}
	noAreas := newTestEnv(t, withBots(Config{}, Bots{TelegramUsername: "gocua_bot"}))
	if res := noAreas.login(orgID).get(Prefix + "areas/a1/poster"); res.StatusCode != http.StatusNotFound {
		t.Errorf("no areas: %d", res.StatusCode)
	}
	if res := e.login(volID).get(Prefix + "areas/a1/poster.png"); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
}
