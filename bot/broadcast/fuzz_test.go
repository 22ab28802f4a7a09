package broadcast

import (
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParseAudience checks that Parse never panics, fails only with an
// *Error whose column lies within the source, and that whatever parses
// round-trips through String: Parse(a.String()) succeeds with an equal Root
// and the same String.
func FuzzParseAudience(f *testing.F) {
	for _, s := range []string{
		"all",
		"area:19771,19774,19771 and lang:vi",
		"AREA:none Or not channel:zalo-oa,telegram",
		"(area:1 or lang:en)and(channel:web or seen>90d)",
		"stuck:install#otp>3d và không completed:install",
		"started:install hoặc resolved<7d va khong seen<30d",
		"not not (not (all))",
		"aera:19771",
		"area:",
		"all and",
		"(all or (seen<3d)",
		"area:1 lang:vi",
		"seen<0d or stuck:install>3",
		"lang:vi và \xffkhông",
		"channel:sms)",
		"((((((((((((((((((((((((((((((((((all))))))))))))))))))))))))))))))))))",
	} {
		f.Add(s)
	}
	k := Known{
		Flows: func(id string) ([]string, bool) {
			if id == "install" {
				return []string{"start", "otp"}, true
			}
			return nil, false
		},
		FlowIDs: []string{"install"},
		Areas:   func(code string) bool { return code == "19771" },
		Langs:   []string{"vi"},
	}
	f.Fuzz(func(t *testing.T, src string) {
		a, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q): %v is not an *Error", src, err)
			}
			if e.Col < 0 || e.Col > utf8.RuneCountInString(src)+1 || e.Msg == "" {
				t.Fatalf("Parse(%q): %v: column out of the source or no message", src, err)
			}
			if !a.IsZero() {
				t.Fatalf("Parse(%q) failed but returned %v", src, a)
			}
			return
		}
		if a.IsZero() {
			t.Fatalf("Parse(%q) returned a zero Audience", src)
		}
		s := a.String()
		b, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", src, s, err)
		}
		if !reflect.DeepEqual(a.Root, b.Root) {
			t.Fatalf("Parse(%q) = %#v\nbut its String %q parses to %#v", src, a.Root, s, b.Root)
		}
		if s2 := b.String(); s2 != s {
			t.Fatalf("String is not stable: %q, then %q", s, s2)
		}
		for _, err := range Validate(a, k) {
			var e *Error
			if !errors.As(err, &e) || e.Col < 1 || e.Col > utf8.RuneCountInString(src) {
				t.Fatalf("Validate(%q): %v: not an *Error at a term's column", src, err)
			}
		}
	})
}
