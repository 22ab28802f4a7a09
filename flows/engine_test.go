package flows

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func mustLoadGood(tb testing.TB) *Set {
	tb.Helper()
	s, err := Load(Named("good", os.DirFS("testdata/good")))
	if err != nil {
		tb.Fatalf("Load(testdata/good): %v", err)
	}
	return s
}

// turn is one resident action in a transcript and what must follow.
type turn struct {
	in    Input
	tap   string        // instead of in: tap the button with this label in the previous reply
	after time.Duration // time since the previous turn (default 1 minute)

	want       []string // texts of the messages, in order
	flow, step string   // state afterwards
	expect     bool     // want, flow and step were given
	check      func(t *testing.T, r Result)
}

func start() turn            { return turn{in: Input{Kind: InputStart}} }
func say(text string) turn   { return turn{in: Input{Kind: InputText, Text: text}} }
func tap(label string) turn  { return turn{tap: label} }
func press(data string) turn { return turn{in: Input{Kind: InputButton, Data: data}} }
func cmd(name, args string) turn {
	return turn{in: Input{Kind: InputCommand, Command: name, Args: args}}
}

func (tr turn) then(flow, step string, want ...string) turn {
	tr.flow, tr.step, tr.want, tr.expect = flow, step, want, true
	return tr
}

func (tr turn) and(check func(t *testing.T, r Result)) turn {
	tr.check = check
	return tr
}

// play runs a transcript from st and returns the last result.
func play(t *testing.T, s *Set, st State, turns []turn) Result {
	t.Helper()
	now := t0
	var last Result
	for i, tr := range turns {
		in := tr.in
		if tr.tap != "" {
			b, ok := findButton(last, tr.tap)
			if !ok {
				t.Fatalf("turn %d: no button %q in %s", i, tr.tap, dump(last))
			}
			in = Input{Kind: InputButton, Data: b.Data}
		}
		if tr.after == 0 {
			tr.after = time.Minute
		}
		now = now.Add(tr.after)
		before := cloneState(st)
		r := s.Advance(st, in, now)
		if !reflect.DeepEqual(cloneState(st), before) {
			t.Fatalf("turn %d: Advance modified its input state", i)
		}
		switch {
		case len(r.Out) == 0 && r.Remind == nil:
			t.Fatalf("turn %d (%+v): no output", i, in)
		case len(r.Out) > 0 && r.Remind != nil:
			t.Fatalf("turn %d (%+v): a reminder with output (the core confirms it)\n%s", i, in, dump(r))
		}
		if got := texts(r); tr.expect && !slices.Equal(got, tr.want) {
			t.Fatalf("turn %d (%+v): texts\n got %q\nwant %q\n%s", i, in, got, tr.want, dump(r))
		}
		if tr.expect && (r.State.Flow != tr.flow || r.State.Step != tr.step) {
			t.Fatalf("turn %d (%+v): state %s/%s, want %s/%s\n%s", i, in, r.State.Flow, r.State.Step, tr.flow, tr.step, dump(r))
		}
		if !r.State.Seen.Equal(now) {
			t.Fatalf("turn %d: Seen = %v, want %v", i, r.State.Seen, now)
		}
		for _, e := range r.Events {
			if !e.At.Equal(now) {
				t.Fatalf("turn %d: event %+v not at now", i, e)
			}
		}
		if tr.check != nil {
			tr.check(t, r)
		}
		st, last = r.State, r
	}
	return last
}

func texts(r Result) []string {
	out := make([]string, len(r.Out))
	for i, o := range r.Out {
		out[i] = o.Text
	}
	return out
}

func findButton(r Result, label string) (Button, bool) {
	for _, o := range r.Out {
		for _, row := range o.Buttons {
			for _, b := range row {
				if b.Text == label {
					return b, true
				}
			}
		}
	}
	return Button{}, false
}

// labels lists the button labels of one message, row by row ("a|b" for a row of two).
func labels(o Output) []string {
	var out []string
	for _, row := range o.Buttons {
		var l []string
		for _, b := range row {
			l = append(l, b.Text)
		}
		out = append(out, strings.Join(l, "|"))
	}
	return out
}

func dump(r Result) string {
	var b strings.Builder
	for _, o := range r.Out {
		b.WriteString("  > " + o.Text + "\n")
		for _, row := range o.Buttons {
			b.WriteString("      ")
			for _, x := range row {
				b.WriteString("[" + x.Text + " " + x.Data + x.URL + "] ")
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("  events:")
	for _, e := range r.Events {
		b.WriteString(" " + string(e.Kind) + ":" + e.Flow + "/" + e.Step)
	}
	return b.String()
}

func events(r Result) []string {
	var out []string
	for _, e := range r.Events {
		out = append(out, string(e.Kind)+" "+e.Flow+"/"+e.Step)
	}
	return out
}

func wantEvents(want ...string) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if got := events(r); !slices.Equal(got, want) {
			t.Fatalf("events\n got %q\nwant %q", got, want)
		}
	}
}

func wantLabels(msg int, want ...string) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if got := labels(r.Out[msg]); !slices.Equal(got, want) {
			t.Fatalf("message %d buttons\n got %q\nwant %q", msg, got, want)
		}
	}
}

const (
	menuText = "Bác cần gì?"
	nav      = "Quay lại|Menu chính|Gặp tình nguyện viên"
)

var menuLabels = []string{"Cài VNeID", "Tôi gặp lỗi", "Ngôn ngữ", "Gặp tình nguyện viên"}

