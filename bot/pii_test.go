package bot

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestScanPII(t *testing.T) {
	tests := []struct {
		name string
		text string
		want PII
	}{
		{"menu choice", "1", PII{}},
		{"year", "năm 2024", PII{}},
		{"plain question", "quên mật khẩu thì làm sao", PII{}},
		{"id number", "số căn cước của tôi 001203004567", PII{IDNumber: true}},
		{"id grouped", "0012 0300 4567", PII{IDNumber: true}},
		{"otp bare", "482913", PII{OTP: true}},
		{"otp with keyword", "mã OTP là 4829", PII{OTP: true}},
		{"otp no diacritics", "ma xac thuc 482913", PII{OTP: true}},
		{"password vi", "mật khẩu: Abc@12345", PII{Password: true}},
		{"password no diacritics", "mat khau la matkhau99", PII{Password: true}},
		{"password en", "my password is hunter22", PII{Password: true}},
		{"phone", "gọi tôi 0912 345 678", PII{Phone: true}},
		{"phone +84", "+84912345678", PII{Phone: true}},
		{"otp word only", "tôi không nhận được OTP", PII{}},
		{"otp after là:", "mã OTP là: 4829", PII{OTP: true}},
		{"password after của tôi là", "mật khẩu của tôi là Abc@12345", PII{Password: true}},
		{"a problem, not a password", "mật khẩu của tôi không đúng", PII{}},
		{"another problem", "Mật khẩu Không đăng nhập được", PII{}},
		{"inner capital", "pass là hunTer", PII{Password: true}},
		{"amount", "mất 1.500.000 đồng", PII{}},
		{"date", "ngày 12-03-2024", PII{}},
		{"id with no-break spaces", "0012\u00a00300\u00a04567", PII{IDNumber: true}},
		{"otp run into a number", "mã 482913 2 phút trước", PII{OTP: true}},
		{"id run into a phone", "001203004567 0912345678", PII{IDNumber: true, LongNumber: true}},
		{"card number", "4111 1111 1111 1111", PII{LongNumber: true}},
		{"plus not vietnamese", "+123456", PII{OTP: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ScanPII(tt.text); got != tt.want {
				t.Errorf("ScanPII(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestMaskPII(t *testing.T) {
	tests := []struct {
		text    string
		hidden  []string
		visible []string
	}{
		{"CCCD 001203004567 nhé", []string{"001203004567", "0012030"}, []string{"4567", "CCCD", "nhé"}},
		{"mã OTP là 482913", []string{"482913"}, []string{"mã OTP"}},
		{"mật khẩu: Abc@12345", []string{"Abc@12345"}, []string{"mật khẩu"}},
		{"số tôi 0912345678", []string{"0912345678", "09123"}, []string{"678"}},
		{"chọn 1", nil, []string{"chọn 1"}},
		{"CCCD 0012 0300 4567", []string{"0012 0300", "0300 4567"}, []string{"4567"}},
		{"CCCD 0012\u00a00300\u00a04567", []string{"0012", "0300"}, []string{"4567"}},
		{"001203004567 0912345678", []string{"001203004567", "0912345678", "0012", "0912"}, []string{"5678"}},
		{"mã 482913 2 phút", []string{"482913"}, []string{"2 phút"}},
		{"mk 0012 0300 4567", []string{"0012", "0300"}, nil},
		{"mất 1.500.000 đồng ngày 12-03-2024, chọn 2", nil, []string{"1.500.000", "12-03-2024", "chọn 2"}},
		{"otp 1234.", []string{"1234"}, []string{"otp"}},
		{"mã OTP là: 4829", []string{"4829"}, []string{"mã OTP là:"}},
		{"mật khẩu của tôi là Abc@12345 nhé", []string{"Abc@12345"}, []string{"mật khẩu của tôi là", "nhé"}},
		{"mat khau cua minh la: hunter22", []string{"hunter22"}, []string{"mat khau"}},
		{"my password is hunter22", []string{"hunter22"}, []string{"my password is"}},
		{"OTP của tôi là 48291", []string{"48291"}, []string{"OTP"}},
		// a password ending in a digit ran into the number after it; masked, it
		// leaves a phone number (found by FuzzMaskPII's long run)
		{"mk 00m7 0010501 436k", []string{"00m7", "0010501"}, []string{"436k"}},
	}
	for _, tt := range tests {
		got := MaskPII(tt.text)
		for _, h := range tt.hidden {
			if strings.Contains(got, h) {
				t.Errorf("MaskPII(%q) = %q still shows %q", tt.text, got, h)
			}
		}
		for _, v := range tt.visible {
			if !strings.Contains(got, v) {
				t.Errorf("MaskPII(%q) = %q lost %q", tt.text, got, v)
			}
		}
	}
}

// Vietnamese typed with combining diacritics reaches the core composed
// (CleanText), so keyword-introduced codes and passwords are found in it too.
func TestPIIDecomposedVietnamese(t *testing.T) {
	for _, tt := range []struct{ text, secret string }{
		{"mã OTP là 4829", "4829"},
		{"mã xác thực 48291", "48291"},
		{"mật khẩu: Abc@12345", "Abc@12345"},
	} {
		in := CleanText(norm.NFD.String(tt.text))
		if p := ScanPII(in); !p.Warn() {
			t.Errorf("ScanPII(%+q) = %+v, want a warning", in, p)
		}
		if m := MaskPII(in); strings.Contains(m, tt.secret) {
			t.Errorf("MaskPII(%+q) = %q shows %q", in, m, tt.secret)
		}
	}
}

func TestPIIOddInput(t *testing.T) {
	huge := strings.Repeat("🙂 ت \x00 \xff 1234 ", 50000)
	_ = ScanPII(huge)
	if m := MaskPII(huge); len(m) == 0 {
		t.Fatal("mask of huge text is empty")
	}
}

// checkMasked asserts MaskPII's promise about out = MaskPII(in), with its
// own reading of digits and numbers rather than the masker's regexps.
func checkMasked(t *testing.T, in, out string) {
	t.Helper()
	isSep := func(r rune) bool {
		return r == '.' || r == '-' || (r >= 0x2010 && r <= 0x2015) || unicode.Is(unicode.Zs, r)
	}
	rs := []rune(out)
	for i := 0; i < len(rs); {
		if !isASCIIDigit(rs[i]) {
			i++
			continue
		}
		// one number: digit runs joined by separators
		total, j := 0, i
		for {
			run := 0
			for j < len(rs) && isASCIIDigit(rs[j]) {
				run++
				j++
			}
			if run == 6 {
				t.Fatalf("MaskPII(%+q) = %+q leaves a 6-digit run", in, out)
			}
			total += run
			k := j
			for k < len(rs) && isSep(rs[k]) {
				k++
			}
			if k == j || k == len(rs) || !isASCIIDigit(rs[k]) {
				break
			}
			j = k
		}
		if total >= 12 {
			t.Fatalf("MaskPII(%+q) = %+q leaves a number of %d digits", in, out, total)
		}
		i = j
	}
	if p := ScanPII(out); p.IDNumber || p.OTP || p.Phone || p.LongNumber {
		t.Fatalf("MaskPII(%+q) = %+q still scans as %+v", in, out, p)
	}
	if again := MaskPII(out); again != out {
		t.Fatalf("MaskPII is not idempotent: %+q -> %+q -> %+q", in, out, again)
	}
	if utf8.ValidString(in) && !utf8.ValidString(out) {
		t.Fatalf("MaskPII(%+q) = %+q is not valid UTF-8", in, out)
	}
	if p := ScanPII(in); (p.IDNumber || p.OTP || p.Phone || p.LongNumber) && out == in {
		t.Fatalf("ScanPII(%+q) = %+v but MaskPII changed nothing", in, p)
	}
	if !strings.ContainsFunc(in, isASCIIDigit) && !reSecret.MatchString(in) && out != in {
		t.Fatalf("MaskPII(%+q) = %+q changed a text with no number and no secret", in, out)
	}
}

func isASCIIDigit(r rune) bool { return r >= '0' && r <= '9' }

func TestMaskPIIPromise(t *testing.T) {
	for _, s := range piiSeeds {
		checkMasked(t, s, MaskPII(s))
		checkMasked(t, CleanText(s), MaskPII(CleanText(s)))
	}
}

var piiSeeds = []string{
	"mã OTP là 482913, CCCD 001203004567, gọi 0912345678",
	"482913", "mã 482913 2 phút", "001203004567 0912345678", "0012 0300 4567", "079.123.456.789",
	"0012\u00a00300\u00a04567", "0012 - 0300 - 4567", "0012\u20130300\u20134567", "+84 912 345 678",
	"+84912345678", "+123456", "+001203004567", "4111 1111 1111 1111", "12 +345678", "1 482913 1",
	"mk 0012 0300 4567", "pass pass pass x", "otp 1234.", "mã OTP là: 4829", "mật khẩu của tôi là: x y", "otp: 12345678 ok", "mật khẩu: Abc@12345",
	"1.500.000", "ngày 12-03-2024", "0000000000000000000000000", "1 2 3 4 5 6 7 8 9 10 11 12",
	"48\u200b2913", "4\u200d82913", "0012\u00ad0300\u00ad4567", "1234567 123456", "123456123456",
	"•••••• 482913", "••••••••4567 1234", "CCCD001203004567", "a482913b", "\xff482913\x00",
	"", "chọn 1", "năm 2024", "ma\u0303 OTP la\u0300 4829", "m\u00e2\u0323t kh\u00e2\u0309u: Abc@1",
}

func FuzzMaskPII(f *testing.F) {
	for _, s := range piiSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkMasked(t, s, MaskPII(s))
		// what the core masks has been through CleanText
		if c := CleanText(s); c != s {
			checkMasked(t, c, MaskPII(c))
		}
	})
}
