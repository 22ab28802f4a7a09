package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

const volunteerGroup = -1009001

// deskHarness is gocua with an organizer (GOCUA_ADMINS) and a volunteers' group.
type deskHarness struct {
	*harness
	org int64
}

func startDesk(t *testing.T) *deskHarness {
	org := newChatID()
	h := start(t, nil,
		withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)),
		withEnv("GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", strconv.Itoa(volunteerGroup)))
	return &deskHarness{harness: h, org: org}
}

func (h *deskHarness) raw(body string) {
	h.t.Helper()
	if code := h.post([]byte(body)); code != http.StatusOK {
		h.t.Fatalf("webhook answered %d to %s", code, body)
	}
}

// waitFor waits until chat received a message containing want.
func (h *deskHarness) waitFor(chat int64, want string) telegramtest.SentMessage {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range h.sentTo(chat) {
			if strings.Contains(m.Plain, want) || strings.Contains(m.Text, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("chat %d never received %q; got %q", chat, want, texts(h.sentTo(chat)))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *deskHarness) text(key string, vars ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return plain(h.main.Flows.Text("vi", key, m))
}

// volunteer makes an approved volunteer the way one becomes one: /volunteer,
// a skill, send; the organizer approves from the button they receive.
func (h *deskHarness) volunteer() int64 {
	h.t.Helper()
	v := newChatID()
	h.send(textUpdate(nextUpdateID(), v, "/volunteer"))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:sk:vneid"))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:send"))
	h.settle()
	h.waitFor(v, h.text("desk_apply_sent"))
	app := h.waitFor(h.org, "Đăng ký tình nguyện viên")
	var approve string
	for _, row := range app.Keyboard {
		for _, b := range row {
			if strings.HasPrefix(b.CallbackData, "dk:ok:") {
				approve = b.CallbackData
			}
		}
	}
	if approve == "" {
		h.t.Fatalf("the organizer's message has no approve button: %+v", app.Keyboard)
	}
	// approve buttons of earlier applicants are in the same chat: take the last
	vid := strings.TrimPrefix(approve, "dk:ok:")
	for _, m := range h.sentTo(h.org) {
		for _, row := range m.Keyboard {
			for _, b := range row {
				if strings.HasPrefix(b.CallbackData, "dk:ok:") {
					vid = strings.TrimPrefix(b.CallbackData, "dk:ok:")
				}
			}
		}
	}
	h.send(buttonUpdate(nextUpdateID(), h.org, "dk:ok:"+vid))
	h.settle()
	h.waitFor(v, h.text("desk_approved"))
	return v
}

// waitingTicket has a resident ask for a volunteer and returns the ticket.
func (h *deskHarness) waitingTicket(resident int64) int64 {
	h.t.Helper()
	h.send(textUpdate(nextUpdateID(), resident, "/start"))
	h.send(buttonUpdate(nextUpdateID(), resident, "nav:human"))
	h.send(buttonUpdate(nextUpdateID(), resident, "in:t:vneid")) // what the problem is
	h.send(buttonUpdate(nextUpdateID(), resident, "in:skip"))    // the ward: skipped
	h.send(textUpdate(nextUpdateID(), resident, "Em bấm quét NFC mà không được"))
	h.settle()
	conv, _, err := h.main.Redis.Load(context.Background(), key(resident), "")
	if err != nil || conv.Ticket == 0 {
		h.t.Fatalf("no ticket: %+v %v", conv, err)
	}
	return conv.Ticket
}