func TestAdvanceTranscripts(t *testing.T) {
	s := mustLoadGood(t)
	tests := []struct {
		name  string
		st    State
		turns []turn
	}{
		{"start greets by name and shows the menu", State{}, []turn{
			turn{in: Input{Kind: InputStart, Name: "Lan"}}.then("", "", "Chào Lan!", menuText).and(func(t *testing.T, r Result) {
				wantLabels(1, menuLabels...)(t, r)
				if r.State.Vars["name"] != "Lan" {
					t.Errorf("name not saved: %v", r.State.Vars)
				}
				if got := r.Out[1].Buttons[2][0].Data; got != "lang:" {
					t.Errorf("language button data %q", got)
				}
				if got := r.Out[1].Buttons[3][0].Data; got != "nav:human" {
					t.Errorf("volunteer button data %q", got)
				}
			}),
		}},
		{"start without a name uses name_default", State{}, []turn{
			start().then("", "", "Chào Bác!", menuText),
		}},
		{"keyword without diacritics starts a flow", State{}, []turn{
			say("cai vneid").then("install_vneid", "phone", "Điện thoại loại nào?").and(func(t *testing.T, r Result) {
				wantLabels(0, "Android (Samsung, Oppo…)", "iPhone", nav)(t, r)
				wantEvents("flow_started install_vneid/phone", "step_entered install_vneid/phone")(t, r)
			}),
		}},
		{"keyword with diacritics and capitals inside a sentence", State{}, []turn{
			say("Cho tôi hỏi cách CÀI   VNeID với!").then("install_vneid", "phone", "Điện thoại loại nào?"),
		}},
		{"quên mật khẩu starts troubleshooting", State{}, []turn{
			say("quên mật khẩu").then("troubleshoot", "pick", "Bác gặp lỗi gì?"),
		}},
		{"longest keyword wins", State{}, []turn{
			say("lỗi cài vneid").then("install_vneid", "phone", "Điện thoại loại nào?"),
		}},
		{"equal-length keywords: lowest flow id wins", State{}, []turn{
			say("lỗi vneid hay cài vneid").then("install_vneid", "phone", "Điện thoại loại nào?"),
		}},
		{"keyword only on word boundaries", State{}, []turn{
			say("loiz").then("", "", "Chưa hiểu", menuText),
		}},
		{"a greeting at the menu is greeted", State{}, []turn{
			say("Xin chào!").then("", "", "Chào Bác!", menuText),
		}},
		{"menu number at idle", State{}, []turn{
			say("2").then("troubleshoot", "pick", "Bác gặp lỗi gì?"),
		}},
		{"menu title at idle", State{}, []turn{
			say("tôi gặp lỗi").then("troubleshoot", "pick", "Bác gặp lỗi gì?"),
		}},
		{"menu button, choice by number, branch, continue, end", State{}, []turn{
			start().then("", "", "Chào Bác!", menuText),
			tap("Cài VNeID").then("install_vneid", "phone", "Điện thoại loại nào?"),
			say("1").then("install_vneid", "android", "Mở CH Play").and(func(t *testing.T, r Result) {
				wantLabels(0, "Tiếp tục", nav)(t, r)
				if r.State.Vars["phone"] != "android" {
					t.Errorf("phone = %q", r.State.Vars["phone"])
				}
				if !slices.Equal(r.State.Back, []string{"install_vneid/phone"}) {
					t.Errorf("back = %q", r.State.Back)
				}
			}),
			tap("Tiếp tục").then("install_vneid", "android_2", "Bấm Cài đặt").and(func(t *testing.T, r Result) {
				wantLabels(0, "Xong rồi", "Lỗi NFC", "Mở trang hướng dẫn", nav)(t, r)
				b, _ := findButton(r, "Mở trang hướng dẫn")
				if b.URL != "https://dean06.hanam.gov.vn/tailieu/dk_t3.html" || b.Data != "" {
					t.Errorf("url button = %+v", b)
				}
			}),
			tap("Xong rồi").then("", "", "Cài xong rồi!", menuText).and(func(t *testing.T, r Result) {
				wantEvents("step_entered install_vneid/done", "flow_completed install_vneid/done")(t, r)
				wantLabels(1, menuLabels...)(t, r)
				if r.State.Back != nil {
					t.Errorf("back kept after end: %q", r.State.Back)
				}
			}),
		}},
		{"choice by label, value and keyword, without diacritics", State{}, []turn{
			say("cài vneid"),
			say("may toi la IPHONE").then("install_vneid", "iphone", "Mở App Store"),
			cmd("menu", ""),
			say("tải vneid"),
			say("sam sung").then("install_vneid", "android", "Mở CH Play"),
			cmd("menu", ""),
			say("tải vneid"),
			say("android").then("install_vneid", "android", "Mở CH Play"),
		}},
		{"typed continue words and button numbers on a message step", State{}, []turn{
			say("cài vneid"),
			tap("Android (Samsung, Oppo…)").then("install_vneid", "android", "Mở CH Play"),
			say("tiếp tục").then("install_vneid", "android_2", "Bấm Cài đặt"),
			tap("Quay lại").then("install_vneid", "android", "Mở CH Play"),
			say("ok").then("install_vneid", "android_2", "Bấm Cài đặt"),
			say("xong rồi").then("", "", "Cài xong rồi!", menuText),
		}},
		{"typed number of a link button sends the link", State{}, []turn{
			say("cài vneid"), say("1"), say("1"),
			say("3").then("install_vneid", "android_2", "Mở trang hướng dẫn").and(func(t *testing.T, r Result) {
				if b := r.Out[0].Buttons[0][0]; b.URL == "" {
					t.Errorf("no link: %+v", b)
				}
			}),
		}},
		{"wrong choice: invalid + question again, then a volunteer is offered", State{}, []turn{
			say("cài vneid"),
			say("blackberry").then("install_vneid", "phone", "Câu trả lời chưa đúng", "Điện thoại loại nào?").and(func(t *testing.T, r Result) {
				if r.State.Attempts != 1 {
					t.Errorf("attempts = %d", r.State.Attempts)
				}
				if len(r.Events) != 0 {
					t.Errorf("re-showing a step is not an event: %q", events(r))
				}
			}),
			say("9").then("install_vneid", "phone", "Câu trả lời chưa đúng", "Điện thoại loại nào?"),
			say("nokia").then("install_vneid", "phone", "Khó quá à?").and(func(t *testing.T, r Result) {
				wantLabels(0, "Gặp tình nguyện viên", "Thử lại|Menu chính")(t, r)
				if r.State.Attempts != 0 || r.Handoff != nil {
					t.Errorf("attempts = %d, handoff %+v", r.State.Attempts, r.Handoff)
				}
			}),
			tap("Thử lại").then("install_vneid", "phone", "Điện thoại loại nào?"),
			say("nokia").then("install_vneid", "phone", "Câu trả lời chưa đúng", "Điện thoại loại nào?"),
			say("iphone").then("install_vneid", "iphone", "Mở App Store"),
		}},
		{"number with min/max, retries 1 and on_fail handoff", State{}, []turn{
			say("lỗi"),
			tap("Nhập tuổi").then("troubleshoot", "age", "Bác bao nhiêu tuổi?"),
			say("abc").then("troubleshoot", "age", "Bác gõ số tuổi, ví dụ 65", "Bác bao nhiêu tuổi?"),
			say("200").then("", "", "Mình nhờ tình nguyện viên giúp Bác").and(func(t *testing.T, r Result) {
				if r.Handoff == nil || *r.Handoff != (Handoff{Flow: "troubleshoot", Step: "help", Reason: "cannot fix", At: "troubleshoot/help"}) {
					t.Errorf("handoff = %+v", r.Handoff)
				}
				wantEvents("step_entered troubleshoot/help", "escalated troubleshoot/help")(t, r)
				wantLabels(0, "Hủy yêu cầu")(t, r)
				if r.Out[0].Buttons[0][0].Data != "nav:cancel" {
					t.Errorf("cancel data = %q", r.Out[0].Buttons[0][0].Data)
				}
			}),
		}},
		{"number answer saved and substituted", State{}, []turn{
			say("lỗi"), tap("Nhập tuổi"),
			say("tôi 65").then("troubleshoot", "age", "Bác gõ số tuổi, ví dụ 65", "Bác bao nhiêu tuổi?"),
			say(" 6 5 ").then("", "", "Bác 65 tuổi.", menuText),
		}},
		{"yes/no in many spellings drives a branch", State{}, []turn{
			say("quen mat khau"), tap("Quên mật khẩu"),
			say("dạ có").then("troubleshoot", "reset", "Bác ơi, bấm Quên mật khẩu. Số: {phone_model}"),
			tap("Quay lại").then("troubleshoot", "forgot", "Bác còn dùng số điện thoại cũ không?").and(wantLabels(0, "Có|Không", nav)),
			say("ko").then("", "", "Mình nhờ tình nguyện viên giúp Bác").and(func(t *testing.T, r Result) {
				if r.State.Vars["has_phone"] != "no" {
					t.Errorf("has_phone = %q", r.State.Vars["has_phone"])
				}
			}),
		}},
		{"yes/no buttons and chưa", State{}, []turn{
			say("quen mat khau"), tap("Quên mật khẩu"),
			say("chưa được").then("", "", "Mình nhờ tình nguyện viên giúp Bác"),
			say("quen mat khau"), tap("Quên mật khẩu"),
			tap("Có").then("troubleshoot", "reset", "Bác ơi, bấm Quên mật khẩu. Số: {phone_model}"),
		}},
		{"text question with pattern, then volunteer offered", State{}, []turn{
			say("hồ sơ").then("profile", "id_number", "Số định danh 12 số?"),
			say("0011 2233 4455").then("profile", "name", "Tên Bác là gì?").and(func(t *testing.T, r Result) {
				if r.State.Vars["id_number"] != "001122334455" {
					t.Errorf("id_number = %q", r.State.Vars["id_number"])
				}
			}),
			tap("Quay lại"),
			say("123").then("profile", "id_number", "Câu trả lời chưa đúng", "Số định danh 12 số?"),
			say("abc").then("profile", "id_number", "Câu trả lời chưa đúng", "Số định danh 12 số?"),
			say("12345").then("profile", "id_number", "Khó quá à?").and(wantLabels(0, "Gặp tình nguyện viên", "Thử lại|Menu chính")),
			tap("Gặp tình nguyện viên").then("", "", "Đã gọi tình nguyện viên").and(func(t *testing.T, r Result) {
				if r.Handoff == nil || *r.Handoff != (Handoff{Flow: "profile", Step: "id_number", Reason: "asked for a person", At: "volunteer/request"}) {
					t.Errorf("handoff = %+v", r.Handoff)
				}
				wantEvents("flow_abandoned profile/id_number", "flow_started volunteer/request",
					"step_entered volunteer/request", "escalated volunteer/request")(t, r)
			}),
		}},
		{"text answers: way-out words still work, unknown vars stay", State{}, []turn{
			say("hồ sơ"), say("001122334455"),
			say("Nguyễn Văn A").then("", "", "Cảm ơn Nguyễn Văn A, số 001122334455. {unknown}", menuText),
			say("hồ sơ"), say("001122334455"),
			say("Menu").then("", "", menuText),
		}},
		{"cross-flow button and back across flows", State{}, []turn{
			say("cài vneid"), say("android"), say("tiếp"),
			tap("Lỗi NFC").then("troubleshoot", "nfc", "Tháo ốp lưng rồi thử lại").and(
				wantEvents("flow_abandoned install_vneid/android_2", "flow_started troubleshoot/nfc", "step_entered troubleshoot/nfc")),
			tap("Quay lại").then("install_vneid", "android_2", "Bấm Cài đặt"),
			tap("Quay lại").then("install_vneid", "android", "Mở CH Play"),
			tap("Quay lại").then("install_vneid", "phone", "Điện thoại loại nào?"),
			tap("Quay lại").then("", "", menuText).and(wantEvents("flow_abandoned install_vneid/phone")),
		}},
		{"global words", State{}, []turn{
			say("cài vneid"), say("iphone"),
			say("quay lai").then("install_vneid", "phone", "Điện thoại loại nào?"),
			say("về menu chính").then("", "", menuText).and(wantEvents("flow_abandoned install_vneid/phone")),
			say("lỗi"),
			say("cho tôi gặp tình nguyện viên").then("", "", "Đã gọi tình nguyện viên").and(func(t *testing.T, r Result) {
				if r.Handoff == nil || r.Handoff.Flow != "troubleshoot" || r.Handoff.Step != "pick" {
					t.Errorf("handoff = %+v", r.Handoff)
				}
			}),
			say("human").then("", "", "Đã gọi tình nguyện viên").and(func(t *testing.T, r Result) {
				if r.Handoff == nil || r.Handoff.Flow != "volunteer" || r.Handoff.Step != "request" {
					t.Errorf("handoff = %+v", r.Handoff)
				}
			}),
		}},
		{"not understood mid-flow keeps the place", State{}, []turn{
			say("cài vneid"), say("iphone"),
			say("???").then("install_vneid", "iphone", "Chưa hiểu", "Mở App Store"),
			say("").then("install_vneid", "iphone", "Chưa hiểu", "Mở App Store"),
		}},
		{"commands", State{}, []turn{
			cmd("help", "").then("", "", "Trợ giúp", menuText),
			cmd("frobnicate", "").then("", "", "Chưa hiểu", menuText),
			say("cài vneid"),
			cmd("menu", "").then("", "", menuText).and(wantEvents("flow_abandoned install_vneid/phone")),
			cmd("start", "troubleshoot").then("troubleshoot", "pick", "Chào Bác!", "Bác gặp lỗi gì?"),
			cmd("start", "").then("", "", "Chào Bác!", menuText),
			cmd("lang", "").then("", "", "Chọn ngôn ngữ").and(wantLabels(0, "Tiếng Việt", "English", "Menu chính")),
			cmd("lang", "en").then("", "", "English it is", "What do you need?"),
		}},
		{"language switch, English with Vietnamese fallback", State{}, []turn{
			start(),
			tap("Ngôn ngữ").then("", "", "Chọn ngôn ngữ").and(func(t *testing.T, r Result) {
				if d := r.Out[0].Buttons[1][0].Data; d != "lang:en" {
					t.Errorf("English button data %q", d)
				}
			}),
			tap("English").then("", "", "English it is", "What do you need?").and(func(t *testing.T, r Result) {
				wantLabels(1, "Install VNeID", "I have a problem", "Language", "Talk to a volunteer")(t, r)
				if r.State.Lang != "en" {
					t.Errorf("lang = %q", r.State.Lang)
				}
			}),
			tap("Install VNeID").then("install_vneid", "phone", "Which phone?").and(wantLabels(0, "Android", "iPhone", "Back|Main menu|Talk to a volunteer")),
			say("iphone").then("install_vneid", "iphone", "Mở App Store").and(wantLabels(0, "Continue", "Back|Main menu|Talk to a volunteer")),
			press("lang:vi").then("install_vneid", "iphone", "Đã chọn tiếng Việt", "Mở App Store"),
		}},
		{"stale and unknown buttons", State{}, []turn{
			press("s:AAAAAAAAAAAA").then("", "", "Nút cũ", menuText).and(func(t *testing.T, r Result) {
				if !r.Stale {
					t.Error("not stale")
				}
			}),
			say("cài vneid"),
			press("zzz").then("", "", "Nút cũ", menuText).and(wantEvents("flow_abandoned install_vneid/phone")),
			press("lang:fr").then("", "", "Nút cũ", menuText),
			press("nav:cancel").then("", "", "Không có yêu cầu", menuText),
		}},
		{"back on an empty history shows the menu", State{}, []turn{
			press("nav:back").then("", "", menuText),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { play(t, s, tc.st, tc.turns) })
	}
}

// stepButton returns the data of a content button, as rendered at a step.
func stepButton(t *testing.T, s *Set, flow, step, label string) string {
	t.Helper()
	f, _ := s.Flow(flow)
	st, _ := f.Step(step)
	b, ok := findButton(Result{Out: []Output{s.render(f, st, "vi", nil)}}, label)
	if !ok {
		t.Fatalf("no button %q at %s/%s", label, flow, step)
	}
	return b.Data
}

func TestAdvanceLostState(t *testing.T) {
	s := mustLoadGood(t)
	// A button from the middle of a flow, tapped after the state expired.
	mid := stepButton(t, s, "install_vneid", "android_2", "Xong rồi")
	play(t, s, State{}, []turn{press(mid).then("", "", "Bắt đầu lại", menuText)})
	// A button of a flow's first step still works without state.
	first := stepButton(t, s, "install_vneid", "phone", "iPhone")
	play(t, s, State{}, []turn{press(first).then("install_vneid", "iphone", "Mở App Store").and(
		wantEvents("flow_started install_vneid/iphone", "step_entered install_vneid/iphone"))})
	// A stored position the content no longer has is treated as idle.
	play(t, s, State{Flow: "install_vneid", Step: "removed"}, []turn{say("blah").then("", "", "Chưa hiểu", menuText)})
	play(t, s, State{Flow: "gone", Step: "x", Back: []string{"gone/y", "install_vneid/phone"}}, []turn{
		press("nav:back").then("", "", menuText),
	})
	// Back skips history entries that no longer exist.
	play(t, s, State{Flow: "install_vneid", Step: "iphone", Back: []string{"install_vneid/phone", "install_vneid/removed"}}, []turn{
		press("nav:back").then("install_vneid", "phone", "Điện thoại loại nào?"),
	})
}

func TestAdvanceOldButtonsStillWork(t *testing.T) {
	s := mustLoadGood(t)
	// Tapping an earlier message's button while elsewhere continues from there.
	choice := stepButton(t, s, "install_vneid", "phone", "Android (Samsung, Oppo…)")
	play(t, s, State{Flow: "troubleshoot", Step: "nfc"}, []turn{
		press(choice).then("install_vneid", "android", "Mở CH Play").and(wantEvents(
			"flow_abandoned troubleshoot/nfc", "flow_started install_vneid/android", "step_entered install_vneid/android")),
	})
}

func TestAdvanceWelcomeBack(t *testing.T) {
	s := mustLoadGood(t)
	mid := State{Flow: "install_vneid", Step: "phone", Seen: t0}
	tests := []struct {
		name  string
		after time.Duration
		text  string
		want  []string
		step  string
	}{
		{"after 7 hours", 7 * time.Hour, "alo", []string{"Chào mừng quay lại", "Điện thoại loại nào?"}, "phone"},
		{"exactly 6 hours", 6 * time.Hour, "alo", []string{"Chào mừng quay lại", "Điện thoại loại nào?"}, "phone"},
		{"after 1 hour", time.Hour, "alo", []string{"Câu trả lời chưa đúng", "Điện thoại loại nào?"}, "phone"},
		{"an answer is just an answer", 7 * time.Hour, "iphone", []string{"Mở App Store"}, "iphone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Advance(mid, Input{Kind: InputText, Text: tc.text}, t0.Add(tc.after))
			if got := texts(r); !slices.Equal(got, tc.want) || r.State.Step != tc.step {
				t.Fatalf("got %q at %s, want %q at %s", got, r.State.Step, tc.want, tc.step)
			}
			if tc.step == "phone" && tc.want[0] == "Chào mừng quay lại" && r.State.Attempts != 0 {
				t.Errorf("welcome back counted as a wrong answer")
			}
		})
	}
	// At a message step too, and never for a first-time (zero Seen) state.
	r := s.Advance(State{Flow: "install_vneid", Step: "iphone", Seen: t0}, Input{Kind: InputText, Text: "alo"}, t0.Add(24*time.Hour))
	if got := texts(r); !slices.Equal(got, []string{"Chào mừng quay lại", "Mở App Store"}) {
		t.Errorf("message step: %q", got)
	}
	r = s.Advance(State{Flow: "install_vneid", Step: "iphone"}, Input{Kind: InputText, Text: "alo"}, t0)
	if got := texts(r); !slices.Equal(got, []string{"Chưa hiểu", "Mở App Store"}) {
		t.Errorf("zero Seen: %q", got)
	}
}

