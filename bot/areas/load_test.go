package areas

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const goodHead = "province: {code: hcm, name: \"Thành phố Hồ Chí Minh\"}\nareas:\n"

const good = goodHead + `  - code: phuong_ben_thanh
    name: "Phường Bến Thành"
    kind: ward
    aliases: ["Phường Phạm Ngũ Lão"]
    offices:
      - kind: police
        name: "Công an phường Bến Thành"
        address: "1 Đường Ví Dụ"
        hours: |
          Thứ Hai–Thứ Sáu 7:30–11:30, 13:30–17:00
          sáng Thứ Bảy
        phone: "028 3822 1234"
        source: https://example.gov.vn/ben-thanh
      - kind: public_service
        name: "Trung tâm Phục vụ hành chính công phường Bến Thành"
  - code: xa_binh_chanh
    name: "Xã Bình Chánh"
  - code: dac_khu_con_dao
    name: "Đặc khu Côn Đảo"
    offices: []
`

func TestParseGood(t *testing.T) {
	s, err := Parse("good.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Province().Code != "hcm" {
		t.Fatalf("%d areas, province %+v", s.Len(), s.Province())
	}
	a, ok := s.Lookup("phuong_ben_thanh")
	if !ok || a.Name != "Phường Bến Thành" || len(a.Offices) != 2 {
		t.Fatalf("Lookup: %+v %v", a, ok)
	}
	if o, ok := a.Office(OfficePolice); !ok || o.Phone != "028 3822 1234" || !strings.Contains(o.Hours, "\nsáng Thứ Bảy") {
		t.Errorf("police office %+v", o)
	}
	if o, ok := a.Office(OfficePublicService); !ok || o.Address != "" || o.Source != "" {
		t.Errorf("a name-only office: %+v", o)
	}
	// a kind left out is read from the name
	if b, _ := s.Lookup("xa_binh_chanh"); b.Kind != KindCommune {
		t.Errorf("Xã Bình Chánh: kind %q", b.Kind)
	}
	if c, _ := s.Lookup("dac_khu_con_dao"); c.Kind != KindSpecialZone || c.Offices != nil {
		t.Errorf("Đặc khu Côn Đảo: %+v", c)
	}
	if _, ok := s.Lookup("Phuong_Ben_Thanh"); ok {
		t.Error("codes are exact")
	}
	// what Lookup and All return is a copy
	a.Offices[0].Name = "changed"
	all := s.All()
	all[0].Aliases[0] = "changed"
	if b, _ := s.Lookup("phuong_ben_thanh"); b.Offices[0].Name == "changed" || b.Aliases[0] == "changed" {
		t.Error("a caller changed the set")
	}
	if got := []string{all[0].Code, all[1].Code, all[2].Code}; strings.Join(got, " ") != "phuong_ben_thanh xa_binh_chanh dac_khu_con_dao" {
		t.Errorf("All order %v", got)
	}
}

func TestLoadAndLoadFile(t *testing.T) {
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(good)}, "bad.yaml": {Data: []byte("province: x\n")}}
	if _, err := Load(fsys, "a.yaml"); err != nil {
		t.Fatal(err)
	}
	_, err := Load(fsys, "bad.yaml")
	var is Issues
	if !errors.As(err, &is) || len(is) == 0 || is[0].File != "bad.yaml" {
		t.Fatalf("Load(bad) = %v", err)
	}
	if _, err := Load(fsys, "missing.yaml"); err == nil {
		t.Fatal("no error for a missing file")
	}
	path := filepath.Join(t.TempDir(), "areas.yaml")
	if err := os.WriteFile(path, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(path + ".nope"); err == nil {
		t.Fatal("no error for a missing file")
	}
}

func area(body string) string { return goodHead + body }

