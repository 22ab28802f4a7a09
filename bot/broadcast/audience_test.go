package broadcast

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gocua/gocua/bot"
)

func TestParseTerms(t *testing.T) {
	tests := []struct {
		src  string
		want Node
	}{
		{"all", All{}},
		{"ALL", All{}},
		{"area:19771", Areas{Codes: []string{"19771"}}},
		{"area:19771,19774", Areas{Codes: []string{"19771", "19774"}}},
		{"area:none", Areas{Codes: []string{"none"}}},
		{"AREA:P-Ben_Thanh,none", Areas{Codes: []string{"P-Ben_Thanh", "none"}}}, // codes kept as written
		{"area:a,A", Areas{Codes: []string{"a", "A"}}},                           // case-sensitive
		{"area:1,2,1,2,3", Areas{Codes: []string{"1", "2", "3"}}},                // duplicates dropped
		{"lang:vi", Langs{Langs: []string{"vi"}}},
		{"Lang:VI,en,vi", Langs{Langs: []string{"vi", "en"}}},
		{"channel:telegram", Channels{Channels: []bot.Channel{bot.ChannelTelegram}}},
		{"channel:web,zalo-bot,ZALO-OA", Channels{Channels: []bot.Channel{bot.ChannelWeb, bot.ChannelZaloBot, bot.ChannelZaloOA}}},
		{"started:install", Started{Flow: "install"}},
		{"started:Install_2", Started{Flow: "install_2"}},
		{"completed:install", Completed{Flow: "install"}},
		{"stuck:install>3d", Stuck{Flow: "install", Days: 3}},
		{"stuck:install#OTP>10D", Stuck{Flow: "install", Step: "otp", Days: 10}},
		{"stuck:install>007d", Stuck{Flow: "install", Days: 7}},
		{"resolved<7d", Resolved{Days: 7}},
		{"seen<1d", Seen{Within: true, Days: 1}},
		{"seen>3650d", Seen{Days: 3650}},
		{"  \tseen>30d\n", Seen{Days: 30}},
	}
	for _, tc := range tests {
		a, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(a.Root, tc.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.src, a.Root, tc.want)
		}
		if a.IsZero() || a.Source() != tc.src {
			t.Errorf("Parse(%q): IsZero %v, Source %q", tc.src, a.IsZero(), a.Source())
		}
	}
}

func TestParseStructure(t *testing.T) {
	var (
		a = Areas{Codes: []string{"1"}}
		b = Langs{Langs: []string{"vi"}}
		c = Channels{Channels: []bot.Channel{bot.ChannelWeb}}
		d = Started{Flow: "d"}
	)
	tests := []struct {
		src  string
		want Node
	}{
		// precedence: and binds tighter than or
		{"area:1 or lang:vi and channel:web", Or{[]Node{a, And{[]Node{b, c}}}}},
		{"area:1 and lang:vi or channel:web", Or{[]Node{And{[]Node{a, b}}, c}}},
		{"(area:1 or lang:vi) and channel:web", And{[]Node{Or{[]Node{a, b}}, c}}},
		// not binds tighter than and
		{"not area:1 and lang:vi", And{[]Node{Not{a}, b}}},
		{"not (area:1 and lang:vi)", Not{And{[]Node{a, b}}}},
		{"not not area:1", Not{Not{a}}},
		{"not(area:1)", Not{a}},
		// flattening, written or through parentheses
		{"area:1 and lang:vi and channel:web and started:d", And{[]Node{a, b, c, d}}},
		{"area:1 and (lang:vi and (channel:web and started:d))", And{[]Node{a, b, c, d}}},
		{"(area:1 or lang:vi) or (channel:web or started:d)", Or{[]Node{a, b, c, d}}},
		{"((((area:1))))", a},
		{"(area:1)and(lang:vi)", And{[]Node{a, b}}},
		// keywords in any case
		{"area:1 AND lang:vi Or NOT channel:web", Or{[]Node{And{[]Node{a, b}}, Not{c}}}},
	}
	for _, tc := range tests {
		got, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got.Root, tc.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.src, got.Root, tc.want)
		}
	}
}

