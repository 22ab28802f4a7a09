package telegram

import (
	"html"
	"strings"
)

// ToHTML renders the flow text format for Telegram's HTML parse mode: every
// character is escaped, and **bold** spans become <b>…</b>. An unpaired "**"
// is kept as literal text, so a resident never sees a broken message.
func ToHTML(s string) string {
	parts := strings.Split(s, "**")
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i, p := range parts {
		bold := i%2 == 1
		if bold && i == len(parts)-1 { // opening ** without a closing one
			b.WriteString("**")
			bold = false
		}
		if bold {
			b.WriteString("<b>")
		}
		b.WriteString(html.EscapeString(p))
		if bold {
			b.WriteString("</b>")
		}
	}
	return b.String()
}