func TestCheckIssues(t *testing.T) {
	today := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	long := strings.Repeat("a", 65)
	tests := []struct {
		name, data string
		line       int
		kind       IssueKind
		msg        string // a part of the message
	}{
		{"empty", "", 0, IssueSyntax, "empty file"},
		{"comments only", "# nothing\n", 0, IssueSyntax, "empty file"},
		{"not a mapping", "- a\n- b\n", 1, IssueSyntax, "expected a mapping"},
		{"two documents", good + "---\nprovince: {}\n", 23, IssueSyntax, "one YAML document"},
		{"bad yaml", "province: {code: x\n", 1, IssueSyntax, ""},
		{"tab", "province:\n\tcode: x\n", 2, IssueSyntax, ""},
		{"unknown top key", good + "extra: 1\n", 23, IssueUnknownKey, `unknown key "extra" (allowed here: province, verified, sources, areas)`},
		{"unknown area key", area("  - code: a\n    name: Phường A\n    ward: true\n"), 5, IssueUnknownKey, "allowed here: code, name, kind, aliases, offices"},
		{"unknown office key", area("  - code: a\n    name: Phường A\n    offices: [{kind: police, name: Công an, email: x}]\n"), 5, IssueUnknownKey, "allowed here: kind, name, address, hours, phone, source"},
		{"unknown province key", "province: {code: x, name: y, id: 1}\nareas: [{code: a, name: Phường A}]\n", 1, IssueUnknownKey, "allowed here: code, name"},
		{"wrong type", area("  - code: a\n    name: [Phường A]\n"), 4, IssueSyntax, "cannot unmarshal"},
		{"no province", "areas: [{code: a, name: Phường A}]\n", 1, IssueMissing, "no province"},
		{"no province name", "province: {code: x}\nareas: [{code: a, name: Phường A}]\n", 1, IssueMissing, "province name is missing"},
		{"bad province code", "province: {code: Huế, name: Huế}\nareas: [{code: a, name: Phường A}]\n", 1, IssueBadCode, "province code"},
		{"no areas", "province: {code: x, name: y}\n", 0, IssueMissing, "no areas"},
		{"empty areas", "province: {code: x, name: y}\nareas: []\n", 2, IssueMissing, "no areas"},
		{"null area", area("  - ~\n"), 3, IssueSyntax, "an empty list item"},
		{"null area among others", area("  - ~\n  - code: b\n    name: Phường B\n"), 3, IssueSyntax, "an empty list item"},
		{"null office", area("  - code: b\n    name: Phường B\n    offices:\n      -\n      - {kind: police, name: C}\n"), 6, IssueSyntax, "an empty list item"},
		{"null alias", area("  - code: b\n    name: Phường B\n    aliases: [~]\n"), 5, IssueSyntax, "an empty list item"},
		{"missing code", area("  - name: Phường A\n"), 3, IssueMissing, "area code is missing"},
		{"missing name", area("  - code: a\n    kind: ward\n"), 3, IssueMissing, "name is missing"},
		{"blank name", area("  - code: a\n    name: \"  \"\n"), 4, IssueMissing, "name is missing"},
		{"code with capitals", area("  - code: Phuong_A\n    name: Phường A\n"), 3, IssueBadCode, "only a-z, 0-9 and _"},
		{"code with diacritics", area("  - code: phường_a\n    name: Phường A\n"), 3, IssueBadCode, "only a-z"},
		{"code with a dash", area("  - code: phuong-a\n    name: Phường A\n"), 3, IssueBadCode, "only a-z"},
		{"code too long", area("  - code: " + long + "\n    name: Phường A\n"), 3, IssueBadCode, "is 65 bytes; a Telegram /start link carries at most 64"},
		{"duplicate code", area("  - code: a\n    name: Phường A\n  - code: a\n    name: Phường B\n"), 5, IssueDuplicate, `code "a" is also used at line 3`},
		{"duplicate name folded", area("  - code: a\n    name: Phường Bến Thành\n  - code: b\n    name: PHƯỜNG BEN THANH\n"), 6, IssueDuplicate, "also used at line 4 (case and diacritics aside)"},
		{"duplicate name without kind word", area("  - code: a\n    name: Phường Bến Thành\n  - code: b\n    name: Ben  Thanh\n    kind: ward\n"), 6, IssueDuplicate, "the kind word aside"},
		{"bad kind", area("  - code: a\n    name: Bến Thành\n    kind: district\n"), 5, IssueBadKind, `kind "district" is not ward, commune or special_zone`},
		{"kind against name", area("  - code: a\n    name: Xã Bến Thành\n    kind: ward\n"), 5, IssueBadKind, `kind is ward but the name "Xã Bến Thành" says commune`},
		{"no kind", area("  - code: a\n    name: Bến Thành\n"), 4, IssueMissing, "kind is missing"},
		{"name without letters", area("  - code: a\n    name: \"!!!\"\n    kind: ward\n"), 4, IssueBadText, "no letter or digit"},
		{"name with a newline", area("  - code: a\n    name: \"Phường\\nA\"\n"), 4, IssueBadText, "line break"},
		{"name too long", area("  - code: a\n    name: Phường " + strings.Repeat("Ả", 100) + "\n"), 4, IssueBadText, "at most 200"},
		{"duplicate alias", area("  - code: a\n    name: Phường A\n    aliases: [Phường B, \"phường  b\"]\n"), 5, IssueDuplicate, "repeats the name"},
		{"alias repeats name", area("  - code: a\n    name: Phường A\n    aliases: [\"PHƯỜNG A\"]\n"), 5, IssueDuplicate, "repeats the name"},
		{"empty alias", area("  - code: a\n    name: Phường A\n    aliases: [\"\"]\n"), 5, IssueMissing, "alias is missing"},
		{"office without kind", area("  - code: a\n    name: Phường A\n    offices:\n      - name: Công an phường A\n"), 6, IssueMissing, "office kind is missing"},
		{"office bad kind", area("  - code: a\n    name: Phường A\n    offices:\n      - kind: hospital\n        name: Bệnh viện\n"), 6, IssueBadKind, `office kind "hospital"`},
		{"office without name", area("  - code: a\n    name: Phường A\n    offices:\n      - kind: police\n"), 6, IssueMissing, "office name is missing"},
		{"phone letters", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"call 113\"}\n"), 6, IssueBadPhone, "may hold only digits"},
		{"phone short", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"0234 382\"}\n"), 6, IssueBadPhone, "has 7 digits"},
		{"phone long", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"0234 3822 12345\"}\n"), 6, IssueBadPhone, "has 13 digits"},
		{"phone +84 with 0", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"+84 0234 3822 123\"}\n"), 6, IssueBadPhone, "+84 and 9 or 10 digits"},
		{"phone other country", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"+1 202 555 0100\"}\n"), 6, IssueBadPhone, "not a Vietnamese number"},
		{"phone no leading 0", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"234 3822 123\"}\n"), 6, IssueBadPhone, "must start with 0"},
		{"phone second number bad", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"0912 345 678; 12\"}\n"), 6, IssueBadPhone, "must start with 0"},
		{"phone separators only", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \";;\"}\n"), 6, IssueBadPhone, "no number"},
		{"source not http", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, source: \"ftp://x.vn/a\"}\n"), 6, IssueBadURL, "not an http(s) address"},
		{"source javascript", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, source: \"javascript:alert(1)\"}\n"), 6, IssueBadURL, "not an http(s)"},
		{"source empty", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, source: \"\"}\n"), 6, IssueBadURL, "not an http(s)"},
		{"top source bad", "province: {code: x, name: y}\nsources: [\"www.example.vn\"]\nareas: [{code: a, name: Phường A}]\n", 2, IssueBadURL, "source \"www.example.vn\""},
		{"verified not a date", "province: {code: x, name: y}\nverified: 30/11/2026\nareas: [{code: a, name: Phường A}]\n", 2, IssueSyntax, "must be a date like 2026-01-15"},
		{"verified empty", "province: {code: x, name: y}\nverified:\nareas: [{code: a, name: Phường A}]\n", 2, IssueSyntax, "must be a date"},
		{"verified in the future", "province: {code: x, name: y}\nverified: 2026-12-02\nareas: [{code: a, name: Phường A}]\n", 2, IssueFutureDate, "verified 2026-12-02 is after today (2026-12-01)"},
		{"address control character", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, address: \"a\\u0007b\"}\n"), 6, IssueBadText, "control character"},
		{"hours too long", area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, hours: \"" + strings.Repeat("x", 1001) + "\"}\n"), 6, IssueBadText, "at most 1000"},
		{"huge file", strings.Repeat("#", MaxFileSize+1), 0, IssueSyntax, "at most 4194304"},
		{"invalid utf-8", "province: {code: x, name: \"\xff\"}\n", 0, IssueSyntax, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issues := Check(today, tc.name+".yaml", []byte(tc.data))
			if len(issues) == 0 {
				t.Fatal("no issue")
			}
			found := false
			for _, is := range issues {
				if is.File != tc.name+".yaml" || is.Msg == "" || is.Kind == "" {
					t.Errorf("malformed issue %+v", is)
				}
				if is.Kind == tc.kind && (tc.line == 0 || is.Line == tc.line) && strings.Contains(is.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s at line %d containing %q; got\n%v", tc.kind, tc.line, tc.msg, Issues(issues))
			}
			if _, err := Parse(tc.name+".yaml", []byte(tc.data)); err == nil && tc.kind != IssueFutureDate {
				t.Error("Parse accepted it")
			}
		})
	}
}

