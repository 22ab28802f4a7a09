package bot

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PII is what ScanPII found in a resident's message.
type PII struct {
	IDNumber bool // a 12-digit citizen ID number, alone or run into other digits
	OTP      bool // a one-time code or 6-digit passcode
	Password bool // something that looks like a password, introduced as one
	Phone    bool // a Vietnamese phone number
	// LongNumber: more than 12 digits in one number (a card or account
	// number, several numbers run together). Masked, not warned about.
	LongNumber bool
}

// Warn reports whether the resident should be warned: nobody legitimate asks
// for an OTP, a password or a full ID number. A phone number or a long number
// alone is masked but not warned about.
func (p PII) Warn() bool { return p.IDNumber || p.OTP || p.Password }

var (
	// a number: digits, possibly written in groups — "0012 3456 7890",
	// "079.123.456.789", "0912-345-678" — with any space character, '.', '-'
	// or a Unicode dash between the groups; a leading '+' for phone numbers.
	reNumber = regexp.MustCompile(`\+?\d[\d\p{Zs}.\-\x{2010}-\x{2015}]*\d|\d`)
	// a secret introduced by a keyword and any of "của tôi", "là", "is", ":",
	// "=": "mật khẩu: Abc@123", "otp 4821", "pass la xyz", "mật khẩu của tôi
	// là: Abc@123", "mã OTP là: 4821".
	reSecret = regexp.MustCompile(`(?i)\b(otp|m[aã] otp|m[aã] x[aá]c (?:th[uự]c|nh[aậ]n)|ma xac (?:thuc|nhan)|m[aậ]t kh[aẩ]u|mat khau|password|passcode|pass|mk)\b` +
		`(?:\s*(?:của (?:tôi|mình|em|bác|con|cháu)|cua (?:toi|minh|em|bac|con|chau)|my|l[aà]|is|:|=))*\s*(\S+)`)
)

// ScanPII looks for personal secrets in free text. It is deliberately
// conservative with short numbers: "1" or "2024" are menu choices and years,
// "1.500.000" is an amount. It flags exactly what MaskPII masks (and, for
// keyword-introduced secrets, the ones worth a warning).
func ScanPII(text string) PII {
	var p PII
	for _, m := range reNumber.FindAllString(text, -1) {
		switch classifyNumber(m) {
		case numberID:
			p.IDNumber = true
		case numberOTP:
			p.OTP = true
		case numberPhone:
			p.Phone = true
		case numberLong:
			p.LongNumber = true
			p.IDNumber = p.IDNumber || hasRun(m, 12)
			p.OTP = p.OTP || hasRun(m, 6)
		default:
			p.OTP = p.OTP || hasRun(m, 6)
		}
	}
	for _, m := range reSecret.FindAllStringSubmatch(text, -1) {
		if isCodeKeyword(m[1]) {
			if isDigits(m[2], 4, 8) {
				p.OTP = true
			}
			continue
		}
		if looksLikePassword(m[2]) {
			p.Password = true
		}
	}
	return p
}

// MaskPII hides personal numbers and keyword-introduced secrets behind "•"
// runs, keeping the last digits of phone and ID numbers so a volunteer can
// still tell them apart. It promises, for any input, that its result:
//
//   - has no run of exactly 6 ASCII digits (an OTP, bare or inside a longer
//     number such as "482913 2");
//   - has no number — ASCII digits joined by spaces, '.', '-' or dashes, as
//     IDs are written ("0012 0300 4567", "079.123.456.789") — of 12 or more
//     digits in all (an ID, alone or run into other digits);
//   - shows none of a phone number but its last 3 digits;
//   - hides the word that follows a secret keyword — after any of "của tôi"
//     (or another possessive), "là", "is", ":" and "=" — when the keyword names
//     a password ("mật khẩu của tôi là: Abc@123") or it is a code of 4 to 8
//     digits and the keyword names a one-time code ("mã OTP là 4829");
//   - is unchanged by masking it again.
//
// Digits of other scripts (fullwidth, Arabic-Indic) and digits kept apart by
// invisible characters are not recognised: CleanText removes the invisible
// characters and normalizes spaces before any text reaches the core.
func MaskPII(text string) string {
	text = reNumber.ReplaceAllStringFunc(text, maskNumber)
	text = reSecret.ReplaceAllStringFunc(text, func(m string) string {
		sub := reSecret.FindStringSubmatch(m)
		if isCodeKeyword(sub[1]) && !isDigits(sub[2], 4, 8) {
			return m
		}
		return strings.TrimSuffix(m, sub[2]) + "••••"
	})
	// a masked secret may have ended in digits that ran into the number
	// after it ("mk 00m7 0010501 436": "7 0010501 436" is no phone number,
	// "0010501 436" is): the numbers it leaves are masked again
	return reNumber.ReplaceAllStringFunc(text, maskNumber)
}

