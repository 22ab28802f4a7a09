package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CleanText makes text a resident sent safe to store, match, mask and show
// again. Every channel adapter passes what a resident typed — message text,
// caption, command arguments, button data, display name — through it when it
// builds an Inbound, so the core never sees:
//
//   - invalid UTF-8: each run of invalid bytes becomes one U+FFFD;
//   - control characters (C0 U+0000–U+001F, DEL, C1 U+0080–U+009F) other
//     than tab and newline: removed; "\r\n" and a lone "\r" become "\n";
//   - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: become "\n";
//   - other space characters (no-break space, thin space, ideographic space…,
//     Unicode category Zs): become " ", so "0012 0300 4567" copied from a web
//     page with no-break spaces is still one number to MaskPII and a keyword
//     still matches;
//   - bidirectional embeddings, overrides and isolates (U+202A–U+202E,
//     U+2066–U+2069): removed. An unterminated override reverses whatever is
//     shown after it — the rest of a volunteer's group message, a transcript
//     line — which is how "Trojan Source" text hides what it says;
//   - invisible format characters that only hide things inside words and
//     numbers: soft hyphen U+00AD, U+180E, zero width space U+200B, word
//     joiner and invisible operators U+2060–U+2064, the deprecated U+206A–U+206F,
//     byte order mark U+FEFF, interlinear annotation U+FFF9–U+FFFB, language tag
//     U+E0001 and musical formatting U+1D173–U+1D17A: removed, so
//     "48<U+200B>2913" is the code 482913 to the PII scanner;
//   - zero width joiner and non-joiner (U+200D, U+200C) between anything but
//     two non-ASCII characters: removed. Between non-ASCII characters they are
//     kept, because emoji sequences (👨‍👩‍👧) and Persian and Indic scripts need
//     them; between ASCII letters or digits they do nothing visible.
//
// The result is composed to Unicode NFC: Vietnamese typed with combining
// diacritics ("mã" as "ma" + U+0303, as some keyboards send it) becomes the
// same text as when typed precomposed, so keywords, answers and the PII
// scanner see one spelling; nothing visible changes. Everything else is kept
// as sent: letters of every script, combining marks, emoji with their
// variation selectors and tag sequences, the directional marks LRM, RLM and
// ALM (a mark opens nothing that could leak into surrounding text),
// private-use and unassigned code points. CleanText does not trim or change
// case; adapters trim where they always did. Its result is valid UTF-8 in NFC
// and CleanText(CleanText(s)) == CleanText(s). A message may become empty:
// adapters treat that like a message without text.
func CleanText(s string) string {
	if isPlain(s) {
		return s
	}
	out := make([]rune, 0, len(s))
	invalid := false // the previous byte was invalid UTF-8
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size == 1 {
			if !invalid {
				out = append(out, utf8.RuneError)
			}
			invalid = true
			continue
		}
		invalid = false
		switch {
		case r == '\r':
			if i < len(s) && s[i] == '\n' {
				continue // the "\n" follows
			}
			out = append(out, '\n')
		case r == '\n', r == '\t':
			out = append(out, r)
		case r == '\u2028', r == '\u2029':
			out = append(out, '\n')
		case r < 0x20, r >= 0x7f && r <= 0x9f:
			// control character: dropped
		case r == ' ':
			out = append(out, r)
		case unicode.Is(unicode.Zs, r):
			out = append(out, ' ')
		case removedFormat(r):
			// invisible or reordering: dropped
		default:
			out = append(out, r)
		}
	}
	// Compose, then drop the joiners whose neighbours (as composed) do not
	// need them; dropping one can make its neighbours compose, so repeat
	// until nothing changes (each round removes a joiner).
	t := norm.NFC.String(string(out))
	for {
		j := dropJoiners(t)
		if j == t {
			return t
		}
		t = norm.NFC.String(j)
	}
}

// dropJoiners removes every joiner that is not between two non-ASCII
// characters that are not joiners themselves.
func dropJoiners(s string) string {
	if !strings.ContainsAny(s, "\u200c\u200d") {
		return s
	}
	rs := []rune(s)
	n := 0
	for i, r := range rs {
		if isJoiner(r) && !(i > 0 && i+1 < len(rs) && joinable(rs[i-1]) && joinable(rs[i+1])) {
			continue
		}
		rs[n] = r
		n++
	}
	return string(rs[:n])
}

// isPlain reports whether s is printable ASCII, tabs and newlines only: the
// common case, returned unchanged without allocating.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

func isJoiner(r rune) bool { return r == '\u200c' || r == '\u200d' }

func joinable(r rune) bool { return r >= utf8.RuneSelf && !isJoiner(r) }

// removedFormat lists the invisible characters CleanText drops outright.
func removedFormat(r rune) bool {
	switch {
	case r == '\u00ad', r == '\u180e', r == '\u200b', r == '\ufeff', r == '\U000e0001':
		return true
	case r >= '\u202a' && r <= '\u202e', // bidi embeddings and overrides
		r >= '\u2060' && r <= '\u2064',         // word joiner, invisible operators
		r >= '\u2066' && r <= '\u206f',         // bidi isolates, deprecated format characters
		r >= '\ufff9' && r <= '\ufffb',         // interlinear annotation
		r >= '\U0001d173' && r <= '\U0001d17a': // musical formatting
		return true
	}
	return false
}
