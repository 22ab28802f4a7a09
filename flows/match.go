package flows

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize folds text for matching: lower case, Vietnamese diacritics
// removed (đ → d), compatibility forms folded (full-width digits), control
// characters and runs of white space turned into one space, trimmed.
// Invalid UTF-8 is dropped.
func Normalize(s string) string {
	s = strings.ToValidUTF8(s, "")
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		case unicode.IsSpace(r) || unicode.IsControl(r):
			space = b.Len() > 0
			continue
		default:
			r = unicode.ToLower(r)
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MatchKey is Normalize with everything but letters and digits turned into
// spaces: "Android (Samsung, Oppo…)" → "android samsung oppo",
// "P. Bến Thành" → "p ben thanh". Flows match keywords, choices and
// buttons on it; other packages (bot/areas) match names the same way.
func MatchKey(s string) string {
	n := Normalize(s)
	var b strings.Builder
	b.Grow(len(n))
	space := false
	for _, r := range n {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// containsWords reports whether the match key phrase occurs in text on word
// boundaries ("cai vneid" is in "toi muon cai vneid", not in "cai vneidx").
func containsWords(text, phrase string) bool {
	if phrase == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(text[i:], phrase)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(phrase)
		if (start == 0 || text[start-1] == ' ') && (end == len(text) || text[end] == ' ') {
			return true
		}
		i = start + 1
	}
}

// Global actions typed as free text.
const (
	actMenu  = "menu"
	actBack  = "back"
	actHuman = "human"
)

// globalWords are the phrases that work anywhere (match keys). The way-out
// button labels of every language are matched too (see Set.global).
var globalWords = map[string]string{
	"menu": actMenu, "menu chinh": actMenu, "trang chu": actMenu, "main menu": actMenu, "home": actMenu,
	"quay lai": actBack, "back": actBack, "tro lai": actBack,
	"gap tinh nguyen vien": actHuman, "tinh nguyen vien": actHuman, "nguoi that": actHuman,
	"volunteer": actHuman, "human": actHuman, "gap nguoi that": actHuman,
}

// globalAction returns the action of a match key that is exactly a global word.
func globalAction(key string) string { return globalWords[key] }

// maxGlobalWords bounds how long a message may be for a global phrase inside
// it to count ("cho tôi gặp tình nguyện viên" yes, a long question about the
// VNeID home screen no).
const maxGlobalWords = 6

// greetWords, typed at the main menu, are answered with the greeting.
var greetWords = map[string]bool{
	"chao": true, "xin chao": true, "alo": true, "a lo": true, "hello": true, "hi": true, "chao ban": true,
	"chao em": true, "chao chau": true, "chao con": true, "hey": true,
}

// yes/no words typed as answers (match keys).
var (
	yesWords = map[string]bool{
		"co": true, "yes": true, "y": true, "u": true, "uh": true, "um": true, "ok": true, "oke": true, "okay": true,
		"vang": true, "da": true, "dung": true, "roi": true, "duoc": true, "co roi": true, "da co": true, "dung roi": true,
		"duoc roi": true, "yes i do": true, "sure": true,
	}
	noWords = map[string]bool{
		"khong": true, "ko": true, "k": true, "kg": true, "hong": true, "no": true, "n": true, "chua": true,
		"nope": true, "not yet": true, "chua duoc": true, "khong duoc": true,
	}
	// continueWords move a message step on, like its "continue" button.
	continueWords = map[string]bool{
		"tiep": true, "tiep tuc": true, "tiep theo": true, "xong": true, "xong roi": true, "next": true,
		"continue": true, "done": true, "lam xong": true, "roi": true, "ok": true, "oke": true, "okay": true,
		"da xong": true, "duoc": true, "duoc roi": true,
	}
)

// yesNo reads a yes/no answer from a match key: short answers only, a
// negation wins ("chưa được" is no).
func yesNo(key string) (string, bool) {
	if key == "" {
		return "", false
	}
	if yesWords[key] {
		return answerYes, true
	}
	if noWords[key] {
		return answerNo, true
	}
	words := strings.Fields(key)
	if len(words) > 4 {
		return "", false
	}
	for _, w := range words {
		if noWords[w] {
			return answerNo, true
		}
	}
	for _, w := range words {
		if yesWords[w] {
			return answerYes, true
		}
	}
	return "", false
}

// ordinal reads "1", " 2 ", "số 3", "#2" as a 1-based position.
func ordinal(key string) (int, bool) {
	key = strings.TrimPrefix(key, "so ")
	if key == "" || len(key) > 3 {
		return 0, false
	}
	n, err := strconv.Atoi(key)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// clip cuts s to at most max bytes, dropping invalid UTF-8 (including a
// rune cut in half).
func clip(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.ToValidUTF8(s, "")
}