func TestCheckValid(t *testing.T) {
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := map[string]string{
		"good":                            good,
		"verified today":                  "province: {code: x, name: y}\nverified: 2026-12-01\nareas: [{code: a, name: Phường A}]\n",
		"quoted date":                     "province: {code: x, name: y}\nverified: \"2026-11-30\"\nareas: [{code: a, name: Phường A}]\n",
		"64-byte code":                    area("  - code: " + strings.Repeat("a", 64) + "\n    name: Phường A\n"),
		"phones":                          area("  - code: a\n    name: Phường A\n    offices:\n      - {kind: police, name: C, phone: \"0234.3822.123, +84 912 345 678 / 1900 1234 / (0234) 3822-123\"}\n"),
		"same name other kind":            area("  - code: a\n    name: Phường An Lộc\n  - code: b\n    name: Xã An Lộc\n"),
		"aliases shared between areas":    area("  - code: a\n    name: Phường A\n    aliases: [Xã Phú Vinh]\n  - code: b\n    name: Xã Phú Vinh\n"),
		"aliases differing by diacritics": area("  - code: a\n    name: Phường A\n    aliases: [Phường Hương Văn, Phường Hương Vân]\n"),
		"thị trấn alias of its own name":  area("  - code: a\n    name: Xã Phú Lộc\n    aliases: [Thị trấn Phú Lộc]\n"),
		"unicode names":                   area("  - code: a\n    name: \"Xã Ea H'Leo\"\n  - code: b\n    name: \"Xã Chư Pưh\"\n  - code: c\n    name: Xã A Lưới 1\n"),
		"http source":                     area("  - code: a\n    name: Phường A\n    offices: [{kind: public_service, name: TT, source: \"http://x.gov.vn/a?b=c\"}]\n"),
		"anchors":                         "province: &p {code: x, name: y}\nareas: [{code: a, name: Phường A, aliases: &al [Phường B]}, {code: b, name: Phường C, aliases: *al}]\n",
	}
	for name, data := range tests {
		if is := Check(today, name, []byte(data)); is != nil {
			t.Errorf("%s: %v", name, Issues(is))
		}
	}
}

