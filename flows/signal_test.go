package flows

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// warnFlow is a flow with signals, layered over testdata/good.
const warnFlow = `id: warn
keywords: {vi: ["lừa đảo"]}
signals: {vi: ["chuyển tiền"]}
start: intro
steps:
  - id: intro
    ask:
      text: {vi: "Bác cần gì?"}
      type: choice
      save: need
      choices:
        - value: rules
          label: {vi: "Học quy tắc"}
        - value: victim
          label: {vi: "Tôi lỡ chuyển tiền"}
    next: route
  - id: route
    branch:
      - if: {var: need, eq: victim}
        goto: victim
      - else: warning
  - id: warning
    signals: {vi: ["có người gọi", "xin mã otp"], en: ["someone called"]}
    say: {vi: "Cảnh giác lừa đảo!"}
    buttons:
      - label: {vi: "Đã hiểu"}
        goto: done
  - id: victim
    signals: {vi: ["lỡ chuyển tiền"]}
    say: {vi: "Gọi ngân hàng ngay"}
    next: done
  - id: done
    end: {vi: "Hết"}
`

func loadWarn(t *testing.T) *Set {
	t.Helper()
	s, err := Load(Named("good", goodFS(t)), Named("x", fstest.MapFS{"warn.yaml": {Data: []byte(warnFlow)}}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSignalsComeFirst: a signal in the typed text wins over every other
// reading of it — a longer keyword, an answer, a typed button — wherever the
// resident is, and ⬅️ Quay lại returns to where they were.
func TestSignalsComeFirst(t *testing.T) {
	s := loadWarn(t)
	tests := []struct {
		name  string
		st    State
		text  string
		want  string // flow/step afterwards
		texts []string
	}{
		{"at the menu, over a longer keyword", State{}, "Có người xin MÃ OTP bảo quên mật khẩu", "warn/warning", []string{"Cảnh giác lừa đảo!"}},
		{"without diacritics", State{}, "co nguoi goi bao cai vneid", "warn/warning", nil},
		{"in English", State{}, "Someone called me about VNeID", "warn/warning", nil},
		{"a flow's own signal opens its start", State{}, "người ta bảo chuyển tiền", "warn/intro", nil},
		{"the longest signal wins", State{}, "tôi lỡ chuyển tiền rồi", "warn/victim", nil},
		{"over a choice answer", State{Flow: "install_vneid", Step: "phone"}, "có người gọi bảo cài trên iphone", "warn/warning", nil},
		{"over a yes/no answer", State{Flow: "troubleshoot", Step: "forgot"}, "có người gọi", "warn/warning", nil},
		{"over a number answer", State{Flow: "troubleshoot", Step: "age"}, "65 có người xin mã otp", "warn/warning", nil},
		{"over a free-text answer", State{Flow: "profile", Step: "name"}, "có người gọi", "warn/warning", nil},
		{"over a typed button", State{Flow: "troubleshoot", Step: "pick"}, "quên mật khẩu, có người xin mã otp", "warn/warning", nil},
		{"after a long absence too", State{Flow: "troubleshoot", Step: "pick", Seen: t0.Add(-awayAfter * 2)}, "có người gọi", "warn/warning", nil},
		{"in its own flow, the answer first", State{Flow: "warn", Step: "intro"}, "tôi lỡ chuyển tiền", "warn/victim", nil},
		{"in its own flow, then the signal", State{Flow: "warn", Step: "intro"}, "có người gọi", "warn/warning", nil},
		{"a plain keyword is not a signal: the answer first", State{Flow: "install_vneid", Step: "phone"}, "iphone lừa đảo", "install_vneid/iphone", nil},
		{"a word inside another word is not a signal", State{}, "chuyển tiềnx", "/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Advance(tc.st, Input{Kind: InputText, Text: tc.text}, t0)
			checkResult(t, r)
			if got := r.State.Flow + "/" + r.State.Step; got != tc.want {
				t.Fatalf("%q at %s/%s went to %s, want %s\n%s", tc.text, tc.st.Flow, tc.st.Step, got, tc.want, dump(r))
			}
			if tc.texts != nil && !slices.Equal(texts(r), tc.texts) {
				t.Fatalf("texts %q, want %q", texts(r), tc.texts)
			}
		})
	}
}

func TestSignalKeepsThePlaceForBack(t *testing.T) {
	s := loadWarn(t)
	st := State{Flow: "install_vneid", Step: "phone", Back: []string{"troubleshoot/pick"}}
	r := s.Advance(st, Input{Kind: InputText, Text: "có người gọi"}, t0)
	wantEvents("flow_abandoned install_vneid/phone", "flow_started warn/warning", "step_entered warn/warning")(t, r)
	if !slices.Equal(r.State.Back, []string{"troubleshoot/pick", "install_vneid/phone"}) {
		t.Fatalf("back = %q", r.State.Back)
	}
	r = s.Advance(r.State, Input{Kind: InputButton, Data: dataBack}, t0)
	if r.State.Flow != "install_vneid" || r.State.Step != "phone" || texts(r)[0] != "Điện thoại loại nào?" {
		t.Fatalf("back went to %s/%s\n%s", r.State.Flow, r.State.Step, dump(r))
	}
	// Typing it again at the warning shows the warning again, without
	// stacking it on the back history.
	r = s.Advance(State{Flow: "warn", Step: "warning", Back: []string{"install_vneid/phone"}}, Input{Kind: InputText, Text: "có người gọi nữa"}, t0)
	if r.State.Step != "warning" || !slices.Equal(r.State.Back, []string{"install_vneid/phone"}) {
		t.Fatalf("again: %s back %q", r.State.Step, r.State.Back)
	}
}

// TestCheckSignals: signals share the keywords' namespace and reserved words,
// and a keyword that contains a signal leading elsewhere is reported, since
// it could never match.
func TestCheckSignals(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "file:line: message substring"; none = valid
	}{
		{"the warn flow is valid", map[string]string{"warn.yaml": warnFlow}, nil},
		{"reserved", map[string]string{"f.yaml": "id: x\nsignals: {vi: [\"Quay lại\"]}\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"},
			[]string{`x/f.yaml:2: x: signal "Quay lại" is reserved`}},
		{"no letters", map[string]string{"f.yaml": "id: x\nstart: a\nsteps:\n  - id: a\n    signals: {vi: [\"!!\"]}\n    end: {vi: ok}\n"},
			[]string{`x/f.yaml:5: x/a: signal "!!" has no letters`}},
		{"a keyword of another flow", map[string]string{"f.yaml": "id: x\nsignals: {vi: [\"Cài VNeID\"]}\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"},
			[]string{`x/f.yaml:2: x: signal "Cài VNeID" is also used by flow install_vneid`,
				`good/install.yaml:5: install_vneid: keyword "cài vneid" contains the signal "Cài VNeID", which opens x#a first`}},
		{"shadows a keyword of another flow", map[string]string{"f.yaml": "id: x\nstart: a\nsteps:\n  - id: a\n    signals: {vi: [\"vneid\"]}\n    end: {vi: ok}\n"},
			[]string{`good/install.yaml:5: install_vneid: keyword "cài vneid" contains the signal "vneid", which opens x#a first`,
				`good/install.yaml:5: install_vneid: keyword "tải vneid" contains the signal "vneid"`,
				`good/install.yaml:6: install_vneid: keyword "install vneid" contains the signal "vneid"`,
				`good/troubleshoot.yaml:5: troubleshoot: keyword "lỗi vneid" contains the signal "vneid"`}},
		{"shadows a keyword of its own flow", map[string]string{"f.yaml": "id: x\nkeywords: {vi: [\"giả danh công an\"]}\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    next: b\n  - id: b\n    signals: {vi: [\"giả danh\"]}\n    end: {vi: ok}\n"},
			[]string{`x/f.yaml:2: x: keyword "giả danh công an" contains the signal "giả danh", which opens x#b first`}},
		{"its own step's keyword is fine", map[string]string{"f.yaml": "id: x\nstart: a\nsteps:\n  - id: a\n    keywords: {vi: [\"giả danh công an\"]}\n    signals: {vi: [\"giả danh\"]}\n    end: {vi: ok}\n"}, nil},
		{"shadows a choice keyword of another flow", map[string]string{"f.yaml": "id: x\nstart: a\nsteps:\n  - id: a\n    signals: {vi: [\"sam\"]}\n    end: {vi: ok}\n"},
			[]string{`good/install.yaml:19: install_vneid/phone: keyword "sam sung" contains the signal "sam", which opens x#a first`}},
		{"a choice keyword of its own flow is fine", map[string]string{"f.yaml": "id: x\nstart: a\nsteps:\n  - id: a\n    ask:\n      text: {vi: q}\n      type: choice\n      choices:\n        - value: v\n          label: {vi: V}\n          keywords: {vi: [\"bị gọi lừa\"]}\n    next: b\n  - id: b\n    signals: {vi: [\"gọi\"]}\n    end: {vi: ok}\n"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layer := fstest.MapFS{}
			for name, data := range tc.files {
				layer[name] = &fstest.MapFile{Data: []byte(data)}
			}
			got := Issues(Check(checkDay, Named("good", goodFS(t)), Named("x", layer))).Errors()
			var gotS []string
			for _, is := range got {
				gotS = append(gotS, is.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d issues, want %d:\n%s", len(got), len(tc.want), strings.Join(gotS, "\n"))
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(gotS, func(s string) bool { return strings.HasPrefix(s, w) }) {
					t.Errorf("want %q in:\n%s", w, strings.Join(gotS, "\n"))
				}
			}
		})
	}
}