func TestAdvanceBackIsBounded(t *testing.T) {
	s := mustLoadGood(t)
	st := State{}
	r := s.Advance(st, Input{Kind: InputText, Text: "cài vneid"}, t0)
	for i := 0; i < 40; i++ {
		r = s.Advance(r.State, Input{Kind: InputText, Text: "iphone"}, t0)
		r = s.Advance(r.State, Input{Kind: InputButton, Data: "nav:back"}, t0)
		r = s.Advance(r.State, Input{Kind: InputText, Text: "android"}, t0)
		b, _ := findButton(r, "Tiếp tục")
		r = s.Advance(r.State, Input{Kind: InputButton, Data: b.Data}, t0)
		b, _ = findButton(r, "Lỗi NFC")
		r = s.Advance(r.State, Input{Kind: InputButton, Data: b.Data}, t0)
		r = s.Advance(r.State, Input{Kind: InputButton, Data: "nav:back"}, t0)
		r = s.Advance(r.State, Input{Kind: InputButton, Data: "nav:back"}, t0)
		r = s.Advance(r.State, Input{Kind: InputButton, Data: "nav:back"}, t0)
		if len(r.State.Back) > maxBack {
			t.Fatalf("back history grew to %d", len(r.State.Back))
		}
	}
	if r.State.Step != "phone" {
		t.Fatalf("ended at %s", r.State.Step)
	}
}

