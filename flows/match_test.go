package flows

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Cài VNeID", "cai vneid"},
		{"  QUÊN   mật\tkhẩu\n", "quen mat khau"},
		{"Đăng ký đường", "dang ky duong"},
		{"Ừ, được rồi!", "u, duoc roi!"},
		{"ơ ư ă â ê ô", "o u a a e o"},
		{"１２３", "123"}, // full-width digits
		{"a\x00b", "a b"},
		{"bad \xff\xfe utf8", "bad utf8"},
		{"", ""},
		{"📱 VNeID", "📱 vneid"},
		{"مرحبا", "مرحبا"},
	}
	for _, tc := range tests {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMatchKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Android (Samsung, Oppo…)", "android samsung oppo"},
		{"✅ Có", "co"},
		{"⬅️ Quay lại", "quay lai"},
		{"!!!", ""},
		{"số 2.", "so 2"},
		{"P. Bến Thành", "p ben thanh"},
		{"phuong_ben_thanh", "phuong ben thanh"},
	}
	for _, tc := range tests {
		if got := MatchKey(tc.in); got != tc.want {
			t.Errorf("MatchKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestContainsWords(t *testing.T) {
	tests := []struct {
		text, phrase string
		want         bool
	}{
		{"toi muon cai vneid", "cai vneid", true},
		{"cai vneid", "cai vneid", true},
		{"cai vneidx", "cai vneid", false},
		{"xcai vneid", "cai vneid", false},
		{"xcai vneid cai vneid", "cai vneid", true},
		{"loi", "", false},
	}
	for _, tc := range tests {
		if got := containsWords(tc.text, tc.phrase); got != tc.want {
			t.Errorf("containsWords(%q, %q) = %v", tc.text, tc.phrase, got)
		}
	}
}

func TestYesNo(t *testing.T) {
	tests := []struct{ in, want string }{
		{"có", "yes"}, {"co", "yes"}, {"Yes", "yes"}, {"y", "yes"}, {"ừ", "yes"}, {"OK", "yes"}, {"dạ có", "yes"},
		{"rồi", "yes"}, {"khong", "no"}, {"Không", "no"}, {"ko", "no"}, {"no", "no"}, {"k", "no"},
		{"chưa", "no"}, {"chưa được", "no"}, {"không được", "no"},
		{"hôm qua tôi đi chợ không mua gì", ""}, {"xin chào", ""}, {"", ""},
	}
	for _, tc := range tests {
		got, ok := yesNo(MatchKey(tc.in))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("yesNo(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestClip(t *testing.T) {
	s := strings.Repeat("ệ", 10) // 3 bytes each
	if got := clip(s, 7); got != "ệệ" {
		t.Errorf("clip cut a rune: %q", got)
	}
	if got := clipRunes("abc  def", 4); got != "abc" {
		t.Errorf("clipRunes = %q", got)
	}
}

// TestAdvanceOddInput feeds huge and strange text everywhere a resident can
// type: nothing panics, something is always answered, state stays small.
func TestAdvanceOddInput(t *testing.T) {
	s := mustLoadGood(t)
	odd := []string{
		strings.Repeat("cài vneid ", 100_000), // 1 MB
		strings.Repeat("ệ", 400_000),
		"\u202eدرخواست كمك\u202c", // RTL override
		"👨‍👩‍👧‍👦🙏🏽🇻🇳",
		"\x00\x00\x00",
		"\xff\xfe\xfd",
		"a\xc3",
		"{name}{x}{{}}",
		"\u200b\u200b",
		strings.Repeat("9", 5000),
	}
	states := []State{
		{},
		{Flow: "install_vneid", Step: "phone"},
		{Flow: "install_vneid", Step: "android_2"},
		{Flow: "troubleshoot", Step: "age"},
		{Flow: "troubleshoot", Step: "forgot"},
		{Flow: "profile", Step: "name"},
		{Flow: "profile", Step: "id_number", Seen: t0.Add(-24 * time.Hour)},
	}
	for _, st := range states {
		for _, text := range odd {
			for _, in := range []Input{
				{Kind: InputText, Text: text, Name: text},
				{Kind: InputButton, Data: text},
				{Kind: InputCommand, Command: text, Args: text},
				{Kind: InputStart, Args: text},
				{Kind: InputKind(99), Text: text},
			} {
				r := s.Advance(st, in, t0)
				checkResult(t, r)
			}
		}
	}
	// A long answer to a free-text question is stored truncated.
	r := s.Advance(State{Flow: "profile", Step: "name"}, Input{Kind: InputText, Text: strings.Repeat("ệ", 400_000)}, t0)
	if n := utf8.RuneCountInString(r.State.Vars["full_name"]); n == 0 || n > maxAnswer {
		t.Fatalf("stored answer has %d runes", n)
	}
}

// checkResult asserts what every Advance result must satisfy.
func checkResult(t testing.TB, r Result) {
	t.Helper()
	if len(r.Out) == 0 && r.Remind == nil { // a reminder's time: the core answers
		t.Fatal("no output")
	}
	for _, o := range r.Out {
		if o.Text == "" {
			t.Fatalf("empty message in %s", dump(r))
		}
		if !utf8.ValidString(o.Text) {
			t.Fatalf("invalid UTF-8 in output")
		}
		for _, row := range o.Buttons {
			for _, b := range row {
				if len(b.Data) > MaxCallbackData || (b.Data == "") == (b.URL == "") {
					t.Fatalf("bad button %+v", b)
				}
			}
		}
	}
	if len(r.State.Back) > maxBack {
		t.Fatalf("back history %d", len(r.State.Back))
	}
	for k, v := range r.State.Vars {
		if len(v) > 4*maxAnswer || !utf8.ValidString(v) {
			t.Fatalf("var %s too long or invalid (%d bytes)", k, len(v))
		}
	}
}

func FuzzAdvance(f *testing.F) {
	s := mustLoadGood(f)
	// Every position a resident can be at.
	var states []State
	states = append(states, State{})
	for _, fl := range s.Flows() {
		for _, st := range fl.Steps {
			states = append(states, State{Flow: fl.ID, Step: st.ID, Seen: t0})
		}
	}
	data := append(sortedKeys(s.refs), "nav:back", "nav:menu", "nav:human", "nav:cancel", "lang:", "lang:en", "lang:vi")

	f.Add(uint8(1), uint8(0), uint8(0), "", uint16(0))
	f.Add(uint8(2), uint8(1), uint8(0), "cài vneid", uint16(1))
	f.Add(uint8(2), uint8(3), uint8(0), "1", uint16(7))
	f.Add(uint8(3), uint8(2), uint8(5), "", uint16(0))
	f.Add(uint8(4), uint8(0), uint8(0), "lang", uint16(0))
	f.Add(uint8(2), uint8(9), uint8(0), "quên mật khẩu \xff\x00", uint16(24))
	f.Fuzz(func(t *testing.T, kind, state, button uint8, text string, hours uint16) {
		st := states[int(state)%len(states)]
		in := Input{Kind: InputKind(kind % 6), Text: text, Command: text, Args: text, Name: text, Data: text}
		if in.Kind == InputButton && button%4 != 0 {
			in.Data = data[int(button)%len(data)]
		}
		now := t0.Add(time.Duration(hours) * time.Hour)
		r := s.Advance(st, in, now)
		checkResult(t, r)
		// And one more step from there, to exercise the state it produced.
		r = s.Advance(r.State, Input{Kind: InputText, Text: text}, now)
		checkResult(t, r)
	})
}

func BenchmarkAdvance(b *testing.B) {
	s := mustLoadGood(b)
	mid := State{Flow: "install_vneid", Step: "phone", Vars: map[string]string{"name": "Lan"}, Back: []string{"troubleshoot/pick"}, Seen: t0}
	cases := []struct {
		name string
		st   State
		in   Input
	}{
		{"keyword", State{}, Input{Kind: InputText, Text: "Cho tôi hỏi cách cài VNeID trên điện thoại"}},
		{"answer", mid, Input{Kind: InputText, Text: "iphone"}},
		{"button", mid, Input{Kind: InputButton, Data: stepButtonB(b, s, "install_vneid", "phone", "iPhone")}},
		{"huge", mid, Input{Kind: InputText, Text: strings.Repeat("xin chào ", 100_000)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := s.Advance(c.st, c.in, t0); len(r.Out) == 0 {
					b.Fatal("no output")
				}
			}
		})
	}
}

func stepButtonB(b *testing.B, s *Set, flow, step, label string) string {
	f, _ := s.Flow(flow)
	st, _ := f.Step(step)
	for _, row := range s.render(f, st, "vi", nil).Buttons {
		for _, x := range row {
			if x.Text == label {
				return x.Data
			}
		}
	}
	b.Fatalf("no button %q", label)
	return ""
}
