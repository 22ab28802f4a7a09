package areas

import (
	"strings"
	"testing"
)

const matchFile = goodHead + `  - code: phuong_ben_thanh
    name: "Phường Bến Thành"
  - code: phuong_ben_nghe
    name: "Phường Bến Nghé"
    aliases: ["Phường Đa Kao"]
  - code: xa_thanh_an
    name: "Xã Thạnh An"
  - code: phuong_an_khanh
    name: "Phường An Khánh"
    aliases: ["Phường Thủ Thiêm", "Phường Bến Thành Cũ"]
  - code: xa_an_khanh
    name: "Xã An Khánh"
  - code: dac_khu_con_dao
    name: "Đặc khu Côn Đảo"
  - code: phuong_1
    name: "Phường Phường Đúc"
`

func codes(as []Area) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Code
	}
	return strings.Join(out, " ")
}

func TestMatch(t *testing.T) {
	s, err := Parse("m.yaml", []byte(matchFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text  string
		limit int
		want  string
	}{
		// with or without diacritics, case and the kind word
		{"phuong ben thanh", 0, "phuong_ben_thanh phuong_an_khanh"},
		{"Bến Thành", 0, "phuong_ben_thanh phuong_an_khanh"},
		{"ben thanh", 1, "phuong_ben_thanh"},
		{"BEN THANH", 1, "phuong_ben_thanh"},
		{"P. Bến Thành", 1, "phuong_ben_thanh"},
		{"p.ben thanh", 1, "phuong_ben_thanh"},
		{"  Phường   Bến  Thành!! ", 1, "phuong_ben_thanh"},
		{"phuong_ben_thanh", 1, "phuong_ben_thanh"}, // a code typed in
		// prefix, then a word inside, then a substring, then aliases
		{"ben", 0, "phuong_ben_thanh phuong_ben_nghe phuong_an_khanh"},
		{"thanh", 0, "xa_thanh_an phuong_ben_thanh phuong_an_khanh"},
		{"hanh", 0, "phuong_ben_thanh xa_thanh_an phuong_an_khanh xa_an_khanh"},
		{"an", 0, "phuong_an_khanh xa_an_khanh xa_thanh_an"},
		{"da kao", 0, "phuong_ben_nghe"},
		{"thu thiem", 0, "phuong_an_khanh"},
		// the kind word typed picks between two of the same name
		{"an khanh", 0, "phuong_an_khanh xa_an_khanh"},
		{"xã an khánh", 0, "xa_an_khanh phuong_an_khanh"},
		{"x. an khanh", 1, "xa_an_khanh"},
		{"đặc khu côn đảo", 0, "dac_khu_con_dao"},
		{"con dao", 0, "dac_khu_con_dao"},
		// a name that starts with a kind word
		{"phường đúc", 1, "phuong_1"},
		{"duc", 1, "phuong_1"},
		// nothing to match
		{"", 0, ""},
		{"!!!", 0, ""},
		{"phường", 0, ""},
		{"hà nội", 0, ""},
		{"ha", 0, ""}, // two letters inside a word are not enough
		{strings.Repeat("bến thành ", 100), 0, ""},
		{"\xff\xfe", 0, ""},
	}
	for _, tc := range tests {
		if got := codes(s.Match(tc.text, tc.limit)); got != tc.want {
			t.Errorf("Match(%q, %d) = %q, want %q", tc.text, tc.limit, got, tc.want)
		}
	}
	// limit bounds the answer
	if got := s.Match("a", 2); len(got) != 2 {
		t.Errorf("limit 2: %d", len(got))
	}
}

func TestMatchSample(t *testing.T) {
	s := Sample()
	tests := []struct{ text, want string }{
		{"phú xuân", "phuong_phu_xuan"},
		{"phu xuan", "phuong_phu_xuan"},
		{"Phường Thuận Hóa", "phuong_thuan_hoa"},
		{"thuan hoa", "phuong_thuan_hoa"},
		{"a luoi 3", "xa_a_luoi_3"},
		{"chan may", "xa_chan_may_lang_co"},
		{"lang co", "xa_chan_may_lang_co"},
		{"gia hội", "phuong_phu_xuan"},     // merged into Phú Xuân
		{"thi tran sia", "xa_quang_dien"},  // the old town of Quảng Điền
		{"phuong duc", "phuong_thuan_hoa"}, // once phường Phường Đúc
		{"duong no", "phuong_duong_no"},
	}
	for _, tc := range tests {
		got := s.Match(tc.text, 3)
		if len(got) == 0 || got[0].Code != tc.want {
			t.Errorf("Match(%q) = %q, want %s first", tc.text, codes(got), tc.want)
		}
	}
	// the old xã Phú Vinh is now in A Lưới 3; the new xã Phú Vinh comes first
	if got := codes(s.Match("phú vinh", 0)); got != "xa_phu_vinh xa_a_luoi_3" {
		t.Errorf("phú vinh: %s", got)
	}
	// every code fits a Telegram /start payload and finds its own area
	for _, a := range s.All() {
		if len(a.Code) > MaxCode || !codePattern.MatchString(a.Code) {
			t.Errorf("code %q", a.Code)
		}
		if b, ok := s.Lookup(a.Code); !ok || b.Name != a.Name {
			t.Errorf("Lookup(%q)", a.Code)
		}
		if got := s.Match(a.Name, 1); len(got) != 1 || got[0].Code != a.Code {
			t.Errorf("Match(%q) = %s", a.Name, codes(got))
		}
	}
}