func TestAdvanceDeterministic(t *testing.T) {
	a, b := mustLoadGood(t), mustLoadGood(t)
	if a.Version() != b.Version() || len(a.Version()) != 12 {
		t.Fatalf("versions %q %q", a.Version(), b.Version())
	}
	inputs := []Input{
		{Kind: InputStart, Name: "Hà"}, {Kind: InputText, Text: "cài vneid"}, {Kind: InputText, Text: "1"},
		{Kind: InputText, Text: "tiếp"}, {Kind: InputButton, Data: "nav:human"},
	}
	var sa, sb State
	for _, in := range inputs {
		ra, rb := a.Advance(sa, in, t0), b.Advance(sb, in, t0)
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("%+v: results differ\n%s\n%s", in, dump(ra), dump(rb))
		}
		sa, sb = ra.State, rb.State
	}
}

func TestText(t *testing.T) {
	s := mustLoadGood(t)
	tests := []struct {
		lang, key string
		vars      map[string]string
		want      string
	}{
		{"vi", "greeting", map[string]string{"name": "Lan"}, "Chào Lan!"},
		{"en", "greeting", map[string]string{"name": "Lan"}, "Hello Lan!"},
		{"en", "greeting", nil, "Hello there!"},
		{"vi", "greeting", map[string]string{"name": " "}, "Chào Bác!"},
		{"en", "pii_warning", nil, "Đừng gửi OTP"}, // no English: Vietnamese
		{"xx", "menu", nil, "Bác cần gì?"},
		{"vi", "no_such_key", nil, "no_such_key"},
	}
	for _, tc := range tests {
		if got := s.Text(tc.lang, tc.key, tc.vars); got != tc.want {
			t.Errorf("Text(%q, %q, %v) = %q, want %q", tc.lang, tc.key, tc.vars, got, tc.want)
		}
	}
}

