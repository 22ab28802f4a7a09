package flows

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// bundledLinks reads the lists of flows/bundled/links.yaml alone.
func bundledLinks(tb testing.TB) *Links {
	tb.Helper()
	data, err := fs.ReadFile(Bundled(), "links.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	c := read([]fs.FS{fstest.MapFS{"links.yaml": {Data: data}}})
	if len(c.issues) > 0 {
		tb.Fatalf("links.yaml: %v", Issues(c.issues))
	}
	return &c.links.lists
}

func TestCheckLink(t *testing.T) {
	l := bundledLinks(t)
	tests := []struct {
		text                  string
		host, verdict, reason string
	}{
		// official, however it is written
		{"https://dichvucong.gov.vn", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"dichvucong.gov.vn", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"HTTPS://WWW.DichVuCong.Gov.VN/p/home/dvc-trang-chu.html", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"www.dichvucong.gov.vn.", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"https://dichvucong.gov.vn:443/x?y=1#z", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"Cháu ơi trang này có đúng không dichvucong.gov.vn ạ?", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"dichvucong．gov．vn", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"dichvucong。gov。vn", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"ｄｉｃｈｖｕｃｏｎｇ.gov.vn", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"vneid.gov.vn", "vneid.gov.vn", LinkOfficial, ReasonListed},
		{"https://dichvucong.bocongan.gov.vn/bocongan/bothutuc/tthc?matt=26346", "dichvucong.bocongan.gov.vn", LinkOfficial, ReasonListed},
		{"hanoi.xuatnhapcanh.gov.vn", "hanoi.xuatnhapcanh.gov.vn", LinkOfficial, ReasonListed},
		{"canhbao.khonggianmang.vn", "canhbao.khonggianmang.vn", LinkOfficial, ReasonListed},
		{"https://evil.com@dichvucong.gov.vn/", "dichvucong.gov.vn", LinkOfficial, ReasonListed},
		{"congan.hanoi.gov.vn", "congan.hanoi.gov.vn", LinkOfficial, ReasonGovVN},
		{"tôi ở TP.HCM, trang congan.hanoi.gov.vn", "congan.hanoi.gov.vn", LinkOfficial, ReasonGovVN},
		// stores
		{"https://play.google.com/store/apps/details?id=com.vnid", "play.google.com", LinkStore, ReasonStore},
		{"apps.apple.com/vn/app/vneid/id1582750311", "apps.apple.com", LinkStore, ReasonStore},
		// fakes
		{"https://dichvucong.gov.vn@evil.com", "evil.com", LinkFake, ReasonUserinfo},
		{"http://dichvucong.gov.vn.evil.com/login", "dichvucong.gov.vn.evil.com", LinkFake, ReasonLookalike},
		{"dichvucong.cvgov.com", "dichvucong.cvgov.com", LinkFake, ReasonReported},
		{"https://dichvuc0ng.com", "dichvuc0ng.com", LinkFake, ReasonLookalike},
		{"dich-vu-cong.com", "dich-vu-cong.com", LinkFake, ReasonLookalike},
		{"dichvucongg.net", "dichvucongg.net", LinkFake, ReasonLookalike},
		{"dichvcong.vn", "dichvcong.vn", LinkFake, ReasonLookalike},
		{"vne1d.app", "vne1d.app", LinkFake, ReasonLookalike},
		{"vneld.com", "vneld.com", LinkFake, ReasonLookalike},
		{"dichvucong-gov.vn", "dichvucong-gov.vn", LinkFake, ReasonLookalike},
		{"vietgcv.cc", "vietgcv.cc", LinkFake, ReasonReported},
		{"policeonline.club/x", "policeonline.club", LinkFake, ReasonReported},
		// suspicious
		{"bit.ly/3abcDEF", "bit.ly", LinkSuspicious, ReasonShortener},
		{"Họ gửi link https://tinyurl.com/y6x bảo bấm vào", "tinyurl.com", LinkSuspicious, ReasonShortener},
		{"http://103.21.4.7/vneid.apk", "103.21.4.7", LinkSuspicious, ReasonIP},
		{"http://103.21.4.7:8080", "103.21.4.7", LinkSuspicious, ReasonIP},
		{"xn--dchvcng-6ya1c.vn", "xn--dchvcng-6ya1c.vn", LinkSuspicious, ReasonPunycode},
		{"https://dịchvụcông.vn", "xn--dchvcng-x0a0689dsha.vn", LinkSuspicious, ReasonPunycode},
		{"congan-hotro.com", "congan-hotro.com", LinkSuspicious, ReasonGovWord},
		{"hotro-govn.top", "hotro-govn.top", LinkSuspicious, ReasonGovWord},
		{"vneidhotro24h.online", "vneidhotro24h.online", LinkSuspicious, ReasonGovWord},
		// unknown
		{"https://example.com/abc", "example.com", LinkUnknown, ReasonNotListed},
		{"thanhnien.vn", "thanhnien.vn", LinkUnknown, ReasonNotListed},
		{"nguyen.van.a@gmail.com", "gmail.com", LinkUnknown, ReasonNotListed},
		// not a link
		{"", "", LinkUnknown, ReasonNotALink},
		{"họ gửi cho tôi một cái link", "", LinkUnknown, ReasonNotALink},
		{"100.000đ", "", LinkUnknown, ReasonNotALink},
		{"ngày 15.12.2026", "", LinkUnknown, ReasonNotALink},
		{"v.v...", "", LinkUnknown, ReasonNotALink},
		{"http://[::1]/x", "", LinkUnknown, ReasonNotALink},
		{"https://", "", LinkUnknown, ReasonNotALink},
	}
	for _, tc := range tests {
		got := CheckLink(tc.text, l)
		want := LinkCheck{Host: tc.host, Verdict: tc.verdict, Reason: tc.reason}
		if got != want {
			t.Errorf("CheckLink(%q) = %+v, want %+v", tc.text, got, want)
		}
	}
	// Without lists only the shape of a host is judged.
	for text, want := range map[string]LinkCheck{
		"dichvucong.gov.vn": {Host: "dichvucong.gov.vn", Verdict: LinkUnknown, Reason: ReasonNotListed},
		"1.2.3.4":           {Host: "1.2.3.4", Verdict: LinkSuspicious, Reason: ReasonIP},
	} {
		if got := CheckLink(text, nil); got != want {
			t.Errorf("CheckLink(%q, nil) = %+v, want %+v", text, got, want)
		}
	}
}

func TestPunycode(t *testing.T) {
	// RFC 3492 §7.1 samples and a Vietnamese one.
	for in, want := range map[string]string{
		"bücher":    "bcher-kva",
		"他们为什么不说中文": "ihqwcrb4cv8a8dqg056pqjye",
		"tạisaohọkhôngthểchỉnóitiếngviệt": "tisaohkhngthchnitingvit-kjcr8268qyxafd2f1b9g",
	} {
		if got, err := punycode(in); err != nil || got != want {
			t.Errorf("punycode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzCheckLink: CheckLink never panics, always answers the same, and its
// host is lower-case ASCII (a valid host name) or empty.
func FuzzCheckLink(f *testing.F) {
	l := bundledLinks(f)
	for _, s := range []string{
		"https://dichvucong.gov.vn", "https://dichvucong.gov.vn@evil.com", "dịchvụcông.vn", "bit.ly/x", "1.2.3.4:80",
		"xn--a.vn", "a..b", "..", "@", "://", "http://[::1]", "www.www.a.vn", "ｄｉｃｈｖｕｃｏｎｇ。gov。vn", "\xff.\xfe",
		strings.Repeat("a.", 200) + "vn", "Bác xem giúp https://tinyurl.com/abc nhé",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := CheckLink(text, l)
		if again := CheckLink(text, l); again != got {
			t.Fatalf("not deterministic: %+v then %+v", got, again)
		}
		if !slices.Contains([]string{LinkOfficial, LinkStore, LinkFake, LinkSuspicious, LinkUnknown}, got.Verdict) || got.Reason == "" {
			t.Fatalf("verdict %+v", got)
		}
		if got.Host == "" {
			if got.Reason != ReasonNotALink {
				t.Fatalf("no host but %+v", got)
			}
			return
		}
		if got.Host != strings.ToLower(got.Host) || len(got.Host) > 253 || !validDomain(got.Host) && !isIPv4(strings.Split(got.Host, ".")) {
			t.Fatalf("host %q is not a lower-case ASCII host name", got.Host)
		}
		for _, r := range got.Host {
			if r >= 0x80 {
				t.Fatalf("host %q is not ASCII", got.Host)
			}
		}
	})
}

// linkFlow is a link question and the branch on its verdict.
const linkFlow = `id: linkcheck
keywords: {vi: ["kiểm tra link"]}
sources: [https://dean06.hanam.gov.vn]
verified: 2026-11-15
owner: tests
start: check
steps:
  - id: check
    ask:
      type: link
      text: {vi: "Bác dán đường link vào đây. Mình không mở link đó."}
      invalid: {vi: "Mình chưa thấy đường link nào."}
      save: link
    next: verdict
  - id: verdict
    branch:
      - if: {var: link_verdict, eq: official}
        goto: ok
      - if: {var: link_verdict, in: [fake, suspicious]}
        goto: bad
      - else: unknown
  - id: ok
    end: {vi: "Trang {link} là trang chính thức."}
  - id: bad
    end: {vi: "Trang {link} là giả ({link_reason})."}
  - id: unknown
    end: {vi: "Mình không biết trang {link}."}
`

func loadLinkFlow(t *testing.T) *Set {
	t.Helper()
	links, err := os.ReadFile("bundled/links.yaml")
	if err != nil {
		t.Fatal(err)
	}
	layer := goodFS(t)
	layer["links.yaml"] = &fstest.MapFile{Data: links}
	layer["linkcheck.yaml"] = &fstest.MapFile{Data: []byte(linkFlow)}
	s, err := Load(Named("good", layer))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLinkQuestion(t *testing.T) {
	s := loadLinkFlow(t)
	at := State{Flow: "linkcheck", Step: "check"}
	tests := []struct {
		text    string
		want    string // first output
		verdict string
	}{
		{"https://dichvucong.gov.vn/p/home", "Trang dichvucong.gov.vn là trang chính thức.", LinkOfficial},
		{"họ gửi link nhận quà dichvuc0ng.com", "Trang dichvuc0ng.com là giả (lookalike).", LinkFake},
		{"bit.ly/abc", "Trang bit.ly là giả (shortener).", LinkSuspicious},
		{"example.com", "Mình không biết trang example.com.", LinkUnknown},
	}
	for _, tc := range tests {
		r := s.Advance(at, Input{Kind: InputText, Text: tc.text}, t0)
		if got := texts(r); len(got) == 0 || got[0] != tc.want {
			t.Errorf("%q: %q", tc.text, got)
		}
		if r.State.Flow != "" {
			t.Errorf("%q: still at %s/%s", tc.text, r.State.Flow, r.State.Step)
		}
	}
	// Vars before the end step idles the resident: check them on a copy
	// of the question that waits.
	m := &machine{s: s, st: cloneState(at)}
	_, st, _ := s.step("linkcheck", "check")
	if v, ok := m.answer(st.Ask, "https://dichvucong.gov.vn@evil.com", ""); !ok || v != "evil.com" {
		t.Fatalf("answer = %q, %v", v, ok)
	}
	m.save(st, "evil.com")
	if m.st.Vars["link"] != "evil.com" || m.st.Vars[VarLinkVerdict] != LinkFake || m.st.Vars[VarLinkReason] != ReasonUserinfo {
		t.Fatalf("vars = %v", m.st.Vars)
	}
	// No link: the invalid text and the question again.
	r := s.Advance(at, Input{Kind: InputText, Text: "tôi không biết"}, t0)
	if got := texts(r); !slices.Equal(got, []string{"Mình chưa thấy đường link nào.", "Bác dán đường link vào đây. Mình không mở link đó."}) || r.State.Step != "check" {
		t.Fatalf("no link: %q", got)
	}
	// A way-out word still leaves.
	if r := s.Advance(at, Input{Kind: InputText, Text: "menu"}, t0); r.State.Flow != "" {
		t.Fatalf("menu: at %s/%s", r.State.Flow, r.State.Step)
	}
}

func TestCheckLinks(t *testing.T) {
	links, err := os.ReadFile("bundled/links.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of "file:line: message"; none = valid
	}{
		{"the bundled lists", map[string]string{"links.yaml": string(links)}, nil},
		{"a link question without lists", map[string]string{"linkcheck.yaml": linkFlow},
			[]string{"x/linkcheck.yaml:10: linkcheck/check: a link question needs a links file"}},
		{"bad entries", map[string]string{"links.yaml": "links:\n  sources: [https://a.vn]\n  verified: 2026-11-01\n  owner: me\n  official:\n    - https://dichvucong.gov.vn\n    - www.vneid.gov.vn\n    - vneid.gov.vn\n    - vneid.gov.vn\n  bait_words: [dịchvụ, a.b]\n  extra: 1\n"},
			[]string{`x/links.yaml:6: official entry "https://dichvucong.gov.vn" must be a lower-case host name`,
				`x/links.yaml:7: official entry "www.vneid.gov.vn" must be`,
				`x/links.yaml:9: official entry "vneid.gov.vn" is listed twice`,
				`x/links.yaml:10: bait word "dịchvụ" must be`,
				`x/links.yaml:10: bait word "a.b" must be`,
				`x/links.yaml:11: unknown key "extra"`}},
		{"no provenance outside a strict layer", map[string]string{"links.yaml": "links:\n  stores: [play.google.com]\n"},
			[]string{"x/links.yaml:1: warning: the links file has no sources", "x/links.yaml:1: warning: the links file has no owner",
				"x/links.yaml:1: warning: the links file has no verified date"}},
		{"save into a link variable", map[string]string{"links.yaml": string(links), "linkcheck.yaml": strings.Replace(linkFlow, "save: link", "save: link_verdict", 1)},
			[]string{`x/linkcheck.yaml:13: linkcheck/check: save "link_verdict": link_verdict and link_reason are set by every link question`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			layer := fstest.MapFS{}
			for name, data := range tc.files {
				layer[name] = &fstest.MapFile{Data: []byte(data)}
			}
			got := Check(checkDay, Named("good", goodFS(t)), Named("x", layer))
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
		})
	}
	// A directory's list replaces the bundled one of the same name only.
	over := Named("x", fstest.MapFS{"links.yaml": {Data: []byte("links:\n  sources: [https://a.vn]\n  verified: 2026-11-01\n  owner: me\n  stores: [store.example.com]\n")}})
	base := goodFS(t)
	base["links.yaml"] = &fstest.MapFile{Data: links}
	s, err := Load(Named("good", base), over)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CheckLink("play.google.com/x"); got.Verdict != LinkUnknown {
		t.Errorf("the bundled stores still count: %+v", got)
	}
	if got := s.CheckLink("store.example.com/x"); got.Verdict != LinkStore {
		t.Errorf("the directory's store does not: %+v", got)
	}
	if got := s.CheckLink("vneid.gov.vn"); got.Verdict != LinkOfficial {
		t.Errorf("the bundled official list is gone: %+v", got)
	}
}
