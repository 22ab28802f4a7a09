package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	para := strings.Repeat("Bác bấm vào nút **Cài đặt**. ", 200) // ~5,800 chars
	tests := []struct {
		name string
		text string
		max  int
	}{
		{"short", "xin chào", 4096},
		{"paragraphs", para + "\n\n" + para, 4096},
		{"no spaces", strings.Repeat("a", 10000), 4096},
		{"emoji (2 UTF-16 units each)", strings.Repeat("🙂", 3000), 4096},
		{"zalo limit", para, 2000},
		{"invalid utf8", strings.Repeat("\xff", 5000), 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts := SplitText(tt.text, tt.max)
			var joined strings.Builder
			for i, p := range parts {
				if n := TextLen(p); n > tt.max {
					t.Fatalf("part %d has %d units > %d", i, n, tt.max)
				}
				if utf8.ValidString(tt.text) && !utf8.ValidString(p) {
					t.Fatalf("part %d cut inside a rune", i)
				}
				if p == "" && len(parts) > 1 {
					t.Fatalf("part %d empty", i)
				}
				joined.WriteString(p)
			}
			strip := func(s string) string { return strings.NewReplacer(" ", "", "\n", "").Replace(s) }
			if strip(joined.String()) != strip(tt.text) {
				t.Fatal("splitting lost or changed text")
			}
		})
	}
	if got := SplitText(para+"\n\n"+para, 4096); !strings.HasSuffix(got[0], ".") {
		t.Errorf("first part should end at a sentence boundary, ends %q", got[0][len(got[0])-10:])
	}
}