func TestSubst(t *testing.T) {
	s := &Set{texts: map[string]Text{}}
	vars := map[string]string{"a": "1", "b": "{a}"}
	tests := []struct{ in, want string }{
		{"{a}+{a}", "1+1"},
		{"{b}", "{a}"}, // not recursive
		{"{missing} {", "{missing} {"},
		{"{ a }", "{ a }"},
		{"Chào {name}!", "Chào!"},
		{"Chào {name}, ok", "Chào, ok"},
		{"{name} ơi", " ơi"},
		{"}{", "}{"},
	}
	for _, tc := range tests {
		if got := s.subst(tc.in, "vi", vars); got != tc.want {
			t.Errorf("subst(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMenu(t *testing.T) {
	s := mustLoadGood(t)
	m := s.Menu("en")
	if len(m) != 1 || m[0].Text != "What do you need?" {
		t.Fatalf("menu = %+v", m)
	}
	if got := labels(m[0]); !slices.Equal(got, []string{"Install VNeID", "I have a problem", "Language", "Talk to a volunteer"}) {
		t.Fatalf("menu labels = %q", got)
	}
	for _, row := range m[0].Buttons {
		if len(row) != 1 {
			t.Fatalf("menu rows must hold one button: %q", labels(m[0]))
		}
	}
}

func TestBundledStepKeywordsOpenTheRightStep(t *testing.T) {
	set, err := Load(Named("bundled", Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	for text, want := range map[string]string{
		"Tôi quên mật khẩu VNeID rồi": "troubleshoot/forgot_password",
		"quen mat khau":               "troubleshoot/forgot_password",
		"không nhận được OTP":         "troubleshoot/otp",
		"bị lỗi":                      "troubleshoot/" + mustFlow(t, set, "troubleshoot").Start,
		"forgot passcode":             "troubleshoot/forgot_passcode",
	} {
		res := set.Advance(State{}, Input{Kind: InputText, Text: text}, now)
		if got := res.State.Flow + "/" + res.State.Step; got != want {
			t.Errorf("%q opened %s, want %s", text, got, want)
		}
	}
}

func mustFlow(t *testing.T, s *Set, id string) *Flow {
	t.Helper()
	f, ok := s.Flow(id)
	if !ok {
		t.Fatalf("no flow %s", id)
	}
	return f
}

// TestAdvanceConsent: the consent answers (the core's question, a flow's
// action buttons, typed or tapped, and the unsubscribe button under a
// broadcast) are reported in Result.Consent with a confirmation, wherever
// the resident is; they stay where they were.
func TestAdvanceConsent(t *testing.T) {
	extra := fstest.MapFS{"notify.yaml": {Data: []byte(`id: notify
title: {vi: "Thông báo"}
keywords: {vi: ["notify"]}
start: choose
steps:
  - id: choose
    say: {vi: "Nhận tin?"}
    buttons:
      - label: {vi: "Nhận"}
        action: subscribe
      - label: {vi: "Thôi"}
        action: unsubscribe
`)}}
	s, err := Load(Named("good", os.DirFS("testdata/good")), Named("extra", extra))
	if err != nil {
		t.Fatal(err)
	}
	consent := func(want string) func(t *testing.T, r Result) {
		return func(t *testing.T, r Result) {
			t.Helper()
			if r.Consent != want {
				t.Errorf("Consent %q, want %q", r.Consent, want)
			}
		}
	}
	q := s.ConsentQuestion("vi")
	if q.Text != "Nhận thông báo không?" || len(q.Buttons) != 1 || q.Buttons[0][0].Data != DataSubscribe || q.Buttons[0][1].Data != DataUnsubscribe {
		t.Fatalf("consent question %+v", q)
	}
	play(t, s, State{}, []turn{press(DataSubscribe).then("", "", "Đã nhận", menuText).and(consent("yes"))})
	play(t, s, State{Flow: "install_vneid", Step: "phone"}, []turn{
		press(DataUnsubscribe).then("install_vneid", "phone", "Đã hủy").and(func(t *testing.T, r Result) {
			consent("no")(t, r)
			wantEvents()(t, r) // not abandoned
		}),
	})
	play(t, s, State{}, []turn{
		cmd("menu", "").and(consent("")),
		say("notify").then("notify", "choose", "Nhận tin?").and(consent("")),
		tap("Thôi").then("", "", "Đã hủy", menuText).and(func(t *testing.T, r Result) {
			consent("no")(t, r)
			wantEvents("flow_completed notify/choose")(t, r)
		}),
		say("notify").then("notify", "choose", "Nhận tin?"),
		say("Nhận").then("", "", "Đã nhận", menuText).and(consent("yes")),
	})

	bad := fstest.MapFS{"x.yaml": {Data: []byte("id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: go}\n        action: dance\n      - label: {vi: two}\n        action: subscribe\n        goto: a\n")}}
	_, err = Load(Named("good", os.DirFS("testdata/good")), Named("bad", bad))
	if err == nil || !strings.Contains(err.Error(), `action "dance" is not subscribe or unsubscribe`) ||
		!strings.Contains(err.Error(), "button 2 needs exactly one of goto, flow, url, action, remind") {
		t.Fatalf("bad actions: %v", err)
	}
}

// TestAdvanceOpen: a broadcast's or reminder's button opens a flow at a
// step from anywhere; a target the content no longer has (or the volunteer
// flow) answers like a stale button.
func TestAdvanceOpen(t *testing.T) {
	s := mustLoadGood(t)
	if err := s.OpenTarget("install_vneid#iphone"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"nowhere", "install_vneid#nowhere", "volunteer", "", "#"} {
		if s.OpenTarget(bad) == nil {
			t.Errorf("OpenTarget(%q) accepted", bad)
		}
	}
	play(t, s, State{}, []turn{press(DataOpen("install_vneid#iphone")).then("install_vneid", "iphone", "Mở App Store").and(
		wantEvents("flow_started install_vneid/iphone", "step_entered install_vneid/iphone"))})
	play(t, s, State{Flow: "install_vneid", Step: "phone"}, []turn{
		press(DataOpen("install_vneid#iphone")).then("install_vneid", "iphone", "Mở App Store"),
		press("nav:back").then("install_vneid", "phone", "Điện thoại loại nào?"),
	})
	play(t, s, State{}, []turn{press(DataOpen("install_vneid#gone")).then("", "", "Nút cũ", menuText).and(func(t *testing.T, r Result) {
		if !r.Stale {
			t.Error("not stale")
		}
	})})
}

// remindFlow is a flow with "remind me later" buttons, layered over
// testdata/good (whose fixtures stay without them: every result there
// has output).
const remindFlow = `id: wait
title: {vi: "Chờ duyệt"}
keywords: {vi: ["chờ duyệt"]}
start: sent
steps:
  - id: sent
    say: {vi: "Đã gửi hồ sơ"}
    next: wait
  - id: wait
    say: {vi: "Chờ tin nhắn", en: "Wait for the text"}
    buttons:
      - label: {vi: "Đã có tin"}
        goto: approved
      - label: {vi: "Nhắc tôi sau", en: "Remind me later"}
        remind: approved
  - id: approved
    say: {vi: "Kích hoạt nhé"}
    next: done
  - id: done
    end: {vi: "Xong"}
`

// dangerFlow has a signal, to check it still wins during a reminder question.
const dangerFlow = `id: danger
start: warning
steps:
  - id: warning
    signals: {vi: ["chuyển tiền"]}
    end: {vi: "Dừng lại!"}
`

func loadRemind(t *testing.T, flow string) *Set {
	t.Helper()
	s, err := Load(Named("good", os.DirFS("testdata/good")),
		Named("remind", fstest.MapFS{"wait.yaml": {Data: []byte(flow)}, "danger.yaml": {Data: []byte(dangerFlow)}}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func wantRemind(flow, step, when string) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if r.Remind == nil || *r.Remind != (Remind{Flow: flow, Step: step, When: when}) {
			t.Fatalf("Remind = %+v, want %s#%s %s", r.Remind, flow, step, when)
		}
		if len(r.Out) != 0 || len(r.Events) != 0 || r.State.Remind != "" {
			t.Fatalf("a reminder says nothing, counts nothing and leaves nothing pending:\n%s\nstate %+v", dump(r), r.State)
		}
	}
}

func wantPending(marker string) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		if r.State.Remind != marker {
			t.Fatalf("State.Remind = %q, want %q", r.State.Remind, marker)
		}
		if r.Remind != nil {
			t.Fatalf("Remind = %+v before it was answered", r.Remind)
		}
	}
}

// both runs checks in order.
func both(checks ...func(t *testing.T, r Result)) func(t *testing.T, r Result) {
	return func(t *testing.T, r Result) {
		t.Helper()
		for _, c := range checks {
			c(t, r)
		}
	}
}

// TestAdvanceRemind: a `remind:` button asks when, without moving the
// resident; the answer is reported in Result.Remind (nothing said: the core
// confirms); a date can be typed; way-outs leave the question.
func TestAdvanceRemind(t *testing.T) {
	s := loadRemind(t, remindFlow)
	const when, ask = "Khi nào nhắc?", "Gõ ngày"
	whenLabels := []string{"Sáng mai", "3 ngày nữa", "Chọn ngày", nav}
	const pending, pendingDate = "w:wait#approved", "d:wait#approved"
	remind := stepButton(t, s, "wait", "wait", "Nhắc tôi sau")
	atWait := func() []turn {
		return []turn{say("chờ duyệt"), say("tiếp").then("wait", "wait", "Chờ tin nhắn")}
	}
	tests := []struct {
		name  string
		st    State
		turns []turn
	}{
		{"tap: the when-question, the resident stays; tomorrow", State{}, append(atWait(),
			tap("Nhắc tôi sau").then("wait", "wait", when).and(func(t *testing.T, r Result) {
				wantLabels(0, whenLabels...)(t, r)
				wantPending(pending)(t, r)
				wantEvents()(t, r)
				if !slices.Equal(r.State.Back, []string{"wait/sent"}) {
					t.Errorf("back = %q", r.State.Back)
				}
				for _, b := range r.Out[0].Buttons[0:3] {
					if len(b[0].Data) > MaxCallbackData || !strings.HasPrefix(b[0].Data, "s:") {
						t.Errorf("when data %q", b[0].Data)
					}
				}
				if d := r.Out[0].Buttons[3][0].Data; d != "nav:retry" {
					t.Errorf("back under the question: %q, want nav:retry (the step they are at)", d)
				}
			}),
			tap("Sáng mai").then("wait", "wait").and(wantRemind("wait", "approved", RemindTomorrow)),
			say("đã có tin").then("wait", "approved", "Kích hoạt nhé"),
		)},
		{"in 3 days", State{}, append(atWait(),
			tap("Nhắc tôi sau"),
			tap("3 ngày nữa").then("wait", "wait").and(wantRemind("wait", "approved", RemindIn3Days)),
		)},
		{"pick a date, typed", State{}, append(atWait(),
			tap("Nhắc tôi sau"),
			tap("Chọn ngày").then("wait", "wait", ask).and(both(wantPending(pendingDate), wantLabels(0, nav))),
			say("15/12").then("wait", "wait").and(wantRemind("wait", "approved", "2026-12-15")),
		)},
		{"a wrong date: said so, asked again, until a right one", State{}, append(atWait(),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			say("31/02").then("wait", "wait", "Ngày sai", ask).and(wantPending(pendingDate)),
			say("hôm nào cũng được").then("wait", "wait", "Ngày sai", ask).and(wantPending(pendingDate)),
			say("1").then("wait", "wait", "Ngày sai", ask).and(wantPending(pendingDate)),
			say("ngày 2/3 nhé").then("wait", "wait").and(wantRemind("wait", "approved", "2026-03-02")),
		)},
		{"the typed label and number of the remind button", State{}, append(atWait(),
			say("nhac toi sau").then("wait", "wait", when).and(wantPending(pending)),
			say("sáng mai").then("wait", "wait").and(wantRemind("wait", "approved", RemindTomorrow)),
			say("2").then("wait", "wait", when).and(wantPending(pending)),
			say("2").then("wait", "wait").and(wantRemind("wait", "approved", RemindIn3Days)),
			say("2").then("wait", "wait", when),
			say("3").then("wait", "wait", ask).and(wantPending(pendingDate)),
			say("mai").then("wait", "wait").and(wantRemind("wait", "approved", RemindTomorrow)),
		)},
		{"a date typed right after the when-question", State{}, append(atWait(),
			tap("Nhắc tôi sau"),
			say("15.12.2026").then("wait", "wait").and(wantRemind("wait", "approved", "2026-12-15")),
			press(remind),
			say("1/1/2028").then("wait", "wait", "Ngày sai", ask).and(wantPending(pendingDate)), // over a year ahead
		)},
		{"something else after the when-question is read as usual", State{}, append(atWait(),
			tap("Nhắc tôi sau"),
			say("đã có tin").then("wait", "approved", "Kích hoạt nhé").and(wantPending("")),
		)},
		{"way out of the date question: menu", State{}, append(atWait(),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			say("menu").then("", "", menuText).and(wantPending("")),
			say("15/12").then("", "", "Chưa hiểu", menuText),
		)},
		{"way out of the date question: back is the step they are at", State{}, append(atWait(),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			tap("Quay lại").then("wait", "wait", "Chờ tin nhắn").and(wantPending("")),
			say("15/12").then("wait", "wait", "Chưa hiểu", "Chờ tin nhắn"),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			say("quay lại").then("wait", "wait", "Chờ tin nhắn").and(wantPending("")),
		)},
		{"way out of the date question: a volunteer, a tapped button, a command", State{}, append(atWait(),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			say("gặp tình nguyện viên").then("", "", "Đã gọi tình nguyện viên").and(func(t *testing.T, r Result) {
				wantPending("")(t, r)
				if r.Handoff == nil || r.Handoff.Flow != "wait" || r.Handoff.Step != "wait" {
					t.Errorf("handoff = %+v", r.Handoff)
				}
			}),
			say("chờ duyệt"), say("tiếp"), tap("Nhắc tôi sau"), tap("Chọn ngày"),
			press(stepButton(t, s, "wait", "wait", "Đã có tin")).then("wait", "approved", "Kích hoạt nhé").and(wantPending("")),
			say("chờ duyệt"), say("tiếp"), tap("Nhắc tôi sau"), tap("Chọn ngày"),
			cmd("help", "").then("", "", "Trợ giúp", menuText).and(wantPending("")),
		)},
		{"a signal wins over the date question", State{}, append(atWait(),
			tap("Nhắc tôi sau"), tap("Chọn ngày"),
			say("họ bảo chuyển tiền").then("", "", "Dừng lại!", menuText).and(wantPending("")),
		)},
		{"the when-question from an old message, with no state", State{}, []turn{
			press(remind).then("", "", when).and(wantPending(pending)),
			tap("Sáng mai").then("", "").and(wantRemind("wait", "approved", RemindTomorrow)),
		}},
		{"a when-button of an old message, elsewhere", State{Flow: "install_vneid", Step: "phone"}, []turn{
			press(remindWhenData("wait", "wait", "approved", RemindIn3Days)).then("install_vneid", "phone").and(
				wantRemind("wait", "approved", RemindIn3Days)),
		}},
		{"a pending question whose target is gone is nothing", State{Flow: "wait", Step: "wait", Remind: "d:wait#gone"}, []turn{
			say("15/12").then("wait", "wait", "Chưa hiểu", "Chờ tin nhắn").and(wantPending("")),
		}},
		{"English", State{Lang: "en", Flow: "wait", Step: "wait"}, []turn{
			press(remind).then("wait", "wait", "When?").and(wantLabels(0, "Tomorrow", "In 3 days", "Pick a day", "Back|Main menu|Talk to a volunteer")),
			say("tomorrow").and(wantRemind("wait", "approved", RemindTomorrow)),
			say("remind me later").then("wait", "wait", "When?"),
			tap("Pick a day").then("wait", "wait", "Type a day"),
			say("29/02").then("wait", "wait", "Bad day", "Type a day"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { play(t, s, tc.st, tc.turns) })
	}
}

// TestAdvanceRemindDate: typed dates, read on now's calendar (in now's
// location): the given year, else the next such day on or after today; a
// past day, one over a year ahead or no day at all is asked again.
func TestAdvanceRemindDate(t *testing.T) {
	s := loadRemind(t, remindFlow)
	ict := time.FixedZone("ICT", 7*60*60)
	dec20 := time.Date(2026, 12, 20, 10, 0, 0, 0, ict)
	tests := []struct {
		text string
		now  time.Time
		want string // "" = refused
	}{
		{"05/01", dec20, "2027-01-05"}, // the year rolls over
		{"5/1", dec20, "2027-01-05"},
		{"ngày 5/1", dec20, "2027-01-05"},
		{"Ngày 05-01", dec20, "2027-01-05"},
		{"mùng 5 tháng 1", dec20, "2027-01-05"},
		{"5.1.2027", dec20, "2027-01-05"},
		{"05/01/27", dec20, "2027-01-05"},
		{"１５/１２/２０２７", dec20, "2027-12-15"}, // full-width digits
		{" 20/12 ", dec20, "2026-12-20"},    // today
		{"19/12", dec20, "2027-12-19"},      // passed this year: next year's
		{"20/12/2027", dec20, "2027-12-20"}, // a year ahead, to the day
		{"nhắc tôi ngày 24/12 nhé", dec20, "2026-12-24"},
		{"15/12 ạ", dec20, "2027-12-15"},
		{"21/12/2027", dec20, ""}, // over a year ahead
		{"19/12/2026", dec20, ""}, // past
		{"1/1/2020", dec20, ""},
		{"29/02", dec20, ""}, // no 29 February within a year
		{"29/02", time.Date(2027, 3, 1, 9, 0, 0, 0, ict), "2028-02-29"},
		{"31/04", dec20, ""},
		{"32/1", dec20, ""},
		{"1/13", dec20, ""},
		{"0/1", dec20, ""},
		{"15/12/12026", dec20, ""},
		{"15", dec20, ""},
		{"mười lăm tháng mười hai", dec20, ""},
		{"2026-12-24", dec20, ""}, // year first is not how residents write it
		// 23:30 UTC on the 20th is already the 21st in Vietnam: today is
		// now's own date
		{"20/12", time.Date(2026, 12, 20, 23, 30, 0, 0, time.UTC), "2026-12-20"},
		{"20/12", time.Date(2026, 12, 20, 23, 30, 0, 0, time.UTC).In(ict), "2027-12-20"},
	}
	st := State{Flow: "wait", Step: "wait", Remind: "d:wait#approved", Seen: dec20}
	for _, tc := range tests {
		r := s.Advance(st, Input{Kind: InputText, Text: tc.text}, tc.now)
		switch {
		case tc.want != "" && (r.Remind == nil || *r.Remind != Remind{Flow: "wait", Step: "approved", When: tc.want} || len(r.Out) != 0):
			t.Errorf("%q on %s: Remind %+v, want %s\n%s", tc.text, tc.now, r.Remind, tc.want, dump(r))
		case tc.want == "" && (r.Remind != nil || !slices.Equal(texts(r), []string{"Ngày sai", "Gõ ngày"}) || r.State.Remind != st.Remind):
			t.Errorf("%q on %s: want it asked again, got Remind %+v, pending %q\n%s", tc.text, tc.now, r.Remind, r.State.Remind, dump(r))
		}
		if r.State.Flow != "wait" || r.State.Step != "wait" {
			t.Errorf("%q: moved to %s/%s", tc.text, r.State.Flow, r.State.Step)
		}
	}
	// Back after a while with something else to say: the question lapsed.
	r := s.Advance(st, Input{Kind: InputText, Text: "alo"}, dec20.Add(7*time.Hour))
	if got := texts(r); !slices.Equal(got, []string{"Chào mừng quay lại", "Chờ tin nhắn"}) || r.State.Remind != "" {
		t.Errorf("after 7 hours: %q, pending %q", got, r.State.Remind)
	}
	// A date is still a date then.
	if r := s.Advance(st, Input{Kind: InputText, Text: "24/12"}, dec20.Add(7*time.Hour)); r.Remind == nil || r.Remind.When != "2026-12-24" {
		t.Errorf("a date after 7 hours: %+v", r.Remind)
	}
}

// TestAdvanceRemindStale: the when-buttons are stable across loads of the
// same content and answer like stale buttons once the content changed
// under them (the target renamed, the button removed).
func TestAdvanceRemindStale(t *testing.T) {
	a, b := loadRemind(t, remindFlow), loadRemind(t, remindFlow)
	tomorrow := remindWhenData("wait", "wait", "approved", RemindTomorrow)
	for _, s := range []*Set{a, b} {
		if r, ok := s.refs[tomorrow]; !ok || r.kind != refRemindWhen {
			t.Fatalf("when data %q not stable: %+v", tomorrow, r)
		}
	}
	remind := stepButton(t, a, "wait", "wait", "Nhắc tôi sau")
	if stepButton(t, b, "wait", "wait", "Nhắc tôi sau") != remind {
		t.Fatal("remind button data not stable")
	}
	renamed := loadRemind(t, strings.ReplaceAll(remindFlow, "approved", "ok"))
	removed := loadRemind(t, strings.Replace(remindFlow, `      - label: {vi: "Nhắc tôi sau", en: "Remind me later"}
        remind: approved
`, "", 1))
	for name, s := range map[string]*Set{"target renamed": renamed, "button removed": removed} {
		for _, data := range []string{tomorrow, remind, remindWhenData("wait", "wait", "approved", remindPickDate)} {
			r := s.Advance(State{Flow: "wait", Step: "wait"}, Input{Kind: InputButton, Data: data}, t0)
			if !r.Stale || r.Remind != nil || !slices.Equal(texts(r), []string{"Nút cũ", menuText}) {
				t.Errorf("%s: %q: stale %v, remind %+v\n%s", name, data, r.Stale, r.Remind, dump(r))
			}
		}
	}
	// Renamed, the new buttons work.
	r := renamed.Advance(State{}, Input{Kind: InputButton, Data: remindWhenData("wait", "wait", "ok", RemindIn3Days)}, t0)
	if r.Remind == nil || *r.Remind != (Remind{Flow: "wait", Step: "ok", When: RemindIn3Days}) {
		t.Errorf("renamed: %+v", r.Remind)
	}
}

// TestBundledRemind: the bundled level 2 guide offers a reminder while the
// resident waits for the approval text (back at that step, whose button
// starts the activation) and before the trip to the police (the list of
// what to bring).
func TestBundledRemind(t *testing.T) {
	s, err := Load(Named("bundled", Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"wait_sms", "bring"} {
		st := State{Flow: "level2", Step: step}
		r := s.Advance(st, Input{Kind: InputText, Text: "nhắc tôi sau"}, t0)
		if r.State.Step != step || len(r.Out) != 1 || r.Out[0].Text != "⏰ Bác muốn mình nhắc lúc nào?" {
			t.Fatalf("%s: %s", step, dump(r))
		}
		b, ok := findButton(r, "🌅 Sáng mai")
		if !ok {
			t.Fatalf("%s: no tomorrow button: %s", step, dump(r))
		}
		r = s.Advance(r.State, Input{Kind: InputButton, Data: b.Data}, t0)
		if r.Remind == nil || *r.Remind != (Remind{Flow: "level2", Step: step, When: RemindTomorrow}) || r.State.Step != step {
			t.Fatalf("%s: Remind %+v at %s", step, r.Remind, r.State.Step)
		}
		if err := s.OpenTarget(r.Remind.Flow + "#" + r.Remind.Step); err != nil {
			t.Fatal(err)
		}
		r = s.Advance(State{}, Input{Kind: InputButton, Data: DataOpen("level2#" + step)}, t0)
		if r.State.Step != step {
			t.Fatalf("the reminder's button opened %s", r.State.Step)
		}
	}
	r := s.Advance(State{Flow: "level2", Step: "wait_sms"}, Input{Kind: InputText, Text: "nhắc tôi sau"}, t0)
	b, _ := findButton(r, "🗓️ Chọn ngày")
	r = s.Advance(r.State, Input{Kind: InputButton, Data: b.Data}, t0)
	if !slices.Equal(texts(r), []string{s.Text("vi", "remind_date_ask", nil)}) {
		t.Fatalf("date question: %s", dump(r))
	}
	r = s.Advance(r.State, Input{Kind: InputText, Text: "ngày 10/3"}, t0)
	if r.Remind == nil || r.Remind.When != "2026-03-10" {
		t.Fatalf("typed date: %+v", r.Remind)
	}
}
