package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store/storetest"
)

const volunteerGroup = -1009001

// deskHarness is gocua with an organizer (GOCUA_ADMINS) and a volunteers' group.
type deskHarness struct {
	*harness
	org  int64
	opts []option // what started it: a second replica starts the same way
}

// replica starts a second gocua on the same stores, Bot API and desk.
func (h *deskHarness) replica(t *testing.T) *harness {
	return start(t, h.api, h.opts...)
}

func startDesk(t *testing.T) *deskHarness {
	return startDeskWith(t, nil)
}

// startDeskWith starts gocua with a desk on a database of the test's own:
// the queue, the board and the timers see only this test's tickets.
func startDeskWith(t *testing.T, api *telegramtest.Server, opts ...option) *deskHarness {
	org := newChatID()
	opts = append([]option{
		withEnv("GOCUA_DATABASE_URL", freshDatabase(t)),
		withEnv("GOCUA_HTTP_ADDR", "127.0.0.1:0"),
		withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)),
		withEnv("GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", strconv.Itoa(volunteerGroup)),
	}, opts...)
	return &deskHarness{harness: start(t, api, opts...), org: org, opts: opts}
}

// freshDatabase creates an empty database dropped after the test.
func freshDatabase(t testing.TB) string {
	t.Helper()
	name := storetest.DatabaseName("gocua_desk")
	u, err := storetest.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := storetest.DropDatabase(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return u
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
	t.Run("postgres+redis", func(t *testing.T) { testClaimRelayResolveRate(t, startDesk(t)) })
	t.Run("embedded", func(t *testing.T) {
		h := startDeskWith(t, nil, withEnv("GOCUA_DATABASE_URL", ""), withEnv("GOCUA_REDIS_URL", ""),
			withEnv("GOCUA_DATA_DIR", t.TempDir()))
		if !h.main.Embedded.Database || !h.main.Embedded.Redis {
			t.Fatalf("embedded = %+v", h.main.Embedded)
		}
		testClaimRelayResolveRate(t, h)
	})
}

func testClaimRelayResolveRate(t *testing.T, h *deskHarness) {
	vol := h.volunteer()
	resident := newChatID()
	// the resident gets stuck in the VNeID install guide and asks for a person
	h.send(textUpdate(nextUpdateID(), resident, "/start"))
	h.settle()
	menu := h.sentTo(resident)
	h.send(buttonUpdate(nextUpdateID(), resident, firstFlowButton(t, menu[len(menu)-1])))
	h.send(buttonUpdate(nextUpdateID(), resident, "nav:human"))
	h.send(buttonUpdate(nextUpdateID(), resident, "in:skip")) // the ward
	h.send(textUpdate(nextUpdateID(), resident, "Em bấm quét NFC mà không được"))
	h.settle()
	conv, _, err := h.main.Redis.Load(context.Background(), key(resident), "")
	if err != nil || conv.Ticket == 0 {
		t.Fatalf("no ticket: %+v %v", conv, err)
	}
	id := conv.Ticket
	ids := strconv.FormatInt(id, 10)
	if tk := h.ticket(id); tk.Flow != "install_vneid" || tk.Topic != "vneid" {
		t.Fatalf("ticket opened at %s/%s about %q, want the install guide's, about vneid", tk.Flow, tk.Step, tk.Topic)
	}

	// its card reaches the volunteers' group; the claim tap on it is answered
	card := h.waitFor(volunteerGroup, "#"+ids)
	if !strings.Contains(card.Plain, "install_vneid") || len(card.Keyboard) == 0 {
		t.Fatalf("card = %q %+v", card.Plain, card.Keyboard)
	}
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, card.MessageID, card.Keyboard[0][0].CallbackData))
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
	// every message arrives (the waits bound how late), in the order sent
	h.waitFor(vol, "dân 4")
	h.waitFor(resident, "tnv 4")
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

