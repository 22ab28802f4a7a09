package main

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

// groupMessages returns what reached the volunteers' group, sends and edits,
// with their times.
func groupMessages(api *telegramtest.Server) (sends []telegramtest.SentMessage, edits []telegramtest.Edit) {
	g := strconv.Itoa(volunteerGroup)
	for _, m := range api.Sent() {
		if m.ChatID == g {
			sends = append(sends, m)
		}
	}
	for _, e := range api.Edits() {
		if e.ChatID == g {
			edits = append(edits, e)
		}
	}
	return sends, edits
}

// A rush of 60 tickets: the group never gets more than its limit in any
// window (the fake Bot API enforces it and would answer 429), the first
// tickets get cards, and the queue board lists all 60. The window is a
// minute scaled down to 6 s, for both the fake's limit and the desk's.
func TestHandoffGroupPacing(t *testing.T) {
	const window = 6 * time.Second
	api := telegramtest.New(t, telegramtest.WithGroupRateLimit(telegramtest.Rate{N: 20, Per: window}))
	h := startDeskWith(t, api, withMain(func(m *Main) {
		m.DeskTune = func(c *handoff.Config) {
			c.Tick = 50 * time.Millisecond
			c.Board = handoff.BoardConfig{Rate: 17, Per: window, Burst: 3, BoardEvery: 300 * time.Millisecond}
		}
	}))

	var ids []int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 60 {
		wg.Go(func() {
			id := h.waitingTicket(newChatID())
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
		})
	}
	wg.Wait()

	// the board catches up with all 60
	deadline := time.Now().Add(3 * window)
	var last string
	for {
		sends, edits := groupMessages(api)
		last = ""
		for _, m := range sends {
			if strings.Contains(m.Plain, "Hàng chờ: ") {
				last = m.Plain
			}
		}
		for _, e := range edits {
			if strings.Contains(e.Plain, "Hàng chờ: ") {
				last = e.Plain
			}
		}
		if strings.Contains(last, "Hàng chờ: 60 yêu cầu") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the board never showed 60 waiting; last board:\n%s", last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range ids {
		if !strings.Contains(last, "#"+strconv.FormatInt(id, 10)+" ") {
			t.Errorf("the board does not list #%d", id)
		}
	}
	if v := api.Violations(); v != 0 {
		t.Fatalf("%d sends broke the group's limit: %+v", v, api.ViolationLog())
	}
	sends, edits := groupMessages(api)
	var at []time.Time
	for _, m := range sends {
		at = append(at, m.At)
	}
	for _, e := range edits {
		at = append(at, e.At)
	}
	slices.SortFunc(at, time.Time.Compare)
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < window; j++ {
			n++
		}
		if n > 20 {
			t.Fatalf("%d group messages within one window from %v", n, at[i])
		}
	}
	cards := 0
	for _, m := range sends {
		if strings.Contains(m.Plain, "🆘") {
			cards++
		}
	}
	// a rush goes on the board, not on 60 cards
	if cards > 6 {
		t.Fatalf("%d cards posted during the rush; want the first few at most", cards)
	}
	t.Logf("60 tickets: %d group sends, %d edits, %d cards", len(sends), len(edits), cards)
}