func (h *deskHarness) ticket(id int64) handoff.Ticket {
	h.t.Helper()
	tk, err := h.main.DB.Desk().Ticket(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return tk
}

// A resident gets stuck, a volunteer takes the ticket from the group, they
// talk (five messages and a photo each way, in order), the volunteer
// closes it and the resident's rating is stored.
func TestHandoffClaimRelayResolveRate(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	resident := newChatID()
	id := h.waitingTicket(resident)
	ids := strconv.FormatInt(id, 10)

	// the claim tap in the volunteers' group is answered
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.settle()
	answers := h.api.Answers()
	if len(answers) == 0 || !strings.Contains(answers[len(answers)-1].Text, "#"+ids) {
		t.Fatalf("claim answered %+v", answers)
	}
	h.waitFor(vol, "Em bấm quét NFC") // the context shows the resident's last message
	h.waitFor(resident, "đã nhận yêu cầu")
	if tk := h.ticket(id); tk.Status != handoff.Assigned {
		t.Fatalf("ticket %s after the claim", tk.Status)
	}

	before := len(h.sentTo(resident))
	for i := range 5 {
		h.send(textUpdate(nextUpdateID(), resident, fmt.Sprintf("dân %d", i)))
		h.send(textUpdate(nextUpdateID(), vol, fmt.Sprintf("tnv %d", i)))
	}
	h.raw(telegramtest.PhotoMessage(nextUpdateID(), resident, resident, "AgACresidentphoto", "ảnh lỗi"))
	h.raw(telegramtest.PhotoMessage(nextUpdateID(), vol, vol, "AgACvolunteerphoto", "làm như hình"))
	h.settle()
	order := func(chat int64, prefix string) {
		t.Helper()
		var got []string
		for _, m := range h.sentTo(chat) {
			for i := range 5 {
				if strings.Contains(m.Plain, fmt.Sprintf("%s %d", prefix, i)) {
					got = append(got, strconv.Itoa(i))
				}
			}
		}
		if strings.Join(got, "") != "01234" {
			t.Fatalf("chat %d got %q in order %v", chat, prefix, got)
		}
	}
	order(vol, "dân")
	order(resident, "tnv")
	photo := func(chat int64, fileID string) {
		t.Helper()
		for _, m := range h.sentTo(chat) {
			if m.Method == "sendPhoto" && m.File != nil && m.File.FileID == fileID {
				return
			}
		}
		t.Fatalf("chat %d did not get photo %s", chat, fileID)
	}
	photo(vol, "AgACresidentphoto")
	photo(resident, "AgACvolunteerphoto")
	// while a volunteer handles the ticket the flows stay silent: the
	// resident got only the volunteer's messages
	for _, m := range h.sentTo(resident)[before:] {
		if !strings.Contains(m.Plain, "tình nguyện viên đã xác minh") {
			t.Fatalf("the bot answered the resident during the handoff: %q", m.Plain)
		}
	}

	// a request for an OTP is not relayed
	h.send(textUpdate(nextUpdateID(), vol, "Bác đọc mã OTP cho cháu nhé"))
	h.settle()
	h.waitFor(vol, "không được chuyển")
	for _, m := range h.sentTo(resident) {
		if strings.Contains(m.Plain, "đọc mã OTP") {
			t.Fatal("an OTP request reached the resident")
		}
	}

	// /done, a category, then the resident rates
	h.send(textUpdate(nextUpdateID(), vol, "/done"))
	h.settle()
	h.waitFor(vol, h.text("desk_done_ask", "id", ids))
	h.send(buttonUpdate(nextUpdateID(), vol, "dk:done:"+ids+":vneid"))
	h.settle()
	rate := h.waitFor(resident, h.text("desk_resolved"))
	if len(rate.Keyboard) == 0 || len(rate.Keyboard[0]) != 5 {
		t.Fatalf("rating keyboard %+v", rate.Keyboard)
	}
	h.send(buttonUpdate(nextUpdateID(), resident, rate.Keyboard[0][4].CallbackData))
	h.send(textUpdate(nextUpdateID(), resident, "Cảm ơn cháu nhiều"))
	h.settle()
	h.waitFor(resident, h.text("desk_commented"))
	tk := h.ticket(id)
	if tk.Status != handoff.Resolved || tk.Rating != 5 || tk.Category != "vneid" {
		t.Fatalf("ticket = %s, rating %d, category %q", tk.Status, tk.Rating, tk.Category)
	}
	if tk.AssignedAt.Before(tk.CreatedAt) || tk.ClosedAt.Before(tk.AssignedAt) {
		t.Fatalf("timings: created %v, assigned %v, closed %v", tk.CreatedAt, tk.AssignedAt, tk.ClosedAt)
	}
	audit, err := h.main.DB.Desk().Audit(context.Background(), id)
	if err != nil || len(audit) != 2 || audit[0].To != handoff.Assigned || audit[1].To != handoff.Resolved {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	// after the handoff the flows answer again
	h.send(textUpdate(nextUpdateID(), resident, "/menu"))
	h.settle()
	h.waitFor(resident, plain(h.main.Flows.Text("vi", "menu", nil)))
}

// 100 volunteers tap "claim" at once: one assignment, every tap answered.
func TestHandoffHundredConcurrentClaims(t *testing.T) {
	h := startDesk(t)
	id := h.waitingTicket(newChatID())
	d := h.main.DB.Desk()
	ctx := context.Background()
	users := make([]int64, 100)
	for i := range users {
		users[i] = newChatID()
		u := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(users[i], 10)}
		v, err := d.Apply(ctx, handoff.Volunteer{User: u, Chat: u, Name: fmt.Sprint("v", i)}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	answered := len(h.api.Answers())
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Go(func() {
			h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, u, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
		})
	}
	wg.Wait()
	h.settle()
	if n := len(h.api.Answers()) - answered; n != 100 {
		t.Fatalf("%d taps answered, want 100", n)
	}
	won := 0
	for _, a := range h.api.Answers()[answered:] {
		if strings.Contains(a.Text, "Bạn đã nhận") {
			won++
		}
	}
	tk := h.ticket(id)
	if won != 1 || tk.Status != handoff.Assigned {
		t.Fatalf("%d taps won, ticket %s", won, tk.Status)
	}
}

// Who may do what: a resident, an applicant and a suspended volunteer
// cannot claim, release, resolve, approve or read transcripts.
func TestHandoffRoles(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	id := h.waitingTicket(newChatID())
	ids := strconv.FormatInt(id, 10)
	stranger := newChatID()

	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, stranger, 1, "dk:claim:"+ids))
	h.settle()
	if a := h.api.Answers(); !a[len(a)-1].ShowAlert || h.ticket(id).Status != handoff.Waiting {
		t.Fatalf("a stranger's claim: %+v, ticket %s", a[len(a)-1], h.ticket(id).Status)
	}
	for _, cmd := range []string{"/release", "/done", "/transcript " + ids, "/approve 1", "/next"} {
		h.send(textUpdate(nextUpdateID(), stranger, cmd))
	}
	h.send(buttonUpdate(nextUpdateID(), stranger, "dk:done:"+ids+":vneid"))
	h.send(buttonUpdate(nextUpdateID(), stranger, "dk:ok:1"))
	h.settle()
	if tk := h.ticket(id); tk.Status != handoff.Waiting {
		t.Fatalf("a stranger changed the ticket: %s", tk.Status)
	}
	for _, m := range h.sentTo(stranger) {
		if strings.Contains(m.Plain, "#"+ids+" ") && strings.Contains(m.Plain, "📜") {
			t.Fatal("a stranger read a transcript")
		}
	}
	// a volunteer is not an organizer
	h.send(textUpdate(nextUpdateID(), vol, "/suspend 1"))
	h.settle()
	h.waitFor(vol, h.text("desk_not_organizer"))
	// suspended: cannot claim
	v, err := h.main.DB.Desk().Volunteer(context.Background(), bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(vol, 10)})
	if err != nil {
		t.Fatal(err)
	}
	h.send(textUpdate(nextUpdateID(), h.org, "/suspend "+strconv.FormatInt(v.ID, 10)))
	h.settle()
	h.waitFor(vol, h.text("desk_suspended"))
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.send(textUpdate(nextUpdateID(), vol, "/next"))
	h.settle()
	if tk := h.ticket(id); tk.Status != handoff.Waiting {
		t.Fatalf("a suspended volunteer took the ticket: %s", tk.Status)
	}
}
