package telegramtest

import (
	"fmt"
	"strconv"
	"strings"
)

// htmlTag reports whether Telegram's HTML parse mode accepts a tag.
func htmlTag(name string) bool {
	switch name {
	case "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a",
		"code", "pre", "tg-spoiler", "span", "blockquote", "tg-emoji":
		return true
	}
	return false
}

// parseHTML checks text the way Telegram's HTML parse mode does and returns
// what the reader sees: tags removed, entities decoded. Unknown or unbalanced
// tags, a raw '<' or '>' outside a tag, and an '&' that starts no known
// entity are errors, as they are for Telegram.
func parseHTML(s string) (string, error) {
	var out strings.Builder
	var open []string
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", fmt.Errorf("unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			closing := strings.HasPrefix(tag, "/")
			name := strings.ToLower(strings.TrimPrefix(tag, "/"))
			if sp := strings.IndexAny(name, " \t\n"); sp >= 0 {
				if closing {
					return "", fmt.Errorf("unexpected end tag at byte offset %d", i)
				}
				name = name[:sp]
			}
			if !htmlTag(name) {
				return "", fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
			}
			if closing {
				if len(open) == 0 || open[len(open)-1] != name {
					return "", fmt.Errorf("unmatched end tag at byte offset %d, expected \"</%s>\"", i, last(open))
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, name)
			}
			i += end + 1
		case '>':
			return "", fmt.Errorf("unexpected '>' at byte offset %d", i)
		case '&':
			end := strings.IndexByte(s[i:], ';')
			if end < 0 {
				return "", fmt.Errorf("unclosed entity at byte offset %d", i)
			}
			r, ok := entity(s[i+1 : i+end])
			if !ok {
				return "", fmt.Errorf("unsupported entity at byte offset %d", i)
			}
			out.WriteRune(r)
			i += end + 1
		default:
			out.WriteByte(c)
			i++
		}
	}
	if len(open) > 0 {
		return "", fmt.Errorf("can't find end tag corresponding to start tag %q", last(open))
	}
	return out.String(), nil
}

func last(open []string) string {
	if len(open) == 0 {
		return ""
	}
	return open[len(open)-1]
}

// entity decodes the named entities Telegram supports and numeric ones.
func entity(name string) (rune, bool) {
	switch name {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	}
	num, ok := strings.CutPrefix(name, "#")
	if !ok || num == "" {
		return 0, false
	}
	base := 10
	if h, isHex := strings.CutPrefix(strings.ToLower(num), "x"); isHex {
		num, base = h, 16
	}
	n, err := strconv.ParseUint(num, base, 32)
	if err != nil || n > 0x10FFFF {
		return 0, false
	}
	return rune(n), true
}