func TestParseSynonyms(t *testing.T) {
	a, b := Areas{Codes: []string{"1"}}, Langs{Langs: []string{"vi"}}
	and, or, not := And{[]Node{a, b}}, Or{[]Node{a, b}}, And{[]Node{a, Not{b}}}
	tests := []struct {
		src  string
		want Node
	}{
		{"area:1 và lang:vi", and},
		{"area:1 VÀ lang:vi", and},
		{"area:1 va\u0300 lang:vi", and}, // decomposed à
		{"area:1 va lang:vi", and},
		{"area:1 Va lang:vi", and},
		{"area:1 hoặc lang:vi", or},
		{"area:1 HOẶC lang:vi", or},
		{"area:1 hoa\u0323\u0306c lang:vi", or}, // decomposed ặ
		{"area:1 ho\u1ea1\u0306c lang:vi", or},  // ạ + breve
		{"area:1 hoac lang:vi", or},
		{"area:1 và không lang:vi", not},
		{"area:1 và Không lang:vi", not},
		{"area:1 và kho\u0302ng lang:vi", not}, // decomposed ô
		{"area:1 va khong lang:vi", not},
	}
	for _, tc := range tests {
		got, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		if !reflect.DeepEqual(got.Root, tc.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.src, got.Root, tc.want)
		}
	}
	// only these: no other Vietnamese spellings, no "tất cả"
	for _, src := range []string{"area:1 vá lang:vi", "tất cả", "tatca", "area:1 hoăc lang:vi"} {
		if _, err := Parse(src); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct{ src, want string }{
		{"ALL", "all"},
		{"  area:19771,19774,19771   AND   Lang:VI ", "area:19771,19774 and lang:vi"},
		{"area:1 va lang:vi hoặc không channel:web", "area:1 and lang:vi or not channel:web"},
		{"((area:1 or area:2)) and seen<30d", "(area:1 or area:2) and seen<30d"},
		{"(area:1 and area:2) or (seen<30d)", "area:1 and area:2 or seen<30d"},
		{"not (area:1 or area:2)", "not (area:1 or area:2)"},
		{"not (not area:1)", "not not area:1"},
		{"not (area:1)", "not area:1"},
		{"(area:1 or lang:en)and(channel:zalo-oa or seen>90d)", "(area:1 or lang:en) and (channel:zalo-oa or seen>90d)"},
		{"STUCK:Install#OTP>003D or COMPLETED:Renew", "stuck:install#otp>3d or completed:renew"},
		{"resolved<7d and not (started:install and not completed:install)", "resolved<7d and not (started:install and not completed:install)"},
		{"area:1 and (area:2 and (area:3 or area:4))", "area:1 and area:2 and (area:3 or area:4)"},
	}
	for _, tc := range tests {
		a, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		got := a.String()
		if got != tc.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.src, got, tc.want)
		}
		b, err := Parse(got)
		if err != nil {
			t.Errorf("Parse(%q): %v", got, err)
			continue
		}
		if !reflect.DeepEqual(a.Root, b.Root) || b.String() != got {
			t.Errorf("%q does not round-trip: %#v, then %#v", tc.src, a.Root, b.Root)
		}
	}
	if s := (Audience{}).String(); s != "" {
		t.Errorf("zero Audience: String() = %q", s)
	}
	// a hand-built tree keeps its lists' first occurrences and its structure
	hand := Audience{Root: Not{Or{[]Node{Channels{[]bot.Channel{"web", "web", "telegram"}}, All{}}}}}
	if got, want := hand.String(), "not (channel:web,telegram or all)"; got != want {
		t.Errorf("hand-built: String() = %q, want %q", got, want)
	}
}