// A claimed ticket's card stops inviting taps: it is edited to say who took it.
func TestHandoffCardEditedWhenTaken(t *testing.T) {
	h := startDeskTuned(t, func(c *handoff.Config) { c.Tick = 50 * time.Millisecond })
	vol := h.volunteer()
	id := h.waitingTicket(newChatID())
	ids := strconv.FormatInt(id, 10)
	card := h.waitFor(volunteerGroup, "#"+ids)
	if len(card.Keyboard) == 0 || card.Keyboard[0][0].CallbackData != "dk:claim:"+ids {
		t.Fatalf("card keyboard %+v", card.Keyboard)
	}
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, card.MessageID, "dk:claim:"+ids))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, edits := groupMessages(h.api)
		i := slices.IndexFunc(edits, func(e telegramtest.Edit) bool {
			return e.MessageID == card.MessageID && strings.Contains(e.Plain, "đã nhận")
		})
		if i >= 0 {
			if len(edits[i].Keyboard) != 0 {
				t.Fatalf("the taken card still has buttons: %+v", edits[i].Keyboard)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the card was not edited after the claim: %+v", edits)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startDeskTuned(t *testing.T, tune func(*handoff.Config)) *deskHarness {
	return startDeskWith(t, nil, withMain(func(m *Main) { m.DeskTune = tune }))
}

// clock is a controllable clock for the desk's timers.
type clock struct{ ns atomic.Int64 }

func newClock() *clock               { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// Each SLA rule fires once, and a crash between a timer's state change and
// its messages still tells people, once.
func TestHandoffTimersFireOnce(t *testing.T) {
	clk := newClock()
	h := startDeskTuned(t, func(c *handoff.Config) {
		c.Tick = time.Hour // the test drives the rounds
		c.Now = clk.Now
	})
	ctx := context.Background()
	deps := handoff.Deps{Flows: h.main.Service.Flows, Poster: h.main.Telegram, Relay: h.main.Service.Relay}
	tick := func() {
		t.Helper()
		if err := h.main.Desk.Tick(ctx, deps); err != nil {
			t.Fatal(err)
		}
		h.settle()
	}
	vol := h.volunteer()
	resident := newChatID()
	id := h.waitingTicket(resident)
	ids := strconv.FormatInt(id, 10)
	count := func(chat int64, want string) int {
		n := 0
		for _, m := range h.sentTo(chat) {
			if strings.Contains(m.Plain, want) {
				n++
			}
		}
		return n
	}

	// unclaimed for 11 minutes: one reminder in the group and one to the
	// organizer, however many rounds run
	clk.add(11 * time.Minute)
	for range 3 {
		tick()
	}
	if n := count(volunteerGroup, "⏰ #"+ids); n != 1 {
		t.Fatalf("%d reminders in the group", n)
	}
	if n := count(h.org, "⏰ #"+ids); n != 1 {
		t.Fatalf("%d reminders to the organizer", n)
	}

	// claimed, the resident writes, the volunteer stays silent 16 minutes:
	// back to the queue, each side told once — even though the first round
	// "crashes" after the state change, before its messages
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.settle()
	h.send(textUpdate(nextUpdateID(), resident, "Cháu ơi giúp bác với"))
	h.settle()
	clk.add(16 * time.Minute)
	crash := deps
	crash.Relay = func(context.Context, string, []bot.Outbound) error { return errors.New("killed") }
	if err := h.main.Desk.Tick(ctx, crash); err == nil {
		t.Fatal("the crashing round did not fail")
	}
	if tk := h.ticket(id); tk.Status != handoff.Waiting {
		t.Fatalf("after the silent volunteer the ticket is %s", tk.Status)
	}
	// a fresh desk (a restarted replica) tells what the crashed round did not
	fresh := handoff.New(handoff.Config{Group: key(volunteerGroup), Now: clk.Now, Lang: "vi"}, h.main.DB.Desk(), h.main.Redis, h.main.Log)
	for range 2 {
		if err := fresh.Tick(ctx, deps); err != nil {
			t.Fatal(err)
		}
		tick()
	}
	if n := count(resident, h.text("desk_released")); n != 1 {
		t.Fatalf("the resident was told %d times that the ticket went back", n)
	}
	if n := count(vol, "⏱ #"+ids); n != 1 {
		t.Fatalf("the volunteer was told %d times", n)
	}

	// claimed again, the volunteer answers, the resident stays silent 31
	// minutes: abandoned, with a message, once
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.settle()
	h.send(textUpdate(nextUpdateID(), vol, "Bác mở ứng dụng VNeID ra nhé"))
	h.settle()
	clk.add(31 * time.Minute)
	for range 3 {
		tick()
	}
	if tk := h.ticket(id); tk.Status != handoff.Abandoned {
		t.Fatalf("after the silent resident the ticket is %s", tk.Status)
	}
	if n := count(resident, h.text("desk_abandoned")); n != 1 {
		t.Fatalf("the resident was told %d times that the chat closed", n)
	}
	audit, _ := h.main.DB.Desk().Audit(ctx, id)
	var path []string
	for _, e := range audit {
		path = append(path, fmt.Sprintf("%s>%s:%s", e.From, e.To, e.Actor))
	}
	want := []string{"waiting>assigned:volunteer:", "assigned>waiting:system", "waiting>assigned:volunteer:", "assigned>abandoned:system"}
	if len(path) != len(want) {
		t.Fatalf("audit = %v", path)
	}
	for i := range want {
		if !strings.HasPrefix(path[i], want[i]) {
			t.Fatalf("audit = %v, want %v", path, want)
		}
	}
}

// Closed transcripts older than GOCUA_TRANSCRIPT_DAYS go, with the web chat
// photos of that age; an open ticket's stay.
func TestHandoffTranscriptRetention(t *testing.T) {
	clk := newClock()
	h := startDeskWith(t, nil, withEnv("GOCUA_TRANSCRIPT_DAYS", "1"), withMain(func(m *Main) {
		m.DeskTune = func(c *handoff.Config) { c.Tick, c.Now = time.Hour, clk.Now }
	}))
	ctx := context.Background()
	vol := h.volunteer()
	closed := h.waitingTicket(newChatID())
	open := h.waitingTicket(newChatID())
	ids := strconv.FormatInt(closed, 10)
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.send(textUpdate(nextUpdateID(), vol, "Xong rồi Bác nhé"))
	h.send(buttonUpdate(nextUpdateID(), vol, "dk:done:"+ids+":vneid"))
	h.settle()
	up, err := h.main.DB.Uploads().SaveUpload(ctx, bot.Upload{Visitor: "visitor-old", MsgID: "m1", MIME: "image/png", Data: testPNG(t, color.RGBA{R: 1, G: 2, B: 3, A: 255})})
	if err != nil {
		t.Fatal(err)
	}
	d := h.main.DB.Desk()
	deps := handoff.Deps{Flows: h.main.Service.Flows, Relay: h.main.Service.Relay}
	if err := h.main.Desk.Tick(ctx, deps); err != nil {
		t.Fatal(err)
	}
	if tr, _ := d.Transcript(ctx, closed); len(tr) == 0 {
		t.Fatal("a fresh transcript was deleted")
	}
	clk.add(49 * time.Hour)
	if err := h.main.Desk.Tick(ctx, deps); err != nil {
		t.Fatal(err)
	}
	if tr, _ := d.Transcript(ctx, closed); len(tr) != 0 {
		t.Fatalf("a closed transcript older than a day is kept: %v", tr)
	}
	if tr, _ := d.Transcript(ctx, open); len(tr) == 0 {
		t.Fatal("an open ticket's transcript was deleted")
	}
	if _, err := h.main.DB.Uploads().Upload(ctx, up.ID); err == nil {
		t.Fatal("an old web chat photo is kept")
	}
}
