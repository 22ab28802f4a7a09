package bot

import (
	"strconv"
	"strings"

	"github.com/gocua/gocua/flows"
)

// Texts gives the locale's system texts (*flows.Set implements it).
type Texts interface {
	Text(lang, key string, vars map[string]string) string
}

// Menu is a message's buttons as a numbered list, for channels that have no
// buttons (the Zalo Bot Platform, the terminal chat): the resident answers
// with a choice's number or its label. Link buttons are listed with their
// address and take no number.
type Menu struct {
	// Choices are the payload buttons, in reading order: choice n is
	// Choices[n-1].
	Choices []Button `json:"c"`
}

// NumberButtons numbers rows' payload buttons in reading order.
func NumberButtons(rows [][]Button) Menu {
	var m Menu
	for _, row := range rows {
		for _, b := range row {
			if b.URL == "" && b.Data != "" {
				m.Choices = append(m.Choices, b)
			}
		}
	}
	return m
}

// RenderMenu is text followed by rows as numbered lines ("1. Cài VNeID"),
// link buttons as "• label: address", and a line saying how to answer
// (the locale's menu_reply, in lang). Without buttons it is text.
func RenderMenu(texts Texts, lang, text string, rows [][]Button) string {
	var b strings.Builder
	b.WriteString(text)
	n := 0
	links := false
	for _, row := range rows {
		for _, btn := range row {
			switch {
			case btn.URL != "":
				links = true
			case btn.Data != "":
				n++
				b.WriteString("\n" + strconv.Itoa(n) + ". " + btn.Text)
			}
		}
	}
	if links {
		b.WriteString("\n")
		for _, row := range rows {
			for _, btn := range row {
				if btn.URL != "" {
					b.WriteString("\n• " + btn.Text + ": " + btn.URL)
				}
			}
		}
	}
	if n > 0 {
		b.WriteString("\n\n" + texts.Text(lang, "menu_reply", map[string]string{"choices": choiceList(texts, lang, n)}))
	}
	return b.String()
}

// choiceList is "1", "1 hoặc 2", "1, 2 hoặc 3"; from 6 choices on it is
// "1 … 9" (the locale's menu_range).
func choiceList(texts Texts, lang string, n int) string {
	switch {
	case n == 1:
		return "1"
	case n > 5:
		return texts.Text(lang, "menu_range", map[string]string{"first": "1", "last": strconv.Itoa(n)})
	}
	nums := make([]string, n)
	for i := range nums {
		nums[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(nums[:n-1], ", ") + " " + texts.Text(lang, "menu_or", nil) + " " + nums[n-1]
}

// Choose reads a resident's answer to the menu: a choice's number ("2",
// "2.", "số 2", "#2", full-width digits) or its label, compared without
// case, diacritics, emoji or punctuation ("cai vneid" chooses "📲 Cài
// VNeID"). ok is false for anything else, which the core reads as text.
func (m Menu) Choose(answer string) (Button, bool) {
	key := flows.MatchKey(answer)
	if key == "" || len(m.Choices) == 0 {
		return Button{}, false
	}
	num := strings.TrimPrefix(strings.TrimPrefix(key, "so "), "number ")
	if n, err := strconv.Atoi(num); err == nil && menuNumber(num) {
		if n >= 1 && n <= len(m.Choices) {
			return m.Choices[n-1], true
		}
		return Button{}, false
	}
	for _, c := range m.Choices {
		if flows.MatchKey(c.Text) == key {
			return c, true
		}
	}
	return Button{}, false
}

func menuNumber(s string) bool {
	if s == "" || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// PlainText drops the **bold** markers flow texts use, for channels that
// show text as typed (Zalo); an unpaired "**" stays, as on Telegram.
func PlainText(s string) string {
	parts := strings.Split(s, "**")
	if len(parts) < 3 {
		return s
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 && i == len(parts)-1 && i%2 == 1 {
			b.WriteString("**") // the last marker has no partner
		}
		b.WriteString(p)
	}
	return b.String()
}
