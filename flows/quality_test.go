package flows

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestAsksForSecret(t *testing.T) {
	asks := []string{
		"Bác nhập số căn cước 12 số vào đây nhé.",
		"Bác gõ mã OTP vừa nhận được vào đây để mình kiểm tra giúp.",
		"Bác gửi cho mình mã OTP nhé",
		"Cho mình xin số định danh của Bác.",
		"Bác cho mình số CCCD với ạ?",
		"Bác đọc mật khẩu VNeID cho cháu nhé",
		"Bác nhắn tin mật khẩu vào đây",
		"Bác điền passcode 6 số",
		"Mã OTP của Bác là gì?",
		"Số căn cước của bác là bao nhiêu?",
		"Please type your ID number here.",
		"Send me the OTP code you received.",
		"What is your password?",
		"Enter your full ID number, then we continue.",
		"Bác nhập mã OTP, mình xem có đúng không.",
	}
	for _, s := range asks {
		if AsksForSecret(s) == "" {
			t.Errorf("not caught: %q", s)
		}
	}
	fine := []string{
		// Warnings not to, from the bundled flows.
		"⚠️ Mã OTP chỉ để Bác **tự nhập** — **không đọc, không gửi cho ai**, kể cả người xưng là công an, cán bộ hay tình nguyện viên.",
		"📝 Bác ghi ra giấy, cất kỹ ở nhà. Không gửi mật khẩu cho ai, kể cả mình.",
		"⌨️ Bác nhập **số định danh** (12 số trên thẻ căn cước) và **mật khẩu VNeID** vào ô trên trang, rồi bấm **\"Đăng nhập\"**.",
		"🔒 Chỉ nhập vào trang **dichvucong.gov.vn**. Bác **không gửi** các số này cho mình hay cho ai.",
		"⚠️ Tình nguyện viên **không gọi điện, không xin tiền hay mã OTP**. Đừng gửi mật khẩu.",
		"Lỡ nhập mật khẩu vào trang lạ thì Bác đổi mật khẩu VNeID ngay.",
		"📩 Máy sẽ nhận tin nhắn có **mã OTP** (mấy chữ số). Bác nhập mã đó vào app.",
		"Bác nhập mã OTP vào app VNeID rồi bấm Xác nhận.",
		"Đừng gửi mã OTP cho ai, kể cả người xưng là công an.",
		"Tuyệt đối không đọc mật khẩu cho người lạ.",
		"Never send your password to anyone.",
		"Don't type your OTP here.",
		"Type that code into the app.",
		// Questions that mention a secret without asking for it.
		"Bác có nhận được mã OTP không?",
		"Bác đã đặt mật khẩu chưa?",
		"Số định danh 12 số?", // asks, but without a verb: the test fixture profile.yaml
		"Bác nhập số điện thoại để nhận mã OTP",
		"Tên Bác là gì?",
		"Bác bao nhiêu tuổi?",
	}
	for _, s := range fine {
		if got := AsksForSecret(s); got != "" {
			t.Errorf("%q: flagged %q", s, got)
		}
	}
}

// qualityFlow is a valid flow with every provenance key; tests change it.
const qualityFlow = `id: q
sources: [https://dean06.hanam.gov.vn]
verified: 2026-11-01
owner: tests
start: a
steps:
  - id: a
    ask:
      type: text
      text: {vi: "Tên Bác là gì?", en: "What is your name?"}
      save: name
    next: b
  - id: b
    end: {vi: "Cảm ơn {name}."}
`