// Check reads no clock: the zero today skips the date check, as Parse does.
func TestCheckZeroToday(t *testing.T) {
	data := []byte("province: {code: x, name: y}\nverified: 2999-01-01\nareas: [{code: a, name: Phường A}]\n")
	if is := Check(time.Time{}, "f", data); is != nil {
		t.Fatal(Issues(is))
	}
	s, err := Parse("f", data)
	if err != nil || s.Verified() != "2999-01-01" {
		t.Fatal(s, err)
	}
}

// Every issue names the file, and Issues' error lists them all.
func TestIssuesError(t *testing.T) {
	_, err := Parse("x.yaml", []byte(area("  - code: A\n    name: Phường A\n  - name: Phường B\n")))
	var is Issues
	if !errors.As(err, &is) || len(is) != 2 {
		t.Fatalf("%v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "2 problem(s) in areas") || !strings.Contains(msg, "x.yaml:3: area code \"A\"") || !strings.Contains(msg, "x.yaml:5: area code is missing") {
		t.Errorf("error:\n%s", msg)
	}
	if got := (Issue{File: "f", Line: 2, Area: "a", Msg: "m"}).String(); got != "f:2: a: m" {
		t.Errorf("String %q", got)
	}
}

// A big province still loads quickly, and many problems are all reported.
func TestHugeInput(t *testing.T) {
	var b strings.Builder
	b.WriteString(goodHead)
	for i := range 5000 {
		b.WriteString("  - code: xa_" + strings.Repeat("x", i%5) + itoa(i) + "\n    name: Xã Số " + itoa(i) + "\n    aliases: [Xã Cũ " + itoa(i) + "]\n")
	}
	start := time.Now()
	s, err := Parse("big.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 5000 || len(s.Match("so 4999", 3)) == 0 {
		t.Fatalf("%d areas", s.Len())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	var bad strings.Builder
	bad.WriteString(goodHead)
	for range 300 {
		bad.WriteString("  - code: a\n    name: Phường A\n")
	}
	if is := Check(time.Time{}, "dups.yaml", []byte(bad.String())); len(is) != 2*299 {
		t.Errorf("%d issues for 299 repeated codes and names", len(is))
	}
	// a document of aliases that would expand exponentially is refused
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\nareas: *h\n"
	if is := Check(time.Time{}, "bomb.yaml", []byte(bomb)); len(is) == 0 {
		t.Error("the alias bomb was accepted")
	}
}

func itoa(i int) string {
	const d = "0123456789"
	if i < 10 {
		return d[i : i+1]
	}
	return itoa(i/10) + d[i%10:i%10+1]
}
