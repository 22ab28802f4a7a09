package flows

import (
	"strings"
	"testing"
)

// offered reports whether r offers a volunteer (the 🙋 button and "Thử
// lại") without asking for a ticket.
func offered(r Result) bool {
	if r.Handoff != nil || len(r.Out) != 1 {
		return false
	}
	var human, retry bool
	for _, row := range r.Out[0].Buttons {
		for _, b := range row {
			human = human || b.Data == dataHuman
			retry = retry || b.Data == dataRetry
		}
	}
	return human && retry
}

// A resident who writes that they are stuck is offered a volunteer, with or
// without diacritics, at the menu or inside a guide, and stays where they
// were; scam talk in the same message still opens the warning first.
func TestBundledStuckPhrasesOfferAVolunteer(t *testing.T) {
	s := loadBundled(t)
	states := []State{
		{},
		{Flow: "install_vneid", Step: "phone"}, // a choice question
		{Flow: "troubleshoot", Step: "choose"}, // a list of buttons
		{Flow: "scam_safety", Step: "rule_3"},  // inside the scam flow
		{Flow: "register_level1", Step: "stage", Lang: "en"},
	}
	phrases := []string{
		"cho tôi gặp người", "cho toi gap nguoi", "GẶP NGƯỜI",
		"tôi không làm được", "toi khong lam duoc", "bác làm mãi mà vẫn không làm được cái này cháu ơi",
		"tư vấn viên", "tu van vien", "cho gặp tư vấn viên đi",
		"nhờ người giúp", "nho nguoi giup voi", "Nhờ Người Giúp",
		"I can't do it",
	}
	for _, st := range states {
		for _, p := range phrases {
			r := s.Advance(st, Input{Kind: InputText, Text: p}, bundledNow)
			checkResult(t, r)
			if !offered(r) {
				t.Errorf("%q at %s/%s: not an offer:\n%s", p, st.Flow, st.Step, dump(r))
				continue
			}
			if r.State.Flow != st.Flow || r.State.Step != st.Step {
				t.Errorf("%q at %s/%s moved the resident to %s/%s", p, st.Flow, st.Step, r.State.Flow, r.State.Step)
			}
		}
	}
	// signals win
	for _, p := range []string{"có người gọi xin mã otp, tôi không làm được", "nguoi la goi bao cap nhat vneid, cho toi gap nguoi"} {
		for _, st := range states {
			r := s.Advance(st, Input{Kind: InputText, Text: p}, bundledNow)
			if r.State.Flow != "scam_safety" || offered(r) {
				t.Errorf("%q at %s/%s: %s/%s, offered %v", p, st.Flow, st.Step, r.State.Flow, r.State.Step, offered(r))
			}
		}
	}
	// an answer is still an answer: "không làm được" at a yes/no question is no
	r := s.Advance(State{Flow: "activate_account", Step: "login"}, Input{Kind: InputText, Text: "không làm được"}, bundledNow)
	if offered(r) || r.State.Step == "login" {
		t.Errorf("a yes/no answer was taken for an offer:\n%s", dump(r))
	}
	// the explicit request still opens a ticket at once
	r = s.Advance(State{}, Input{Kind: InputText, Text: "gặp tình nguyện viên"}, bundledNow)
	if r.Handoff == nil {
		t.Errorf("gặp tình nguyện viên: no handoff:\n%s", dump(r))
	}
}

