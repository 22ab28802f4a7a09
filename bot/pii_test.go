package bot

import (
	"strings"
	"testing"
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

func TestPIIOddInput(t *testing.T) {
	huge := strings.Repeat("🙂 ت \x00 \xff 1234 ", 50000)
	_ = ScanPII(huge)
	if m := MaskPII(huge); len(m) == 0 {
		t.Fatal("mask of huge text is empty")
	}
}

func FuzzMaskPII(f *testing.F) {
	f.Add("mã OTP là 482913, CCCD 001203004567, gọi 0912345678")
	f.Fuzz(func(t *testing.T, s string) {
		m := MaskPII(s)
		if p := ScanPII(m); p.IDNumber || p.OTP {
			t.Fatalf("masked text still has PII: %q -> %q", s, m)
		}
	})
}
