package telegram

import (
	"strings"
	"unicode/utf16"
)

// ToHTML renders the flow text format for Telegram's HTML parse mode. The
// format has one markup: **bold**. Everything else is escaped (<, >, & and
// quotes), so text typed by residents or volunteers can never inject tags,
// and an unpaired "**" stays literal text so a resident never sees a broken
// message.
func ToHTML(s string) string {
	h, _ := render(s)
	return h
}

// render returns the HTML for s and the length Telegram counts against its
// 4096 limit: UTF-16 code units of the text after entity parsing, i.e.
// without the bold markers and with escapes counted as the one character
// they stand for.
func render(s string) (html string, units int) {
	parts := strings.Split(s, "**")
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i, p := range parts {
		bold := i%2 == 1
		if bold && i == len(parts)-1 { // an opening ** without its closing one
			b.WriteString("**")
			units += 2
			bold = false
		}
		if bold {
			b.WriteString("<b>")
		}
		for _, r := range p {
			switch r {
			case '<':
				b.WriteString("&lt;")
			case '>':
				b.WriteString("&gt;")
			case '&':
				b.WriteString("&amp;")
			case '"': // quotes too, as html.EscapeString does: harmless, and stable output
				b.WriteString("&#34;")
			case '\'':
				b.WriteString("&#39;")
			default:
				b.WriteRune(r)
			}
			units += utf16.RuneLen(r)
		}
		if bold {
			b.WriteString("</b>")
		}
	}
	return b.String(), units
}
