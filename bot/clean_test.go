package bot

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestCleanText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain ascii", "xin chao /start 123", "xin chao /start 123"},
		{"vietnamese", "Tiếng Việt có dấu: Nguyễn Thị Hương ở Đắk Lắk", "Tiếng Việt có dấu: Nguyễn Thị Hương ở Đắk Lắk"},
		{"combining diacritics composed", "Ti\u00ea\u0301ng Vi\u00ea\u0323t", "Tiếng Việt"},
		{"decomposed vietnamese", "ma\u0303 OTP la\u0300 4829, m\u00e2\u0323t kh\u00e2\u0309u", "mã OTP là 4829, mật khẩu"},
		{"marks after a removed character compose", "a\u200b\u0301", "á"},
		{"marks reordered", "a\u0301\u0323", "ạ\u0301"},
		{"mark without a base kept", "\u0301x", "\u0301x"},
		{"singleton decomposition", "\u212b \u2126", "Å Ω"},
		{"joiner next to what composes to ascii", "\u212a\u200d👩", "K👩"},
		{"joiner between a letter and a mark dropped", "a\u200d\u0301", "á"},
		{"newline and tab kept", "dòng 1\n\tdòng 2", "dòng 1\n\tdòng 2"},
		{"nul", "\x00x", "x"},
		{"nul only", "\x00", ""},
		{"c0 controls", "a\x01b\x07c\x08d\x1be\x1ff\x0bg\x0ch", "abcdefgh"},
		{"del", "a\x7fb", "ab"},
		{"c1 controls", "a\u0080b\u0085c\u009fd", "abcd"},
		{"crlf", "a\r\nb", "a\nb"},
		{"lone cr", "a\rb\r", "a\nb\n"},
		{"cr cr lf", "a\r\r\nb", "a\n\nb"},
		{"line and paragraph separators", "a\u2028b\u2029c", "a\nb\nc"},
		{"invalid utf-8", "a\xffb", "a\ufffdb"},
		{"invalid run is one replacement", "a\xff\xfe\xfdb", "a\ufffdb"},
		{"truncated sequence", "tiế\xe1\xbb", "tiế\ufffd"},
		{"replacement character kept", "a\ufffdb", "a\ufffdb"},
		{"no-break space", "0012\u00a00300\u00a04567", "0012 0300 4567"},
		{"other spaces", "a\u2009b\u3000c\u202fd\u205fe", "a b c d e"},
		{"rlo override", "abc\u202egnp.exe", "abcgnp.exe"},
		{"bidi embeddings and isolates", "\u202aa\u202bb\u202cc\u202dd\u2066e\u2067f\u2068g\u2069", "abcdefg"},
		{"directional marks kept", "مرحبا \u200fRTL\u200e \u061c", "مرحبا \u200fRTL\u200e \u061c"},
		{"zero width space", "48\u200b2913", "482913"},
		{"word joiner and bom", "\ufeffO\u2060TP", "OTP"},
		{"soft hyphen", "mật\u00adkhẩu", "mậtkhẩu"},
		{"zwj between ascii digits", "4\u200d8\u200c2913", "482913"},
		{"zwj at the ends", "\u200dabc\u200d", "abc"},
		{"zwj in emoji kept", "👨\u200d👩\u200d👧\u200d👦", "👨\u200d👩\u200d👧\u200d👦"},
		{"zwj after variation selector kept", "🏳\ufe0f\u200d🌈", "🏳\ufe0f\u200d🌈"},
		{"zwnj in persian kept", "می\u200cخواهم", "می\u200cخواهم"},
		{"double zwj dropped", "👨\u200d\u200d👩", "👨👩"},
		{"zwj next to ascii in emoji text", "a\u200d👩", "a👩"},
		{"flag and subdivision tags kept", "🇻🇳 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🇻🇳 🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"},
		{"language tag dropped", "\U000e0001x", "x"},
		{"keycap kept", "1\ufe0f\u20e3", "1\ufe0f\u20e3"},
		{"private use kept", "\ue000", "\ue000"},
		{"markup untouched", `<script>alert(1)</script> "quotes" \ back`, `<script>alert(1)</script> "quotes" \ back`},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CleanText(tt.in)
			if got != tt.want {
				t.Errorf("CleanText(%+q) = %+q, want %+q", tt.in, got, tt.want)
			}
			if again := CleanText(got); again != got {
				t.Errorf("CleanText is not idempotent on %+q: %+q", got, again)
			}
		})
	}
}

func TestCleanTextPlainDoesNotAllocate(t *testing.T) {
	s := strings.Repeat("xin chao 123 /start\n", 20)
	if n := testing.AllocsPerRun(100, func() { _ = CleanText(s) }); n != 0 {
		t.Errorf("CleanText of plain ASCII allocates %v times", n)
	}
}

// checkClean asserts what CleanText promises about its result.
func checkClean(t *testing.T, in, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("CleanText(%+q) = %+q is not valid UTF-8", in, out)
	}
	if again := CleanText(out); again != out {
		t.Fatalf("CleanText not idempotent: %+q -> %+q -> %+q", in, out, again)
	}
	rs := []rune(out)
	for i, r := range rs {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || (r >= 0x7f && r <= 0x9f):
			t.Fatalf("CleanText(%+q) = %+q keeps control character %U", in, out, r)
		case r == '\u2028' || r == '\u2029' || (unicode.Is(unicode.Zs, r) && r != ' '):
			t.Fatalf("CleanText(%+q) = %+q keeps separator %U", in, out, r)
		case removedFormat(r):
			t.Fatalf("CleanText(%+q) = %+q keeps invisible %U", in, out, r)
		case isJoiner(r):
			if i == 0 || i == len(rs)-1 || !joinable(rs[i-1]) || !joinable(rs[i+1]) {
				t.Fatalf("CleanText(%+q) = %+q keeps joiner %U outside non-ASCII text", in, out, r)
			}
		}
	}
	if !norm.NFC.IsNormalString(out) {
		t.Fatalf("CleanText(%+q) = %+q is not NFC", in, out)
	}
	// nothing but what was removed or replaced goes missing: every letter,
	// digit and mark of a valid input survives, in order (compared
	// decomposed, as composing is allowed)
	if utf8.ValidString(in) {
		keep := func(s string) string {
			return norm.NFD.String(strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
					return r
				}
				return -1
			}, norm.NFD.String(s)))
		}
		if keep(in) != keep(out) {
			t.Fatalf("CleanText(%+q) = %+q lost letters, digits or marks", in, out)
		}
	}
}

func FuzzCleanText(f *testing.F) {
	for _, s := range []string{
		"", "xin chào", "\x00x", "a\r\nb\rc", "\xff\xfe", "tiế\xe1\xbb", "48\u200b2913",
		"abc\u202egnp.exe", "👨\u200d👩\u200d👧", "1\u200d2", "\u200d", "0012\u00a00300\u00a04567",
		"\u2028\u2029", "\ufeff/start", "می\u200cخواهم", "🏴\U000e0067\U000e0062\U000e007f",
		"\u0085\u009f\u007f", "\t\n\v\f", "\U0001d173♪", "ma\u0303 OTP la\u0300 4829", "\u212a\u200d👩",
		"a\u200d\u0301", "a\u0301\u200b\u0323", "\u1100\u1161\u11a8",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkClean(t, s, CleanText(s))
	})
}
