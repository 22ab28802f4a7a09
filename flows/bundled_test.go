package flows

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func loadBundled(t *testing.T) *Set {
	t.Helper()
	s, err := Load(Named("bundled", Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var bundledNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// TestBundledScamTalkGetsTheWarningFirst: whatever else the message says,
// scam talk — a caller, an OTP request, money, "updating" VNeID, gifts,
// pensions, links — opens the scam warning before any how-to, at the menu and
// in the middle of a guide, with or without diacritics, in any case.
func TestBundledScamTalkGetsTheWarningFirst(t *testing.T) {
	s := loadBundled(t)
	const warning, victim = "scam_safety/warning", "scam_safety/victim_1"
	phrases := []struct{ text, want string }{
		{"có người gọi bảo kích hoạt định danh mức 2", warning},
		{"co nguoi goi bao kich hoat dinh danh muc 2", warning},
		{"Có Người Gọi Bảo Kích Hoạt Tài Khoản", warning},
		{"có người xin mã otp", warning},
		{"CO NGUOI XIN MA OTP", warning},
		{"người ta bảo tôi chuyển tiền", warning},
		{"nguoi ta bao toi chuyen tien de xac minh", warning},
		{"cán bộ phường gọi bảo cập nhật vneid", warning},
		{"can bo phuong goi bao cap nhat VNEID", warning},
		{"nhận quà 100.000 trên vneid", warning},
		{"nhan qua 100k tren vneid", warning},
		{"được tặng 100.000đ nhân dịp quốc khánh", warning},
		{"họ bảo đồng bộ định danh giúp tôi", warning},
		{"dong bo vneid", warning},
		{"BHXH gọi bảo tăng lương hưu", warning},
		{"luong huu cua toi", warning},
		{"họ gửi cái link bảo bấm vào để cài vneid", warning},
		{"cài file APK họ gửi qua zalo", warning},
		{"công an gọi video bảo tôi dính vụ án", warning},
		{"làm định danh mức 3", warning},
		{"dạ cho hỏi, họ đòi mã OTP để kích hoạt mức 2 có được không ạ", warning},
		{"Someone called me about activating VNeID", warning},
		{"they asked for my OTP", warning},
		{"tôi lỡ chuyển tiền cho họ rồi", victim},
		{"toi da dua ma otp cho nguoi ta", victim},
		{"I was scammed", victim},
	}
	states := []State{
		{},
		{Flow: "activate_account", Step: "otp"}, // a message with buttons
		{Flow: "activate_account", Step: "login"}, // a yes/no question
		{Flow: "install_vneid", Step: "phone"},    // a choice question
		{Flow: "troubleshoot", Step: "choose"},    // a list of buttons
		{Flow: "scam_safety", Step: "rule_3"},     // inside the scam flow itself
		{Flow: "register_level1", Step: "stage", Lang: "en"},
	}
	for _, st := range states {
		for _, p := range phrases {
			r := s.Advance(st, Input{Kind: InputText, Text: p.text}, bundledNow)
			checkResult(t, r)
			if got := r.State.Flow + "/" + r.State.Step; got != p.want {
				t.Errorf("%q at %q went to %s, want %s", p.text, st.Flow+"/"+st.Step, got, p.want)
			}
		}
	}

	// The warning tells the resident to hang up and always leaves a way out,
	// and back returns to where they were.
	r := s.Advance(State{Flow: "activate_account", Step: "otp"}, Input{Kind: InputText, Text: "có người gọi xin mã otp"}, bundledNow)
	if len(r.Out) != 1 || !strings.Contains(r.Out[0].Text, "cúp máy") {
		t.Fatalf("warning:\n%s", dump(r))
	}
	if got := labels(r.Out[0]); len(got) == 0 || got[len(got)-1] != "⬅️ Quay lại|🏠 Menu chính|🙋 Gặp tình nguyện viên" {
		t.Fatalf("warning buttons %q", got)
	}
	r = s.Advance(r.State, Input{Kind: InputButton, Data: dataBack}, bundledNow)
	if r.State.Flow+"/"+r.State.Step != "activate_account/otp" {
		t.Fatalf("back from the warning went to %s/%s", r.State.Flow, r.State.Step)
	}
	// In the scam flow, its own question is answered first.
	r = s.Advance(State{Flow: "scam_safety", Step: "situation"}, Input{Kind: InputText, Text: "học 7 điều cần nhớ, có người gọi"}, bundledNow)
	if r.State.Step != "rule_1" {
		t.Fatalf("the scam flow's own answer: went to %s", r.State.Step)
	}
}

// TestBundledHowToIsNotDiverted: ordinary requests still open their guide.
func TestBundledHowToIsNotDiverted(t *testing.T) {
	s := loadBundled(t)
	for _, tc := range []struct{ text, want string }{
		{"cài vneid", "install_vneid/phone"},
		{"Cho tôi hỏi cách cài VNeID trên điện thoại", "install_vneid/phone"},
		{"tai vneid", "install_vneid/phone"},
		{"kích hoạt tài khoản", "activate_account/open"},
		{"KICH HOAT TAI KHOAN", "activate_account/open"},
		{"tôi có tin nhắn duyệt rồi", "activate_account/open"},
		{"quên mật khẩu", "troubleshoot/forgot_password"},
		{"quen mat khau vneid", "troubleshoot/forgot_password"},
		{"quên passcode", "troubleshoot/forgot_passcode"},
		{"không nhận được mã OTP", "troubleshoot/otp"},
		{"không đọc được chip", "troubleshoot/nfc"},
		{"đổi số điện thoại", "troubleshoot/sim"},
		{"mất điện thoại", "troubleshoot/np_lost_sim"},
		{"tôi muốn đổi điện thoại mới", "troubleshoot/new_phone"},
		{"vneid bị lỗi", "troubleshoot/choose"},
		{"đăng ký tài khoản", "register_level1/stage"},
		{"nâng lên mức 2", "level2/about"},
		{"trang web chính thức", "official_links/websites"},
		{"lừa đảo", "scam_safety/situation"},
		{"install vneid", "install_vneid/phone"},
		{"forgot password", "troubleshoot/forgot_password"},
		{"activate account", "activate_account/open"},
		{"lost phone", "troubleshoot/np_lost_sim"},
	} {
		r := s.Advance(State{}, Input{Kind: InputText, Text: tc.text}, bundledNow)
		if got := r.State.Flow + "/" + r.State.Step; got != tc.want {
			t.Errorf("%q went to %s, want %s", tc.text, got, tc.want)
		}
	}
}

// TestBundledLostPhoneLocksTheSIMFirst: a lost phone is about the SIM and the
// bank before VNeID.
func TestBundledLostPhoneLocksTheSIMFirst(t *testing.T) {
	s := loadBundled(t)
	r := s.Advance(State{Flow: "troubleshoot", Step: "new_phone"}, Input{Kind: InputText, Text: "bị mất máy"}, bundledNow)
	var seen []string
	for i := 0; i < 4 && r.State.Step != "np_confirm"; i++ {
		seen = append(seen, r.State.Step)
		r = s.Advance(r.State, Input{Kind: InputText, Text: "tiếp"}, bundledNow)
	}
	if want := "np_lost_sim np_lost_bank np_lost_newsim np_login"; strings.Join(seen, " ") != want {
		t.Fatalf("lost phone went through %q, want %q", seen, want)
	}
	r = s.Advance(State{Flow: "troubleshoot", Step: "new_phone"}, Input{Kind: InputText, Text: "1"}, bundledNow)
	if r.State.Step != "np_login" {
		t.Fatalf("a new phone (old one kept) went to %s", r.State.Step)
	}
}

// TestBundledHandoffsSayVolunteersNeverCall: scammers pose as helpers, so every
// handoff message (and the core's "we kept your message") says how real
// volunteers behave.
func TestBundledHandoffsSayVolunteersNeverCall(t *testing.T) {
	s := loadBundled(t)
	want := map[string]string{
		"vi": "Tình nguyện viên không gọi điện, không nhắn Zalo riêng, không xin tiền hay mã OTP",
		"en": "Volunteers never phone you, never message you privately on Zalo, never ask for money or OTP codes",
	}
	check := func(where string, t2 Text) {
		for lang, phrase := range want {
			if !strings.Contains(strings.ReplaceAll(t2[lang], "**", ""), phrase) {
				t.Errorf("%s (%s) does not say %q:\n%s", where, lang, phrase, t2[lang])
			}
		}
	}
	n := 0
	for _, f := range s.Flows() {
		for _, st := range f.Steps {
			if st.Handoff != nil {
				check(f.ID+"/"+st.ID, st.Handoff.Say)
				n++
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d handoff steps found", n)
	}
	check("locale handoff_waiting", s.texts["handoff_waiting"])
}

// TestBundledMessagesAreShort: residents read on small phones; the validator
// enforces the channels' hard limits, this keeps the bundled texts near the
// ~350 characters we aim for.
func TestBundledMessagesAreShort(t *testing.T) {
	const aim = 360 // characters, without the ** of bold
	s := loadBundled(t)
	check := func(where string, t2 Text) {
		for lang, v := range t2 {
			if n := utf8.RuneCountInString(strings.ReplaceAll(v, "**", "")); n > aim {
				t.Errorf("%s (%s) is %d characters; aim for %d: split it into steps", where, lang, n, aim)
			}
		}
	}
	for _, f := range s.Flows() {
		for _, st := range f.Steps {
			check(f.ID+"/"+st.ID, st.Say)
			check(f.ID+"/"+st.ID, st.End)
			if st.Ask != nil {
				check(f.ID+"/"+st.ID, st.Ask.Text)
			}
			if st.Handoff != nil {
				check(f.ID+"/"+st.ID, st.Handoff.Say)
			}
		}
	}
	for k, t2 := range s.texts {
		check("locale "+k, t2)
	}
}

// TestBundledPIIWarningIsAccurate: the flows do have residents give their full
// ID number (to 1414, at the police counter), so the warning must not say
// nobody ever asks for it — only not by phone, Zalo or text message.
func TestBundledPIIWarningIsAccurate(t *testing.T) {
	s := loadBundled(t)
	for lang, want := range map[string][]string{
		"vi": {"không ai chính thống hỏi mã OTP, mật khẩu hay passcode", "số căn cước đầy đủ thì không ai hỏi qua điện thoại, Zalo hay tin nhắn"},
		"en": {"nobody legitimate ever asks for your OTP, password or passcode", "nobody asks for your full ID number by phone, Zalo or text message"},
	} {
		got := strings.ReplaceAll(s.Text(lang, "pii_warning", nil), "**", "")
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("pii_warning (%s) lacks %q:\n%s", lang, w, got)
			}
		}
	}
	// The 1414 check is written in the phone's Messages app, not here.
	f, _ := s.Flow("troubleshoot")
	st, _ := f.Step("sim")
	if !strings.Contains(st.Say["vi"], "**Tin nhắn**") || !strings.Contains(st.Say["vi"], "không gõ vào đây") ||
		!strings.Contains(st.Say["en"], "**Messages**") || !strings.Contains(st.Say["en"], "not this chat") {
		t.Errorf("troubleshoot/sim must say to text 1414 from the Messages app:\n%s\n%s", st.Say["vi"], st.Say["en"])
	}
}
