package telegram

import (
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

func TestToHTML(t *testing.T) {
	tests := map[string]string{
		"":                       "",
		"plain":                  "plain",
		"**bold**":               "<b>bold</b>",
		"a **b** c **d**":        "a <b>b</b> c <b>d</b>",
		"unpaired ** star":       "unpaired ** star",
		"**a** **b":              "<b>a</b> **b",
		"****":                   "<b></b>",
		"<script>&\"'":           "&lt;script&gt;&amp;&#34;&#39;",
		"**<i>**":                "<b>&lt;i&gt;</b>",
		"&amp; stays text":       "&amp;amp; stays text",
		"🙂 ت \u200f":             "🙂 ت \u200f",
		"nul\x00":                "nul\x00",
		"**Cài đặt** → **Nhận**": "<b>Cài đặt</b> → <b>Nhận</b>",
		"*one* and ***three***":  "*one* and <b>*three</b>*",
	}
	for in, want := range tests {
		if got := ToHTML(in); got != want {
			t.Errorf("ToHTML(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRender checks render's invariants: the only tags are <b> and </b>,
// balanced; the counted length is the UTF-16 length of the text without its
// bold markers.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "**a**", "a**b", "<&>\"'", "🙂**🙂**", "\xff\xfe", strings.Repeat("**", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		h, units := render(s)
		rest := strings.NewReplacer("<b>", "", "</b>", "").Replace(h)
		if strings.ContainsAny(rest, "<>") {
			t.Fatalf("render(%q) = %q has a raw < or >", s, h)
		}
		if strings.Count(h, "<b>") != strings.Count(h, "</b>") {
			t.Fatalf("render(%q) = %q is unbalanced", s, h)
		}
		visible := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&#39;", "'").Replace(rest)
		if n := len(utf16.Encode([]rune(visible))); n != units {
			t.Fatalf("render(%q): counted %d units, visible text %q has %d", s, units, visible, n)
		}
	})
}
