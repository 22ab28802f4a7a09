package bot

import (
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/flows"
)

// intakeWorld plays turns of one resident through the pure turn.
type intakeWorld struct {
	t    *testing.T
	svc  *Service
	set  *flows.Set
	conv Conversation
	last turn
}

func newIntakeWorld(t *testing.T, withAreas bool) *intakeWorld {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{WaitingNotice: 10 * time.Minute}
	if withAreas {
		cfg.Areas = areas.Sample()
	}
	return &intakeWorld{t: t, svc: &Service{cfg: cfg}, set: set, conv: Conversation{Flow: flows.State{Lang: "vi"}}}
}

func (w *intakeWorld) play(in Inbound) turn {
	w.t.Helper()
	if in.Kind == 0 {
		in.Kind = InText
	}
	t := turn{svc: w.svc, set: w.set, conv: w.conv, in: in, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	t.run()
	if len(t.out) == 0 {
		w.t.Fatalf("no reply to %+v", in)
	}
	w.conv, w.last = t.conv, t
	return t
}

func (w *intakeWorld) tap(data string) turn { return w.play(Inbound{Kind: InButton, Data: data}) }
func (w *intakeWorld) say(text string) turn { return w.play(Inbound{Kind: InText, Text: text}) }

func data(o flows.Output) []string {
	var d []string
	for _, r := range o.Buttons {
		for _, b := range r {
			d = append(d, b.Data)
		}
	}
	return d
}

func has(o flows.Output, prefix string) bool {
	for _, d := range data(o) {
		if strings.HasPrefix(d, prefix) {
			return true
		}
	}
	return false
}

func lastOut(t turn) flows.Output { return t.out[len(t.out)-1] }

// The volunteer button asks what the problem is, then the ward (paged, or
// typed without diacritics), then opens the ticket with both.
func TestIntakeTopicThenArea(t *testing.T) {
	w := newIntakeWorld(t, true)
	r := w.tap("nav:human")
	if r.handoff != nil || w.conv.Intake == nil || !has(lastOut(r), dataIntakeTop+"scam") || !has(lastOut(r), "nav:menu") {
		t.Fatalf("no topic question: %+v %+v", r.out, r.handoff)
	}
	// a stale topic, then a real one
	r = w.tap(dataIntakeTop + "🙂")
	if r.out[0].Text != w.set.Text("vi", "stale_button", nil) || !has(lastOut(r), dataIntakeTop) {
		t.Fatalf("stale topic: %+v", r.out)
	}
	r = w.tap(dataIntakeTop + "dvc")
	if o := lastOut(r); !has(o, dataIntakeArea) || !has(o, dataIntakePage+"1") || !has(o, dataIntakeSkip) || has(o, dataIntakePage+"0") {
		t.Fatalf("first page: %v", data(lastOut(r)))
	}
	r = w.tap(dataIntakePage + "1")
	if !has(lastOut(r), dataIntakePage+"0") || !has(lastOut(r), dataIntakePage+"2") {
		t.Fatalf("second page: %v", data(lastOut(r)))
	}
	r = w.tap(dataIntakePage + "99999999999999999999") // not a number we page to
	r = w.tap(dataIntakePage + "999")                  // clamped to the last page
	if has(lastOut(r), dataIntakePage+"1000") || !has(lastOut(r), dataIntakeArea) {
		t.Fatalf("last page: %v", data(lastOut(r)))
	}
	// typed: nothing found, then two found, then the pick
	r = w.say("zzzz")
	if !strings.Contains(lastOut(r).Text, "chưa tìm thấy") {
		t.Fatalf("no match: %q", lastOut(r).Text)
	}
	if r := w.say("PHÚ XUÂN"); !has(lastOut(r), dataIntakeArea+"phuong_phu_xuan") {
		t.Fatalf("with diacritics: %v", data(lastOut(r)))
	}
	r = w.say("phu xuan")
	if !has(lastOut(r), dataIntakeArea+"phuong_phu_xuan") || r.handoff != nil {
		t.Fatalf("pick: %v", data(lastOut(r)))
	}
	r = w.tap(dataIntakeArea + "phuong_phu_xuan")
	h := r.handoff
	if h == nil || h.Topic != "dvc" || h.Area != "phuong_phu_xuan" || h.Flow != "volunteer" || w.conv.Intake != nil {
		t.Fatalf("ticket: %+v", h)
	}
	if r.newArea == nil || *r.newArea != "phuong_phu_xuan" || w.conv.Area != "phuong_phu_xuan" {
		t.Fatalf("area not kept: %v %q", r.newArea, w.conv.Area)
	}
	if !has(lastOut(r), "nav:cancel") || !strings.Contains(lastOut(r).Text, "danh sách chờ") {
		t.Fatalf("handoff message: %+v", lastOut(r))
	}
	// the same tap again, once the ticket waits: the waiting notice, no second ticket
	w.conv.Ticket = 7
	r = w.tap(dataIntakeArea + "phuong_phu_xuan")
	if r.handoff != nil || !strings.Contains(r.out[0].Text, "giữ tin nhắn") {
		t.Fatalf("repeated tap: %+v", r.out)
	}
}

// From a flow with a topic and with a known area, the ticket opens at
// once; without areas there is no area question; "Bỏ qua" skips it.
func TestIntakeSkips(t *testing.T) {
	w := newIntakeWorld(t, true)
	w.conv.Area = "phuong_phu_xuan"
	w.conv.Flow = flows.State{Flow: "scam_safety", Step: "victim_5", Lang: "vi"}
	r := w.tap("nav:human")
	if r.handoff == nil || r.handoff.Topic != "scam" || r.handoff.Area != "phuong_phu_xuan" || r.handoff.Flow != "scam_safety" {
		t.Fatalf("scam: %+v", r.handoff)
	}

	w = newIntakeWorld(t, false)
	w.tap("nav:human")
	r = w.tap(dataIntakeTop + "vneid")
	if r.handoff == nil || r.handoff.Area != "" {
		t.Fatalf("no areas: %+v", r.handoff)
	}

	w = newIntakeWorld(t, true)
	w.conv.Flow = flows.State{Flow: "install_vneid", Step: "phone", Lang: "vi"}
	r = w.tap("nav:human")
	if !has(lastOut(r), dataIntakeSkip) {
		t.Fatalf("install_vneid has a topic: the area comes first: %v", data(lastOut(r)))
	}
	r = w.say("bo qua")
	if r.handoff == nil || r.handoff.Topic != "vneid" || r.handoff.Area != "" || r.handoff.Step != "phone" || r.newArea != nil {
		t.Fatalf("skip: %+v", r.handoff)
	}
}

// Typed text at the topic question: a name picks the topic, other text is
// kept for the volunteer (masked, clipped); a way-out word leaves; /huy
// drops the request; old buttons without a question are stale.
func TestIntakeTypedAndWayOut(t *testing.T) {
	w := newIntakeWorld(t, false)
	w.tap("nav:human")
	r := w.say("lừa đảo")
	if r.handoff == nil || r.handoff.Topic != "scam" {
		t.Fatalf("typed topic: %+v", r.handoff)
	}

	w = newIntakeWorld(t, false)
	w.tap("nav:human")
	r = w.say("mã OTP của bác là 123456")
	if r.handoff != nil || w.conv.Intake == nil || !strings.Contains(r.out[0].Text, "OTP") {
		t.Fatalf("an OTP at the question: %+v", r.out)
	}
	huge := strings.Repeat("ệ\u0301\u200d😀", 2000)
	r = w.say(huge)
	if r.handoff == nil || r.handoff.Topic != "other" || len(r.transcript) != 1 || len([]rune(r.transcript[0].Text)) > maxNote {
		t.Fatalf("note: %+v, %d lines", r.handoff, len(r.transcript))
	}

	w = newIntakeWorld(t, true)
	w.tap("nav:human")
	w.tap(dataIntakeTop + "vneid")
	r = w.say("menu")
	if w.conv.Intake != nil || r.handoff != nil || !strings.Contains(lastOut(r).Text, w.set.Text("vi", "menu", nil)) {
		t.Fatalf("way out: %+v", r.out)
	}

	w = newIntakeWorld(t, true)
	w.tap("nav:human")
	r = w.play(Inbound{Kind: InCommand, Command: "huy"})
	if w.conv.Intake != nil || r.cancel || r.handoff != nil {
		t.Fatalf("/huy: %+v", r.out)
	}
	r = w.tap(dataIntakeSkip)
	if r.handoff != nil || !strings.Contains(r.out[0].Text, w.set.Text("vi", "stale_button", nil)[:20]) {
		t.Fatalf("stale skip: %+v", r.out)
	}
}

// /start <area code> from a QR poster keeps the area; an unknown code is
// just the greeting; offices fill flow texts.
func TestStartAreaAndOffices(t *testing.T) {
	w := newIntakeWorld(t, true)
	r := w.play(Inbound{Kind: InCommand, Command: "start", Args: "phuong_phu_xuan"})
	if r.newArea == nil || w.conv.Area != "phuong_phu_xuan" || len(r.out) != 3 || !strings.Contains(r.out[1].Text, "Phường Phú Xuân") {
		t.Fatalf("/start area: %+v", r.out)
	}
	w2 := newIntakeWorld(t, true)
	for _, arg := range []string{"nope", strings.Repeat("x", 5000), "phuong_phu_xuan\x00", "../../etc"} {
		r = w2.play(Inbound{Kind: InCommand, Command: "start", Args: arg})
		if r.newArea != nil || w2.conv.Area != "" {
			t.Fatalf("/start %q set an area", arg)
		}
	}
	p := r.place()
	if !strings.Contains(p["office_police"], "nơi Bác ở") {
		t.Fatalf("unknown: %v", p)
	}
	p = w.last.place()
	if p["office_public_service"] != "Trung tâm Phục vụ hành chính công phường Phú Xuân (394 Đinh Tiên Hoàng)" || p["office_police"] != "Công an Phường Phú Xuân" {
		t.Fatalf("known: %v", p)
	}
}

// A sentence typed at the ward question is the problem, not a name: it is
// kept for the volunteer and the ticket opens.
func TestIntakeSentenceAtAreaQuestion(t *testing.T) {
	w := newIntakeWorld(t, true)
	w.tap("nav:human")
	w.tap(dataIntakeTop + "vneid")
	r := w.say("máy tôi là Samsung A12")
	if r.handoff == nil || r.handoff.Area != "" || len(r.transcript) != 1 || !strings.Contains(r.transcript[0].Text, "Samsung") {
		t.Fatalf("sentence: %+v %+v", r.handoff, r.transcript)
	}
}