// 100 volunteers tap "claim" at once, their taps spread over two replicas
// on the same stores: one assignment, every tap answered.
func TestHandoffHundredConcurrentClaims(t *testing.T) {
	h := startDesk(t)
	second := h.replica(t)
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
	for i, u := range users {
		wg.Go(func() {
			body := []byte(telegramtest.Callback(nextUpdateID(), volunteerGroup, u, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
			to := h.harness
			if i%2 == 1 {
				to = second
			}
			if code := to.post(body); code != http.StatusOK {
				t.Errorf("tap answered %d", code)
			}
		})
	}
	wg.Wait()
	h.settle()
	second.settle()
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

// messageUpdate is a private message from chat with extra fields (a
// sticker, a location, a document, a reply).
func messageUpdate(id, chat int64, fields map[string]any) map[string]any {
	u := textUpdate(id, chat, "")
	m := u["message"].(map[string]any)
	delete(m, "text")
	for k, v := range fields {
		m[k] = v
	}
	return u
}

// What cannot be relayed gets a clear answer, what can is relayed whatever
// its size (a Telegram file goes by reference), and a message to a closed
// ticket is not lost in silence.
func TestHandoffBadInput(t *testing.T) {
	h := startDesk(t)
	vol := h.volunteer()
	resident := newChatID()
	id := h.waitingTicket(resident)
	ids := strconv.FormatInt(id, 10)
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.settle()
	h.waitFor(resident, "đã nhận yêu cầu")

	notRelayed := h.text("desk_not_relayed")
	h.send(messageUpdate(nextUpdateID(), resident, map[string]any{"sticker": map[string]any{
		"file_id": "CAACAgIAAxkBsticker", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512}}))
	h.settle()
	h.waitFor(resident, notRelayed)
	h.send(messageUpdate(nextUpdateID(), vol, map[string]any{"location": map[string]any{"latitude": 16.46, "longitude": 107.59}}))
	h.settle()
	h.waitFor(vol, notRelayed)

	// a 20 MB document goes by its file_id
	h.send(messageUpdate(nextUpdateID(), resident, map[string]any{"document": map[string]any{
		"file_id": "BQACAgIAAxkBbigdoc", "file_unique_id": "d1", "file_name": "giay-to.pdf",
		"mime_type": "application/pdf", "file_size": 20 << 20}, "caption": "giấy tờ của bác"}))
	h.settle()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.ContainsFunc(h.sentTo(vol), func(m telegramtest.SentMessage) bool {
		return m.Method == "sendDocument" && m.File != nil && m.File.FileID == "BQACAgIAAxkBbigdoc"
	}) {
		if time.Now().After(deadline) {
			t.Fatalf("the document did not reach the volunteer: %v", texts(h.sentTo(vol)))
		}
		time.Sleep(10 * time.Millisecond)
	}

	// an edit is not re-sent, and the resident is told
	edited := textUpdate(nextUpdateID(), resident, "sửa lại")
	edited["edited_message"] = edited["message"]
	delete(edited, "message")
	h.send(edited)
	h.settle()
	h.waitFor(resident, h.text("desk_edited"))

	// closed: the volunteer's next message and a reply to the resident's
	// relayed message are answered, not relayed
	h.send(textUpdate(nextUpdateID(), vol, "/done"))
	h.send(buttonUpdate(nextUpdateID(), vol, "dk:done:"+ids+":other"))
	h.settle()
	before := len(h.sentTo(resident))
	h.send(textUpdate(nextUpdateID(), vol, "Bác ơi còn gì không ạ"))
	reply := textUpdate(nextUpdateID(), vol, "trả lời tin cũ")
	reply["message"].(map[string]any)["reply_to_message"] = map[string]any{
		"message_id": 3, "date": time.Now().Unix(), "chat": map[string]any{"id": vol, "type": "private"},
		"from": map[string]any{"id": telegramtest.BotID, "is_bot": true, "first_name": "gocua"},
		"text": "💬 #" + ids + " · Lan:\nEm bấm quét NFC mà không được"}
	h.send(reply)
	h.settle()
	h.waitFor(vol, h.text("desk_idle"))
	h.waitFor(vol, h.text("desk_unknown_ticket", "id", ids))
	for _, m := range h.sentTo(resident)[before:] {
		if strings.Contains(m.Plain, "còn gì không") || strings.Contains(m.Plain, "tin cũ") {
			t.Fatalf("a message to a closed ticket reached the resident: %q", m.Plain)
		}
	}
	// a stale claim button on a closed ticket
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+ids))
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:abc"))
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "nav:menu"))
	h.settle()
	answers := h.api.Answers()
	for _, a := range answers[len(answers)-3:] {
		if a.Text == "" {
			t.Fatalf("a stale tap got no answer: %+v", answers[len(answers)-3:])
		}
	}
}

// offDutyHours is a schedule whose only window is on another weekday than
// today in Vietnam, so the test runs outside volunteer hours any day.
func offDutyHours() string {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		loc = time.FixedZone("ICT", 7*3600)
	}
	day := []string{"CN", "T2", "T3", "T4", "T5", "T6", "T7"}[(int(time.Now().In(loc).Weekday())+3)%7]
	return day + " 07:30-11:30"
}