func TestQualityChecks(t *testing.T) {
	long := strings.Repeat("Bác bấm nút. ", 30) // 390 characters
	tests := []struct {
		name   string
		file   string
		strict bool
		opts   CheckOptions
		want   []string // substrings of Issue.String(); none = nothing
	}{
		{"complete", qualityFlow, true, CheckOptions{Now: checkDay}, nil},
		{"no sources, strict", strings.Replace(qualityFlow, "sources: [https://dean06.hanam.gov.vn]\n", "", 1), true, CheckOptions{},
			[]string{"x/f.yaml:1: q: the flow has no sources"}},
		{"no owner, strict", strings.Replace(qualityFlow, "owner: tests\n", "", 1), true, CheckOptions{},
			[]string{"x/f.yaml:1: q: the flow has no owner"}},
		{"empty owner, strict", strings.Replace(qualityFlow, "owner: tests\n", "owner: \"  \"\n", 1), true, CheckOptions{},
			[]string{"x/f.yaml:4: q: the flow has no owner"}},
		{"no verified, strict", strings.Replace(qualityFlow, "verified: 2026-11-01\n", "", 1), true, CheckOptions{},
			[]string{"x/f.yaml:1: q: the flow has no verified date"}},
		{"nothing, not strict: warnings", strings.Replace(strings.Replace(strings.Replace(qualityFlow, "owner: tests\n", "", 1),
			"verified: 2026-11-01\n", "", 1), "sources: [https://dean06.hanam.gov.vn]\n", "", 1), false, CheckOptions{},
			[]string{"x/f.yaml:1: warning: q: the flow has no sources", "x/f.yaml:1: warning: q: the flow has no owner",
				"x/f.yaml:1: warning: q: the flow has no verified date"}},
		{"verified not a date", strings.Replace(qualityFlow, "2026-11-01", "1/11/2026", 1), false, CheckOptions{},
			[]string{`x/f.yaml:3: q: verified "1/11/2026" must be a date like 2026-01-15`}},
		{"source not a web address", strings.Replace(qualityFlow, "https://dean06.hanam.gov.vn", "dean06.hanam.gov.vn", 1), true, CheckOptions{},
			[]string{`x/f.yaml:2: q: source "dean06.hanam.gov.vn" is not an http(s) address`}},
		{"old: a warning", strings.Replace(qualityFlow, "2026-11-01", "2026-01-15", 1), true, CheckOptions{Now: checkDay},
			[]string{"x/f.yaml:3: warning: q: verified 2026-01-15 is 320 days old (more than 180): check the flow against its sources again"}},
		{"old, shorter max age", qualityFlow, true, CheckOptions{Now: checkDay, MaxAge: 20 * 24 * time.Hour},
			[]string{"x/f.yaml:3: warning: q: verified 2026-11-01 is 30 days old (more than 20)"}},
		{"exactly the max age is fine", qualityFlow, true, CheckOptions{Now: checkDay, MaxAge: 30 * 24 * time.Hour}, nil},
		{"negative max age: never old", strings.Replace(qualityFlow, "2026-11-01", "2020-01-01", 1), true, CheckOptions{Now: checkDay, MaxAge: -1}, nil},
		{"no day: no age", strings.Replace(qualityFlow, "2026-11-01", "2020-01-01", 1), true, CheckOptions{}, nil},
		{"long message", strings.Replace(qualityFlow, "Cảm ơn {name}.", long, 1), true, CheckOptions{},
			[]string{"x/f.yaml:14: warning: q/b: end (vi) is 390 characters, over 350"}},
		{"long English is fine", strings.Replace(qualityFlow, "What is your name?", long, 1), true, CheckOptions{}, nil},
		{"asks for the OTP", strings.Replace(qualityFlow, "Tên Bác là gì?", "Bác gõ mã OTP vào đây nhé", 1), true, CheckOptions{},
			[]string{`x/f.yaml:10: q/a: the question (vi) asks the resident to type a secret ("go ma otp")`}},
		{"asks for the password in English", strings.Replace(qualityFlow, "What is your name?", "Please send your password", 1), true, CheckOptions{},
			[]string{`x/f.yaml:10: q/a: the question (en) asks the resident to type a secret ("send your password")`}},
		{"a number question too", strings.Replace(strings.Replace(qualityFlow, "type: text", "type: number", 1), "Tên Bác là gì?", "Bác nhập số CCCD", 1), true, CheckOptions{},
			[]string{`x/f.yaml:10: q/a: the question (vi) asks the resident to type a secret`}},
		{"a yes/no question may mention it", strings.Replace(strings.Replace(qualityFlow, "type: text", "type: yesno", 1), "Tên Bác là gì?", "Bác đã nhập mã OTP chưa?", 1), true, CheckOptions{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layer := Named("x", fstest.MapFS{"f.yaml": {Data: []byte(tc.file)}})
			if tc.strict {
				layer = Strict(layer)
			}
			got := tc.opts.Check(Named("good", goodFS(t)), layer)
			var gotS []string
			for _, is := range got {
				gotS = append(gotS, is.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d issues, want %d:\n%s", len(got), len(tc.want), strings.Join(gotS, "\n"))
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(gotS, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("want %q in:\n%s", w, strings.Join(gotS, "\n"))
				}
			}
			// Load fails exactly on errors, and keeps the warnings it finds
			// without a clock.
			s, err := Load(Named("good", goodFS(t)), layer)
			errs := Issues(CheckOptions{}.Check(Named("good", goodFS(t)), layer)).Errors()
			if (err != nil) != (len(errs) > 0) {
				t.Fatalf("Load: %v, with errors %v", err, errs)
			}
			if err == nil {
				for _, w := range s.Warnings() {
					if !w.Warning || w.Kind == IssueStale {
						t.Errorf("Load kept %v", w)
					}
				}
			}
		})
	}
}

func TestLoadKeepsWarnings(t *testing.T) {
	file := strings.Replace(qualityFlow, "Cảm ơn {name}.", strings.Repeat("Bác bấm nút. ", 30), 1)
	s, err := Load(Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(file)}}))
	if err != nil {
		t.Fatal(err)
	}
	w := s.Warnings()
	if len(w) != 1 || w[0].Kind != IssueLongMessage || !strings.HasPrefix(w[0].String(), "x/f.yaml:14: warning: q/b: ") {
		t.Fatalf("warnings = %v", w)
	}
	// An error fails Load, whose error holds errors only.
	bad := strings.Replace(file, "Tên Bác là gì?", "Bác gõ mật khẩu vào đây", 1)
	_, err = Load(Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(bad)}}))
	var is Issues
	if !errors.As(err, &is) || len(is) != 1 || is[0].Kind != IssueAsksSecret || is[0].Warning {
		t.Fatalf("err = %v", err)
	}
}

