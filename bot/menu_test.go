package bot_test

import (
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

func bundled(t *testing.T) *flows.Set {
	t.Helper()
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

var menuRows = [][]bot.Button{
	{{Text: "📲 Cài VNeID", Data: "f:install"}, {Text: "🔑 Kích hoạt", Data: "f:activate"}},
	{{Text: "🌐 Cổng dịch vụ công", URL: "https://dichvucong.gov.vn"}},
	{{Text: "🙋 Gặp tình nguyện viên", Data: "nav:human"}},
}

func TestRenderMenuNumbersPayloadButtonsAndListsLinks(t *testing.T) {
	set := bundled(t)
	got := bot.RenderMenu(set, "vi", "Bác cần giúp gì?", menuRows)
	want := "Bác cần giúp gì?\n1. 📲 Cài VNeID\n2. 🔑 Kích hoạt\n3. 🙋 Gặp tình nguyện viên\n\n" +
		"• 🌐 Cổng dịch vụ công: https://dichvucong.gov.vn\n\n👉 Bác trả lời 1, 2 hoặc 3 để chọn."
	if got != want {
		t.Fatalf("rendered\n%s\nwant\n%s", got, want)
	}
	if en := bot.RenderMenu(set, "en", "Hi", menuRows[:1]); !strings.HasSuffix(en, "👉 Reply 1 or 2 to choose.") {
		t.Fatalf("English hint: %q", en)
	}
	if plain := bot.RenderMenu(set, "vi", "text only", nil); plain != "text only" {
		t.Fatalf("no buttons: %q", plain)
	}
	many := [][]bot.Button{}
	for i := range 8 {
		many = append(many, []bot.Button{{Text: "x", Data: string(rune('a' + i))}})
	}
	if got := bot.RenderMenu(set, "vi", "t", many); !strings.HasSuffix(got, "Bác trả lời một số từ 1 đến 8 để chọn.") {
		t.Fatalf("long menu hint: %q", got)
	}
	one := bot.RenderMenu(set, "vi", "t", [][]bot.Button{{{Text: "OK", Data: "ok"}}})
	if !strings.HasSuffix(one, "Bác trả lời 1 để chọn.") {
		t.Fatalf("one choice: %q", one)
	}
}

func TestMenuChooseByNumberOrLabel(t *testing.T) {
	m := bot.NumberButtons(menuRows)
	if len(m.Choices) != 3 {
		t.Fatalf("choices %+v: link buttons take no number", m.Choices)
	}
	for _, tc := range []struct {
		answer string
		data   string // "" = not a choice
	}{
		{"1", "f:install"}, {" 2 ", "f:activate"}, {"3.", "nav:human"}, {"số 2", "f:activate"}, {"So 1", "f:install"},
		{"#3", "nav:human"}, {"２", "f:activate"}, // full-width digit
		{"cai vneid", "f:install"}, {"CÀI VNEID", "f:install"}, {"📲 Cài VNeID", "f:install"},
		{"gap tinh nguyen vien", "nav:human"},
		{"0", ""}, {"4", ""}, {"99999", ""}, {"-1", "f:install"}, // "-1" folds to "1": a resident's typo
		{"cài", ""}, {"", ""}, {"🙂", ""}, {"1 2", ""}, {"cổng dịch vụ công", ""}, // a link is not a choice
		{strings.Repeat("9", 40), ""}, {"\xff\xfe", ""},
	} {
		b, ok := m.Choose(tc.answer)
		if ok != (tc.data != "") || b.Data != tc.data {
			t.Errorf("Choose(%q) = %+v, %v; want %q", tc.answer, b, ok, tc.data)
		}
	}
	if _, ok := (bot.Menu{}).Choose("1"); ok {
		t.Fatal("an empty menu chose")
	}
}

func TestPlainTextDropsPairedBoldMarkers(t *testing.T) {
	for in, want := range map[string]string{
		"Bác bấm **Tiếp tục**":  "Bác bấm Tiếp tục",
		"**a** and **b**":       "a and b",
		"2 ** 3":                "2 ** 3",
		"**a** then ** alone":   "a then ** alone",
		"":                      "",
		"no markers":            "no markers",
		"****":                  "",
		"**unclosed **closed**": "unclosed closed**",
	} {
		if got := bot.PlainText(in); got != want {
			t.Errorf("PlainText(%q) = %q, want %q", in, got, want)
		}
	}
}
