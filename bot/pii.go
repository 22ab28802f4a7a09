package bot

import (
	"regexp"
	"strings"
)

// PII is what ScanPII found in a resident's message.
type PII struct {
	IDNumber bool // a 12-digit citizen ID number
	OTP      bool // a one-time code or 6-digit passcode
	Password bool // something introduced as a password
	Phone    bool // a Vietnamese phone number
}

// Warn reports whether the resident should be warned: nobody legitimate asks
// for an OTP, a password or a full ID number. A phone number alone is masked
// but not warned about.
func (p PII) Warn() bool { return p.IDNumber || p.OTP || p.Password }

var (
	// digit runs that may be written in groups: "0012 3456 7890", "079.123.456.789".
	reDigits = regexp.MustCompile(`\+?\d[\d .\-]*\d|\d`)
	// a secret introduced by a keyword: "mật khẩu: Abc@123", "otp 4821", "pass la xyz".
	reSecret = regexp.MustCompile(`(?i)\b(otp|m[aã] otp|m[aã] x[aá]c (?:th[uự]c|nh[aậ]n)|ma xac (?:thuc|nhan)|m[aậ]t kh[aẩ]u|mat khau|password|passcode|pass|mk)\b\s*(?:l[aà]|is|:|=)?\s*(\S+)`)
)

// ScanPII looks for personal secrets in free text. It is deliberately
// conservative with short numbers: "1" or "2024" are menu choices and years.
func ScanPII(text string) PII {
	var p PII
	for _, m := range reDigits.FindAllString(text, -1) {
		switch classifyDigits(m) {
		case digitsID:
			p.IDNumber = true
		case digitsOTP:
			p.OTP = true
		case digitsPhone:
			p.Phone = true
		}
	}
	for _, m := range reSecret.FindAllStringSubmatch(text, -1) {
		kw := strings.ToLower(m[1])
		if strings.Contains(kw, "otp") || strings.HasPrefix(kw, "m") && strings.Contains(kw, "x") {
			if isDigits(m[2], 4, 8) {
				p.OTP = true
			}
			continue
		}
		if len([]rune(m[2])) >= 4 {
			p.Password = true
		}
	}
	return p
}

// MaskPII replaces ID numbers, phone numbers, OTP-looking codes and
// keyword-introduced secrets with "•" runs, keeping the last digits of phone
// numbers and ID numbers so a volunteer can still tell them apart.
func MaskPII(text string) string {
	text = reSecret.ReplaceAllStringFunc(text, func(m string) string {
		sub := reSecret.FindStringSubmatch(m)
		kw := strings.ToLower(sub[1])
		isCode := strings.Contains(kw, "otp") || strings.HasPrefix(kw, "m") && strings.Contains(kw, "x")
		if isCode && !isDigits(sub[2], 4, 8) {
			return m
		}
		return strings.TrimSuffix(m, sub[2]) + "••••"
	})
	return reDigits.ReplaceAllStringFunc(text, func(m string) string {
		switch classifyDigits(m) {
		case digitsID:
			return "••••••••" + lastDigits(m, 4)
		case digitsPhone:
			return "•••••••" + lastDigits(m, 3)
		case digitsOTP:
			return "••••••"
		}
		return m
	})
}

type digitsKind int

const (
	digitsOther digitsKind = iota
	digitsID
	digitsOTP
	digitsPhone
)

func classifyDigits(m string) digitsKind {
	plus := strings.HasPrefix(m, "+")
	d := onlyDigits(m)
	switch {
	case plus && strings.HasPrefix(d, "84") && (len(d) == 11 || len(d) == 12):
		return digitsPhone
	case len(d) == 12 && !strings.ContainsAny(m, "+"):
		return digitsID
	case (len(d) == 10 || len(d) == 11) && d[0] == '0':
		return digitsPhone
	case len(d) == 6 && !strings.ContainsAny(m, " .-+"):
		return digitsOTP
	}
	return digitsOther
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func lastDigits(m string, n int) string {
	d := onlyDigits(m)
	if len(d) <= n {
		return d
	}
	return d[len(d)-n:]
}

func isDigits(s string, min, max int) bool {
	s = strings.TrimRight(s, ".,;!?)")
	if len(s) < min || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