func TestStrict(t *testing.T) {
	m := fstest.MapFS{}
	if isStrict(m) || isStrict(Named("x", m)) || !isStrict(Strict(m)) || !isStrict(Named("x", Strict(m))) ||
		!isStrict(Strict(Named("x", m))) || LayerName(Strict(Named("x", m))) != "x" || !isStrict(Named("bundled", Bundled())) {
		t.Fatal("strictness is lost")
	}
}

func TestIssueStringWarning(t *testing.T) {
	is := Issue{File: "a.yaml", Line: 3, Flow: "a", Step: "s", Msg: "m", Warning: true}
	if got := is.String(); got != "a.yaml:3: warning: a/s: m" {
		t.Fatalf("String() = %q", got)
	}
	all := Issues{is, {Msg: "e"}}
	if len(all.Errors()) != 1 || all.Errors()[0].Msg != "e" || len(all.Warnings()) != 1 || all.Warnings()[0].Msg != "m" {
		t.Fatalf("Errors/Warnings: %v / %v", all.Errors(), all.Warnings())
	}
}

// TestDocsExampleFlow: the worked example of docs/flows.md ("Write and try
// a flow in 15 minutes") is valid, without warnings, and every path of it
// passes the walk.
func TestDocsExampleFlow(t *testing.T) {
	doc, err := os.ReadFile("../docs/flows.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "**1. Write the file**")
	if i < 0 {
		t.Fatal("docs/flows.md has no worked example")
	}
	j := strings.Index(s[i:], "```yaml\n")
	k := strings.Index(s[i+j+8:], "```")
	if j < 0 || k < 0 {
		t.Fatal("the worked example has no yaml block")
	}
	example := s[i+j+8 : i+j+8+k]
	layers := []fs.FS{Named("bundled", Bundled()), Named("p5", fstest.MapFS{"nop_ho_so.yaml": {Data: []byte(example)}})}
	for _, is := range Check(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), layers...) {
		if strings.HasPrefix(is.File, "p5/") {
			t.Errorf("%s", is)
		}
	}
	set, err := Load(layers...)
	if err != nil {
		t.Fatal(err)
	}
	walkPaths(func(format string, args ...any) {
		if msg := fmt.Sprintf(format, args...); strings.Contains(msg, "nop_ho_so_p5") {
			t.Error(msg)
		}
	}, set)
}