func TestIsZero(t *testing.T) {
	if !(Audience{}).IsZero() {
		t.Error("zero Audience is not IsZero")
	}
	a, err := Parse("all")
	if err != nil || a.IsZero() {
		t.Errorf("Parse(all) = %v, %v", a, err)
	}
	if a, err := Parse("lol"); err == nil || !a.IsZero() {
		t.Errorf("Parse(lol) = %v, %v", a, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src string
		col int
		msg string
	}{
		{"", 0, "empty; write all for every subscriber"},
		{" \t\n ", 0, "empty; write all for every subscriber"},
		{"all or aera:19771", 8, `unknown term "aera:" (terms: all, area:, lang:, channel:, started:, completed:, stuck:, resolved<, seen<, seen>)`},
		{"everyone", 1, `unknown term "everyone" (` + termList + ")"},
		{"seen=3d", 1, `unknown term "seen=3d" (` + termList + ")"},
		{"resolved>3d", 1, `unknown term "resolved>" (` + termList + ")"},
		// the column counts runes: "và" is 2 runes, 3 bytes
		{"lang:vi và aera:1", 12, `unknown term "aera:" (` + termList + ")"},
		{"lang:vi và không (area:1 hoặc channel:sms)", 39, `unknown channel "sms" (channels: telegram, web, zalo-bot, zalo-oa)`},
		{"area:", 1, `missing list after "area:" (e.g. area:19771,19774, no spaces inside a term)`},
		{"all and area: 19771", 9, `missing list after "area:" (e.g. area:19771,19774, no spaces inside a term)`},
		{"lang:", 1, `missing list after "lang:" (e.g. lang:vi,en, no spaces inside a term)`},
		{"area:1,,2", 8, `empty item in the list after "area:"`},
		{"area:1,", 8, `empty item in the list after "area:"`},
		{"area:1,phường", 8, `bad area code "phường" (letters, digits, _ and - only)`},
		{"lang:vi,fr", 9, `unknown language "fr" (languages: vi, en)`},
		{"channel:Zalo", 9, `unknown channel "Zalo" (channels: telegram, web, zalo-bot, zalo-oa)`},
		{"all)", 4, `")" without a matching "("`},
		{") all", 1, `")" without a matching "("`},
		{"(all or (seen<3d)", 1, `"(" is never closed`},
		{"all and (", 9, `"(" is never closed`},
		{"all and ()", 9, "empty parentheses"},
		{"all and", 5, `"and" at the end needs a term after it`},
		{"all va", 5, `"va" at the end needs a term after it`},
		{"all or not", 8, `"not" at the end needs a term after it`},
		{"all and )", 9, `expected a term after "and", found ")"`},
		{"all and or all", 9, `expected a term after "and", found "or"`},
		{"and all", 1, `expected a term, found "and"`},
		{"(or all)", 2, `expected a term, found "or"`},
		{"area:1 lang:vi", 8, "expected and/or between terms"},
		{"area:1 (lang:vi)", 8, "expected and/or between terms"},
		{"area:1 not lang:vi", 8, "expected and/or between terms"},
		{"(area:1 lang:vi)", 9, "expected and/or between terms"},
		{"seen<0d", 6, "days must be a whole number from 1 to 3650, not 0"},
		{"seen>3651d", 6, "days must be a whole number from 1 to 3650, not 3651"},
		{"resolved<99999999999999999999999d", 10, "days must be a whole number from 1 to 3650, not 99999999999999999999999"},
		{"seen<", 6, `missing number of days after "seen<" (e.g. seen<3d)`},
		{"seen<-3d", 6, `expected a number of days after "seen<", found "-3d"`},
		{"seen<30", 8, `missing "d" after 30 (write 30d for 30 days)`},
		{"stuck:install>3", 16, `missing "d" after 3 (write 3d for 3 days)`},
		{"seen<3w", 7, `expected "d" (days) after 3, found "w"`},
		{"seen<3days", 8, `unexpected "ays" after 3d`},
		{"stuck:install", 14, `missing ">" and days after "stuck:install" (e.g. stuck:install>3d)`},
		{"stuck:install#otp", 18, `missing ">" and days after "stuck:install#otp" (e.g. stuck:install#otp>3d)`},
		{"stuck:install>", 15, `missing number of days after "stuck:install>" (e.g. stuck:install>3d)`},
		{"stuck:>3d", 1, `missing flow after "stuck:" (e.g. stuck:install>3d)`},
		{"stuck:install#>3d", 14, `missing step after "#" (e.g. stuck:install#otp>3d)`},
		{"stuck:install#o-t-p>3d", 15, `bad step id "o-t-p" (letters, digits and _ only)`},
		{"stuck:install<3d", 7, `bad flow id "install<3d" (letters, digits and _ only)`},
		{"started:", 1, `missing flow after "started:" (e.g. started:install)`},
		{"started:cài_đặt", 9, `bad flow id "cài_đặt" (letters, digits and _ only)`},
		{"completed:in-stall", 11, `bad flow id "in-stall" (letters, digits and _ only)`},
		{"started:a,b", 9, "started: takes one flow, not a list (write started:a or started:b)"},
		{"all and \xffx", 9, "invalid UTF-8 (byte 0xff)"},
		{"và \xc3", 4, "invalid UTF-8 (byte 0xc3)"},
		{"area:1," + strings.Repeat("é", 60), 8, `bad area code "` + strings.Repeat("é", 40) + `…" (letters, digits, _ and - only)`},
	}
	for _, tc := range tests {
		a, err := Parse(tc.src)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, %v; want an *Error", tc.src, a, err)
			continue
		}
		if e.Col != tc.col || e.Msg != tc.msg {
			t.Errorf("Parse(%q):\n got column %d: %s\nwant column %d: %s", tc.src, e.Col, e.Msg, tc.col, tc.msg)
		}
		if !a.IsZero() {
			t.Errorf("Parse(%q) failed but returned %v", tc.src, a)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("all or aera:19771")
	want := `audience: column 8: unknown term "aera:" (terms: all, area:, lang:, channel:, started:, completed:, stuck:, resolved<, seen<, seen>)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = Parse("")
	if want := "audience: empty; write all for every subscriber"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestLimits(t *testing.T) {
	join := func(n int, term, op string) string {
		return strings.TrimSuffix(strings.Repeat(term+op, n), op)
	}
	items := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = "a"
		}
		return "area:" + strings.Join(s, ",")
	}
	tests := []struct {
		src string
		col int
		msg string // "" for no error
	}{
		{strings.Repeat(" ", 990) + "all", 0, ""},
		{strings.Repeat(" ", 998) + "all", 0, "too long: 1001 bytes (at most 1000)"},
		{"area:" + strings.Repeat("a", 995), 0, ""},
		{"area:" + strings.Repeat("a", 996), 0, "too long: 1001 bytes (at most 1000)"},
		// within 1000 bytes as typed, but not once spaced out
		{"(area:" + strings.Repeat("a", 965) + " or all)and(all or seen<1d)", 0, ""},
		{"(area:" + strings.Repeat("a", 966) + " or all)and(all or seen<1d)", 0, "too long: 1001 bytes once written out in full (at most 1000)"},
		{strings.Repeat("(", 32) + "all" + strings.Repeat(")", 32), 0, ""},
		{strings.Repeat("(", 33) + "all" + strings.Repeat(")", 33), 33, "nested too deeply (at most 32 levels of parentheses and not)"},
		{strings.Repeat("not ", 32) + "all", 0, ""},
		{strings.Repeat("not ", 33) + "all", 129, "nested too deeply (at most 32 levels of parentheses and not)"},
		{strings.Repeat("not (", 16) + "all" + strings.Repeat(")", 16), 0, ""},
		{strings.Repeat("not (", 16) + "not all" + strings.Repeat(")", 16), 81, "nested too deeply (at most 32 levels of parentheses and not)"},
		{strings.Repeat("((((((((((((((((((((((((((((((((((((((((", 10), 33, "nested too deeply (at most 32 levels of parentheses and not)"},
		{join(64, "all", " or "), 0, ""},
		{join(65, "all", " or "), 64*7 + 1, "too many terms (at most 64)"},
		{join(65, "all", " and "), 64*8 + 1, "too many terms (at most 64)"},
		{items(50), 0, ""},
		{items(51), 6 + 50*2, `too many items after "area:" (at most 50)`},
		{"lang:" + join(50, "vi", ","), 0, ""},
		{"lang:" + join(51, "vi", ","), 6 + 50*3, `too many items after "lang:" (at most 50)`},
	}
	for _, tc := range tests {
		a, err := Parse(tc.src)
		if tc.msg == "" {
			if err != nil {
				t.Errorf("Parse(%.40q…): %v", tc.src, err)
			} else if _, err := Parse(a.String()); err != nil {
				t.Errorf("Parse(%.40q…).String() does not parse: %v", tc.src, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%.40q…) = %v, %v; want an *Error", tc.src, a, err)
			continue
		}
		if e.Col != tc.col || e.Msg != tc.msg {
			t.Errorf("Parse(%.40q…):\n got column %d: %s\nwant column %d: %s", tc.src, e.Col, e.Msg, tc.col, tc.msg)
		}
	}
}

// fakeKnown is a deployment with two flows, three areas and Vietnamese only.
var fakeKnown = Known{
	Flows: func(id string) ([]string, bool) {
		switch id {
		case "install":
			return []string{"start", "otp", "done"}, true
		case "renew":
			return []string{"start"}, true
		}
		return nil, false
	},
	FlowIDs: []string{"install", "renew"},
	Areas:   func(code string) bool { return slices.Contains([]string{"19771", "19774", "P1"}, code) },
	Langs:   []string{"vi"},
}

func TestValidate(t *testing.T) {
	type problem struct {
		col int
		msg string
	}
	tests := []struct {
		src  string
		k    Known
		want []problem
	}{
		{"all", fakeKnown, nil},
		{"area:19771,P1,none and lang:vi and started:install or completed:renew or stuck:install#otp>3d or stuck:renew>1d", fakeKnown, nil},
		{"started:instal", fakeKnown, []problem{{1, `unknown flow "instal" (did you mean "install"?)`}}},
		{"all and completed:renwe", fakeKnown, []problem{{9, `unknown flow "renwe" (did you mean "renew"?)`}}},
		{"stuck:xyzzy>3d", fakeKnown, []problem{{1, `unknown flow "xyzzy"`}}},
		{"stuck:install#foo>3d", fakeKnown, []problem{{1, `flow "install" has no step "foo"`}}},
		{"stuck:install#opt>3d", fakeKnown, []problem{{1, `flow "install" has no step "opt" (did you mean "otp"?)`}}},
		{"area:123", fakeKnown, []problem{{1, `unknown area "123"`}}},
		{"area:p1", fakeKnown, []problem{{1, `unknown area "p1"`}}}, // case-sensitive
		{"lang:en", fakeKnown, []problem{{1, `no residents speak "en" here (languages: vi)`}}},
		{"lang:en", Known{Langs: []string{}}, []problem{{1, `no residents speak "en" here (languages: none)`}}},
		// every problem, in the order written, each with its term's column
		{"khong area:1,19771,2 và (started:instal hoặc stuck:install#x>3d) va lang:vi,en", fakeKnown, []problem{
			{7, `unknown area "1"`},
			{7, `unknown area "2"`},
			{26, `unknown flow "instal" (did you mean "install"?)`},
			{46, `flow "install" has no step "x"`},
			{69, `no residents speak "en" here (languages: vi)`},
		}},
		// nothing checked when Known says nothing
		{"area:1 and lang:en and started:nope and stuck:nope#x>1d", Known{}, nil},
	}
	for _, tc := range tests {
		a, err := Parse(tc.src)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.src, err)
			continue
		}
		errs := Validate(a, tc.k)
		var got []problem
		for _, err := range errs {
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("Validate(%q): %v is not an *Error", tc.src, err)
				continue
			}
			got = append(got, problem{e.Col, e.Msg})
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Validate(%q):\n got %v\nwant %v", tc.src, got, tc.want)
		}
	}
	// a tree built by hand is checked too, without columns
	errs := Validate(Audience{Root: And{[]Node{Started{"instal"}, Areas{[]string{"9"}}}}}, fakeKnown)
	if len(errs) != 2 || errs[0].Error() != `audience: unknown flow "instal" (did you mean "install"?)` || errs[1].Error() != `audience: unknown area "9"` {
		t.Errorf("Validate(hand-built) = %v", errs)
	}
	if errs := Validate(Audience{}, fakeKnown); errs != nil {
		t.Errorf("Validate(zero) = %v", errs)
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"install", "install", 0}, {"instal", "install", 1}, {"renwe", "renew", 2},
		{"", "abc", 3}, {"kitten", "sitting", 3}, {"cài", "cai", 1},
	}
	for _, tc := range tests {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
