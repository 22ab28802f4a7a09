package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// buttonWith returns the callback data of the last message to chat that
// has a button whose data starts with prefix.
func (h *deskHarness) buttonWith(chat int64, prefix string) string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msgs := h.sentTo(chat)
		for i := len(msgs) - 1; i >= 0; i-- {
			for _, row := range msgs[i].Keyboard {
				for _, b := range row {
					if strings.HasPrefix(b.CallbackData, prefix) {
						return b.CallbackData
					}
				}
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("chat %d has no button %q: %q", chat, prefix, texts(msgs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *deskHarness) conv(chat int64) bot.Conversation {
	h.t.Helper()
	c, _, err := h.main.Redis.Load(context.Background(), key(chat), "")
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// A stuck resident is offered a volunteer (no ticket yet); the button asks
// what the problem is and the ward (typed without diacritics), then the
// ticket opens with both, the resident learns their place in the queue,
// and their ward is kept for later.
func TestEscalationOfferIntakeAndQueue(t *testing.T) {
	h := startDesk(t)
	r := newChatID()
	h.send(textUpdate(nextUpdateID(), r, "/start"))
	h.send(textUpdate(nextUpdateID(), r, "cháu ơi bác khong lam duoc"))
	h.settle()
	h.waitFor(r, h.text("escalate_offer"))
	if c := h.conv(r); c.Ticket != 0 || c.Intake != nil {
		t.Fatalf("an offer opened something: %+v", c)
	}
	h.send(buttonUpdate(nextUpdateID(), r, "nav:human"))
	h.settle()
	h.waitFor(r, h.text("intake_topic"))
	h.send(buttonUpdate(nextUpdateID(), r, "in:t:vneid"))
	h.send(buttonUpdate(nextUpdateID(), r, "in:t:vneid")) // a double tap
	h.settle()
	h.waitFor(r, h.text("intake_area"))
	h.send(textUpdate(nextUpdateID(), r, "phu xuan"))
	h.settle()
	h.waitFor(r, h.text("intake_area_pick"))
	h.send(buttonUpdate(nextUpdateID(), r, h.buttonWith(r, "in:a:phuong_phu_xuan")))
	h.settle()
	h.waitFor(r, "danh sách chờ")
	h.waitFor(r, "trong hàng chờ")
	c := h.conv(r)
	if c.Ticket == 0 || c.Area != "phuong_phu_xuan" {
		t.Fatalf("conversation after the questions: %+v", c)
	}
	tk := h.ticket(c.Ticket)
	if tk.Status != handoff.Waiting || tk.Topic != "vneid" || tk.Area != "phuong_phu_xuan" || tk.Lang != "vi" {
		t.Fatalf("ticket %+v", tk)
	}
	if p, err := h.main.DB.ResidentProfile(context.Background(), key(r)); err != nil || p.Area != "phuong_phu_xuan" {
		t.Fatalf("resident area %q, %v", p.Area, err)
	}
	// a stale question button while waiting: acknowledged, nothing new
	h.send(buttonUpdate(nextUpdateID(), r, "in:a:phuong_phu_xuan"))
	h.settle()
	if c2 := h.conv(r); c2.Ticket != c.Ticket {
		t.Fatalf("ticket changed: %d → %d", c.Ticket, c2.Ticket)
	}
}

// A QR poster's /start link sets the ward: no area question, the ticket
// carries it, and only volunteers of that ward (or of any) may take it.
func TestAreaFromStartLinkRoutesTheTicket(t *testing.T) {
	h := startDesk(t)
	r := newChatID()
	h.send(textUpdate(nextUpdateID(), r, "/start phuong_phu_xuan"))
	h.settle()
	h.waitFor(r, "Phường Phú Xuân")
	h.send(textUpdate(nextUpdateID(), r, "/start khong-co-ma-nay"))
	h.settle()
	if c := h.conv(r); c.Area != "phuong_phu_xuan" {
		t.Fatalf("an unknown code changed the area: %q", c.Area)
	}
	h.send(buttonUpdate(nextUpdateID(), r, "nav:human"))
	h.send(buttonUpdate(nextUpdateID(), r, "in:t:dvc"))
	h.settle()
	h.waitFor(r, "danh sách chờ")
	id := h.conv(r).Ticket
	if tk := h.ticket(id); tk.Area != "phuong_phu_xuan" || tk.Topic != "dvc" {
		t.Fatalf("ticket %+v", tk)
	}
	// a volunteer of another ward is refused
	ctx := context.Background()
	d := h.main.DB.Desk()
	u := newChatID()
	uk := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(u, 10)}
	v, err := d.Apply(ctx, handoff.Volunteer{User: uk, Chat: uk, Name: "Ngoài", Areas: []string{"xa_phu_vang"}}, time.Now())
	if err == nil {
		_, err = d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, time.Now())
	}
	if err != nil {
		t.Fatal(err)
	}
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, u, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
	h.settle()
	if tk := h.ticket(id); tk.Status != handoff.Waiting {
		t.Fatalf("a volunteer of another ward took it: %s", tk.Status)
	}
	// the resident's ward fills the office placeholder of the level-2 guide
	h.send(textUpdate(nextUpdateID(), r, "/huy"))
	h.settle()
	h.send(textUpdate(nextUpdateID(), r, "/start level2"))
	h.settle()
	for _, step := range []string{"1", "3"} { // continue, then "no card yet"
		h.send(textUpdate(nextUpdateID(), r, step))
		h.settle()
	}
	h.waitFor(r, "Gần Bác nhất: Công an Phường Phú Xuân")
}

// When two tickets ahead are taken, a waiting resident is told their new
// place once.
func TestHandoffQueueNotices(t *testing.T) {
	org := newChatID()
	h := &deskHarness{harness: start(t, nil,
		withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)),
		withEnv("GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", strconv.Itoa(volunteerGroup)),
		withMain(func(m *Main) { m.QueueEvery, m.QueueGap = 20*time.Millisecond, time.Nanosecond })), org: org}
	vol := h.volunteer()
	var ids []int64
	rs := []int64{newChatID(), newChatID(), newChatID()}
	for _, r := range rs {
		h.send(textUpdate(nextUpdateID(), r, "/start phuong_phu_xuan"))
		h.send(buttonUpdate(nextUpdateID(), r, "nav:human"))
		h.send(buttonUpdate(nextUpdateID(), r, "in:t:other"))
		h.settle()
		ids = append(ids, h.conv(r).Ticket)
	}
	before, err := h.main.DB.Desk().Position(context.Background(), ids[2])
	if err != nil {
		t.Fatal(err)
	}
	h.waitFor(rs[2], "số "+strconv.Itoa(before+1))
	time.Sleep(100 * time.Millisecond) // a sweep remembers the place
	for _, id := range ids[:2] {
		h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
	}
	h.settle()
	h.waitFor(rs[2], "số "+strconv.Itoa(before-1))
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, m := range h.sentTo(rs[2]) {
		if strings.Contains(m.Plain, "trong hàng chờ") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d queue messages, want 2: %q", n, texts(h.sentTo(rs[2])))
	}
}
