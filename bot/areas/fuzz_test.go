package areas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzAreas feeds one file to Check and Parse, and a text to Match. Whatever
// the input: nothing panics; Check is deterministic, its issues carry a
// kind, a message in valid UTF-8 and the file's name, in line order; Parse
// succeeds exactly when Check (without a date) finds nothing, and its error
// holds those issues; a set that loads has only valid, unique codes that
// Lookup finds, and Match returns at most limit of its areas.
func FuzzAreas(f *testing.F) {
	for _, s := range []string{
		good, matchFile, string(SampleData()[:2000]), "", "---", "[1, 2]", "null", "~", "province: x",
		"province: {code: x, name: y}\nareas: [{code: a, name: Phường A}]\n",
		"province: {code: x, name: y}\nareas: [~, {code: a, name: Phường A}]\n",
		"province: {code: x, name: y}\nverified: 2999-12-31\nareas: [{code: a, name: Phường A, offices: [{kind: police, name: C, phone: '+84 912 345 678'}]}]\n",
		"province: &p {code: x, name: y}\nareas: [*p]\n", "a: &a [*a]\n", "\xff\xfe\x00",
		"province: {code: x, name: y}\nareas: [{code: a, name: Phường A, aliases: [Phường A]}]\n",
	} {
		f.Add([]byte(s), "ben thanh", 3)
	}
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, text string, limit int) {
		is1 := Check(today, "f.yaml", data)
		is2 := Check(today, "f.yaml", data)
		if !reflect.DeepEqual(is1, is2) {
			t.Fatalf("Check is not deterministic:\n%v\n%v", is1, is2)
		}
		for i, is := range is1 {
			if is.Kind == "" || strings.TrimSpace(is.Msg) == "" || !utf8.ValidString(is.Msg) || is.File != "f.yaml" || is.Line < 0 {
				t.Fatalf("malformed issue %#v", is)
			}
			if i > 0 && is1[i-1].Line > is.Line {
				t.Fatalf("issues out of line order: %v", is1)
			}
		}
		undated := Check(time.Time{}, "f.yaml", data)
		s, err := Parse("f.yaml", data)
		if (err == nil) != (len(undated) == 0) {
			t.Fatalf("Parse error %v, Check found %d issues", err, len(undated))
		}
		if err != nil {
			var is Issues
			if !errors.As(err, &is) || !reflect.DeepEqual([]Issue(is), undated) {
				t.Fatalf("Parse's error %v does not hold Check's issues %v", err, undated)
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range s.All() {
			if !codePattern.MatchString(a.Code) || len(a.Code) > MaxCode || seen[a.Code] {
				t.Fatalf("bad or repeated code %q", a.Code)
			}
			seen[a.Code] = true
			if b, ok := s.Lookup(a.Code); !ok || !reflect.DeepEqual(a, b) {
				t.Fatalf("Lookup(%q)", a.Code)
			}
			if a.Kind != KindWard && a.Kind != KindCommune && a.Kind != KindSpecialZone {
				t.Fatalf("kind %q", a.Kind)
			}
		}
		got := s.Match(text, limit)
		if limit > 0 && len(got) > limit || len(got) > s.Len() {
			t.Fatalf("Match returned %d areas, limit %d, of %d", len(got), limit, s.Len())
		}
		again := s.Match(text, limit)
		if !reflect.DeepEqual(got, again) {
			t.Fatal("Match is not deterministic")
		}
		for _, a := range got {
			if !seen[a.Code] {
				t.Fatalf("Match returned %q, not in the set", a.Code)
			}
		}
	})
}