// After three wrong answers to one question the resident is offered a
// volunteer; "Thử lại" asks the question again with a fresh count, the
// button brings the ticket. Stale or repeated "Thử lại" taps are harmless.
func TestBundledThreeWrongAnswersOfferAVolunteer(t *testing.T) {
	s := loadBundled(t)
	st := State{Flow: "install_vneid", Step: "phone"}
	for i, text := range []string{"blackberry", "xyz qwe", strings.Repeat("𝔸\u0301\u200d", 900)} {
		r := s.Advance(st, Input{Kind: InputText, Text: text}, bundledNow)
		checkResult(t, r)
		st = r.State
		if i < 2 && (offered(r) || st.Attempts != i+1) {
			t.Fatalf("wrong answer %d: attempts %d\n%s", i+1, st.Attempts, dump(r))
		}
		if i == 2 && (!offered(r) || st.Attempts != 0 || st.Step != "phone") {
			t.Fatalf("third wrong answer: attempts %d\n%s", st.Attempts, dump(r))
		}
	}
	for range 2 { // a double tap
		r := s.Advance(st, Input{Kind: InputButton, Data: dataRetry}, bundledNow)
		checkResult(t, r)
		if r.State.Step != "phone" || r.Handoff != nil || offered(r) {
			t.Fatalf("Thử lại:\n%s", dump(r))
		}
		st = r.State
	}
	r := s.Advance(st, Input{Kind: InputButton, Data: dataHuman}, bundledNow)
	if r.Handoff == nil || r.Handoff.Flow != "install_vneid" || r.Handoff.Step != "phone" || r.Handoff.At != "volunteer/request" {
		t.Fatalf("volunteer: %+v", r.Handoff)
	}
	// "Thử lại" with nothing to retry shows the menu
	r = s.Advance(State{}, Input{Kind: InputButton, Data: dataRetry}, bundledNow)
	if r.State.Flow != "" || len(r.Out) != 1 || len(r.Out[0].Buttons) < 3 {
		t.Fatalf("Thử lại at the menu:\n%s", dump(r))
	}
}

// Place fills placeholders for one turn only; a saved answer wins; the
// handoff message can be shown again later.
func TestPlaceAndHandoffOutput(t *testing.T) {
	s := loadBundled(t)
	place := map[string]string{"office_police": "Công an phường Phú Xuân", "name": "not me"}
	r := s.Advance(State{Vars: map[string]string{"name": "Lan"}}, Input{Kind: InputCommand, Command: "menu", Place: place}, bundledNow)
	if _, kept := r.State.Vars["office_police"]; kept || r.State.Vars["name"] != "Lan" {
		t.Fatalf("vars after a turn: %v", r.State.Vars)
	}
	out, ok := s.HandoffOutput("volunteer/request", "vi", nil)
	if !ok || !strings.Contains(out.Text, "danh sách chờ") || out.Buttons[0][0].Data != dataCancel {
		t.Fatalf("HandoffOutput: %+v %v", out, ok)
	}
	for _, at := range []string{"", "volunteer", "volunteer/nope", "install_vneid/phone", "/", strings.Repeat("x/", 1000)} {
		if _, ok := s.HandoffOutput(at, "vi", nil); ok {
			t.Errorf("HandoffOutput(%q) ok", at)
		}
	}
	for _, f := range s.Flows() {
		if f.Topic != "" && s.Text("vi", "desk_category_"+f.Topic, nil) == "desk_category_"+f.Topic {
			t.Errorf("flow %s: topic %q has no desk category", f.ID, f.Topic)
		}
	}
	if f, _ := s.Flow("scam_safety"); f.Topic != "scam" {
		t.Errorf("scam_safety topic %q", f.Topic)
	}
}

func TestBundledOfficePlaceholder(t *testing.T) {
	s := loadBundled(t)
	r := s.Advance(State{Flow: "level2", Step: "try_activate"}, Input{Kind: InputButton, Data: findData(t, s, "level2", "try_activate", 1),
		Place: map[string]string{"office_police": "Công an phường Phú Xuân (12 Lê Lợi)"}}, bundledNow)
	if r.State.Step != "go_police" || !strings.Contains(r.Out[0].Text, "Gần Bác nhất: **Công an phường Phú Xuân (12 Lê Lợi)**") {
		t.Fatalf("go_police:\n%s", dump(r))
	}
}

// findData is the callback data of button i of a message step.
func findData(t *testing.T, s *Set, flow, step string, i int) string {
	t.Helper()
	_, st, ok := s.step(flow, step)
	if !ok || i >= len(st.data) {
		t.Fatalf("no button %d at %s/%s", i, flow, step)
	}
	return st.data[i]
}