// maskNumber masks one reNumber match as MaskPII does.
func maskNumber(m string) string {
	switch classifyNumber(m) {
	case numberID, numberLong:
		return "••••••••" + lastDigits(m, 4)
	case numberPhone:
		return "•••••••" + lastDigits(m, 3)
	case numberOTP:
		return "••••••"
	}
	return maskRuns(m, 6)
}

// looksLikePassword reports whether a word introduced as a password looks
// like one: at least 4 characters with a digit, a symbol or a capital after
// the first letter. "mật khẩu không đúng" is a resident describing a
// problem, "mật khẩu: Abc@12345" is a password (VNeID requires digits and
// symbols).
func looksLikePassword(w string) bool {
	w = strings.TrimRight(w, ".,;!?)")
	if utf8.RuneCountInString(w) < 4 {
		return false
	}
	for i, r := range []rune(w) {
		if unicode.IsDigit(r) || !unicode.IsLetter(r) || i > 0 && unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// isCodeKeyword reports whether a reSecret keyword introduces a one-time code
// ("otp", "mã xác thực") rather than a password.
func isCodeKeyword(kw string) bool {
	kw = strings.ToLower(kw)
	return strings.Contains(kw, "otp") || strings.HasPrefix(kw, "m") && strings.Contains(kw, "x")
}

type numberKind int

const (
	numberOther numberKind = iota // a menu choice, a year, an amount, a date
	numberID                      // exactly 12 digits: a citizen ID (CCCD)
	numberOTP                     // exactly 6 digits written together
	numberPhone                   // a Vietnamese phone number
	numberLong                    // more than 12 digits
)

// classifyNumber classifies one reNumber match.
func classifyNumber(m string) numberKind {
	plus := strings.HasPrefix(m, "+")
	d := onlyDigits(m)
	switch {
	case plus && strings.HasPrefix(d, "84") && (len(d) == 11 || len(d) == 12):
		return numberPhone
	case len(d) == 12 && !plus:
		return numberID
	case (len(d) == 10 || len(d) == 11) && d[0] == '0':
		return numberPhone
	case len(d) == 6 && d == m:
		return numberOTP
	case len(d) >= 12:
		return numberLong
	}
	return numberOther
}

// hasRun reports whether m holds a run of exactly n consecutive digits.
func hasRun(m string, n int) bool {
	found := false
	eachRun(m, func(start, end int) {
		found = found || end-start == n
	})
	return found
}

// maskRuns replaces every run of exactly n consecutive digits in m with "•"s.
func maskRuns(m string, n int) string {
	if !hasRun(m, n) {
		return m
	}
	var b strings.Builder
	last := 0
	eachRun(m, func(start, end int) {
		if end-start == n {
			b.WriteString(m[last:start])
			b.WriteString(strings.Repeat("•", n))
			last = end
		}
	})
	b.WriteString(m[last:])
	return b.String()
}

// eachRun calls f with the byte range of every maximal run of ASCII digits in s.
func eachRun(s string, f func(start, end int)) {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		f(i, j)
		i = j
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

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