// Outside volunteer hours the resident is told honestly when someone will
// answer, the ticket waits, and on Telegram they can leave their own phone
// number (with consent) for a call back, which the volunteer who takes the
// ticket sees.
func TestHandoffOutsideHours(t *testing.T) {
	h := startDeskWith(t, nil, withEnv("GOCUA_VOLUNTEER_HOURS", offDutyHours()))
	vol := h.volunteer()
	resident := newChatID()
	id := h.waitingTicket(resident)
	closed := h.waitFor(resident, "ngoài giờ trực")
	if len(closed.Keyboard) == 0 || closed.Keyboard[0][0].CallbackData != bot.DataCallback {
		t.Fatalf("no call-back button: %+v", closed.Keyboard)
	}
	if tk := h.ticket(id); tk.Status != handoff.Waiting {
		t.Fatalf("the ticket is %s outside hours, want waiting", tk.Status)
	}
	h.send(buttonUpdate(nextUpdateID(), resident, bot.DataCallback))
	h.settle()
	ask := h.waitFor(resident, "gọi lại")
	if ask.ReplyKeyboard == nil || len(ask.ReplyKeyboard.Buttons) != 2 || !ask.ReplyKeyboard.Buttons[0][0].RequestContact {
		t.Fatalf("the consent message has no share-my-number keyboard: %+v", ask.ReplyKeyboard)
	}
	// someone else's number is refused, one's own is kept
	contact := func(userID int64) map[string]any {
		return messageUpdate(nextUpdateID(), resident, map[string]any{"contact": map[string]any{
			"phone_number": "+84 912 345 678", "first_name": "Lan", "user_id": userID}})
	}
	h.send(contact(resident + 1))
	h.settle()
	h.waitFor(resident, h.text("desk_callback_other"))
	if tk := h.ticket(id); tk.Callback != "" {
		t.Fatalf("someone else's number was kept: %q", tk.Callback)
	}
	h.send(contact(resident))
	h.settle()
	saved := h.waitFor(resident, h.text("desk_callback_saved"))
	if saved.ReplyKeyboard == nil || !saved.ReplyKeyboard.Removed {
		t.Fatalf("the keyboard was not taken away: %+v", saved.ReplyKeyboard)
	}
	if tk := h.ticket(id); tk.Callback != "+84912345678" {
		t.Fatalf("call-back number = %q", tk.Callback)
	}
	// the card in the group never shows it; the volunteer who takes it does
	for _, m := range h.sentTo(volunteerGroup) {
		if strings.Contains(m.Plain, "912") {
			t.Fatalf("the group saw the number: %q", m.Plain)
		}
	}
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+strconv.FormatInt(id, 10)))
	h.settle()
	h.waitFor(vol, "+84912345678")
}

// A volunteer names the wards they serve when they apply: found by typing
// part of a name without diacritics, shown to the organizer, stored.
func TestHandoffVolunteerPicksWards(t *testing.T) {
	h := startDesk(t)
	v := newChatID()
	h.send(textUpdate(nextUpdateID(), v, "/volunteer"))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:sk:vneid"))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:wards"))
	h.send(textUpdate(nextUpdateID(), v, "phu xuan"))
	h.settle()
	sent := h.sentTo(v)
	found := sent[len(sent)-1] // the ward screen with what "phu xuan" matched
	var pick string
	for _, row := range found.Keyboard {
		for _, b := range row {
			if strings.HasPrefix(b.CallbackData, "dk:ar:") && strings.Contains(b.Text, "Phú Xuân") {
				pick = b.CallbackData
			}
		}
	}
	if pick == "" {
		t.Fatalf("no ward button for \"phu xuan\": %+v", found.Keyboard)
	}
	h.send(buttonUpdate(nextUpdateID(), v, pick))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:ar:no_such_ward"))
	h.send(buttonUpdate(nextUpdateID(), v, "dk:send"))
	h.settle()
	h.waitFor(h.org, "Ở: Phường Phú Xuân")
	// while the application waits, the applicant still uses the guides
	h.send(textUpdate(nextUpdateID(), v, "/start"))
	h.settle()
	h.waitFor(v, plain(h.main.Flows.Text("vi", "menu", nil)))
	vol, err := h.main.DB.Desk().Volunteer(context.Background(), bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(v, 10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vol.Areas) != 1 || vol.Areas[0] != strings.TrimPrefix(pick, "dk:ar:") || len(vol.Skills) != 1 {
		t.Fatalf("stored areas %v, skills %v", vol.Areas, vol.Skills)
	}
}
