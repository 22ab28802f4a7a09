package bot

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// TextLen counts text the way Telegram does (UTF-16 code units), which is
// never less than the rune count Zalo uses, so one limit serves both.
func TextLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
		if r == utf8.RuneError {
			n++ // invalid bytes may be re-encoded as U+FFFD by the platform
		}
	}
	return n
}

// SplitText cuts text into pieces of at most max units (see TextLen),
// preferring paragraph, then line, then sentence, then word boundaries, and
// never cutting inside a rune. Empty text gives one empty piece.
func SplitText(text string, max int) []string {
	if max <= 0 || TextLen(text) <= max {
		return []string{text}
	}
	var parts []string
	for TextLen(text) > max {
		cut := cutPoint(text, max)
		part := strings.TrimRight(text[:cut], " \n")
		if part == "" { // only spaces before the limit: cut hard
			part = text[:cut]
		}
		parts = append(parts, part)
		text = strings.TrimLeft(text[cut:], " \n")
	}
	if text != "" {
		parts = append(parts, text)
	}
	return parts
}

// cutPoint returns a byte index ≤ the position of max units in text at the
// best boundary found in the second half of the allowed span.
func cutPoint(text string, max int) int {
	limit, n := 0, 0
	for i, r := range text {
		w := utf16.RuneLen(r)
		if r == utf8.RuneError {
			w++
		}
		if n+w > max {
			break
		}
		n += w
		limit = i + utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, size := utf8.DecodeRuneInString(text[i:])
			limit = i + size
		}
	}
	span := text[:limit]
	for _, sep := range []string{"\n\n", "\n", ". ", " "} {
		if i := strings.LastIndex(span, sep); i > limit/2 {
			return i + len(sep)
		}
	}
	if limit == 0 { // a single rune wider than max: emit it alone
		_, size := utf8.DecodeRuneInString(text)
		return size
	}
	return limit
}
