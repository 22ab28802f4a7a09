package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

func TestResidentAreaContract(t *testing.T) {
	for _, b := range recordsBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("ResidentArea", func(t *testing.T) { testResidentArea(t, b.open(t)) })
			t.Run("TicketTopicArea", func(t *testing.T) { testTicketTopicArea(t, b.open(t)) })
		})
	}
}

// testResidentArea: the newest choice wins, an unknown resident has none
// (and is created by a choice), odd text is stored cleanly.
func testResidentArea(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	area := func(key bot.ConvKey) string {
		t.Helper()
		pr, err := p.ResidentProfile(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return pr.Area
	}
	key := zaloKey(t, "1")
	if a := area(key); a != "" {
		t.Fatalf("unknown resident has area %q", a)
	}
	if err := p.SetResidentArea(ctx, key, "phuong_phu_xuan", t0); err != nil {
		t.Fatal(err)
	}
	if a := area(key); a != "phuong_phu_xuan" {
		t.Fatalf("area %q", a)
	}
	// a later message keeps it; an older choice delivered late does not win
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0.Add(time.Hour), Name: "Lan"}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetResidentArea(ctx, key, "xa_old", t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, err := p.Resident(ctx, key)
	if err != nil || r.Area != "phuong_phu_xuan" || r.Name != "Lan" {
		t.Fatalf("resident %+v, %v", r, err)
	}
	if err := p.SetResidentArea(ctx, key, "phuong_thuan_hoa", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if a := area(key); a != "phuong_thuan_hoa" {
		t.Fatalf("area after a newer choice %q", a)
	}
	// "" forgets; invalid UTF-8 and NUL are cleaned, not refused
	if err := p.SetResidentArea(ctx, key, "", t0.Add(3*time.Hour)); err != nil || area(key) != "" {
		t.Fatalf("forget: %v, %q", err, area(key))
	}
	odd := zaloKey(t, "2")
	if err := p.SetResidentArea(ctx, odd, "a\x00b\xff"+strings.Repeat("ư", 100), t0); err != nil {
		t.Fatal(err)
	}
	if a := area(odd); strings.ContainsAny(a, "\x00") || !strings.HasPrefix(a, "ab") {
		t.Fatalf("odd area %q", a)
	}
}

// testTicketTopicArea: a ticket opened by Record carries the request's
// topic, area and the resident's language; joining it changes neither.
func testTicketTopicArea(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	key := zaloKey(t, "1")
	req := &bot.TicketRequest{Flow: "scam_safety", Step: "victim_help", Topic: "scam", Area: "phuong_phu_xuan"}
	res, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Lang: "en", Handoff: req})
	if err != nil || res.TicketID == 0 {
		t.Fatalf("record: %+v, %v", res, err)
	}
	// the same update again, and a second request joining the waiting ticket
	if _, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u1", At: t0, Lang: "en", Handoff: req}); err != nil {
		t.Fatal(err)
	}
	res2, err := p.Record(ctx, bot.UpdateRecord{Key: key, UpdateID: "u2", At: t0.Add(time.Minute), Lang: "vi",
		Handoff: &bot.TicketRequest{Flow: "volunteer", Step: "request", Topic: "other", Area: "xa_khac"}})
	if err != nil || res2.TicketID != res.TicketID {
		t.Fatalf("join: %+v, %v", res2, err)
	}
	tk, err := p.Desk().Ticket(ctx, res.TicketID)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Topic != "scam" || tk.Area != "phuong_phu_xuan" || tk.Lang != "en" {
		t.Fatalf("ticket topic %q area %q lang %q", tk.Topic, tk.Area, tk.Lang)
	}
	// without them, both are empty (the desk may set them later)
	other := zaloKey(t, "2")
	res3, err := p.Record(ctx, bot.UpdateRecord{Key: other, UpdateID: "u1", At: t0, Handoff: &bot.TicketRequest{Flow: "volunteer"}})
	if err != nil {
		t.Fatal(err)
	}
	if tk, err := p.Desk().Ticket(ctx, res3.TicketID); err != nil || tk.Topic != "" || tk.Area != "" {
		t.Fatalf("plain ticket %+v, %v", tk, err)
	}
}
