package flows

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"
)

// checkDay is "today" for the validator in these tests.
var checkDay = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// goodFS is testdata/good as an in-memory layer, minus the named files.
func goodFS(t *testing.T, drop ...string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if slices.Contains(drop, e.Name()) {
			continue
		}
		data, err := os.ReadFile(path.Join("testdata/good", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = &fstest.MapFile{Data: data}
	}
	return m
}

func TestGoodContentIsValid(t *testing.T) {
	if issues := Check(checkDay, Named("good", goodFS(t))); len(issues) != 0 {
		t.Fatalf("testdata/good has issues:\n%s", Issues(issues).Error())
	}
}

// TestBadFixtures checks that every issue kind is caught, with its file,
// line, flow and step. Each fixture in testdata/bad is layered over
// testdata/good (optionally without some good files).
func TestBadFixtures(t *testing.T) {
	tests := []struct {
		fixture string   // file in testdata/bad ("" = none)
		drop    []string // good files left out
		want    []Issue  // Msg is checked to be non-empty only
	}{
		{fixture: "syntax.yaml", want: []Issue{{File: "bad/syntax.yaml", Line: 5, Kind: IssueSyntax}}},
		{fixture: "unknown-key.yaml", want: []Issue{{File: "bad/unknown-key.yaml", Line: 6, Flow: "unknown_key", Step: "a", Kind: IssueUnknownKey}}},
		{fixture: "missing-start.yaml", want: []Issue{{File: "bad/missing-start.yaml", Line: 2, Flow: "missing_start", Kind: IssueMissingStart}}},
		{fixture: "dangling.yaml", want: []Issue{{File: "bad/dangling.yaml", Line: 8, Flow: "dangling", Step: "a", Kind: IssueDangling}}},
		{fixture: "dangling-flow.yaml", want: []Issue{{File: "bad/dangling-flow.yaml", Line: 8, Flow: "dangling_flow", Step: "a", Kind: IssueDangling}}},
		{fixture: "unreachable.yaml", want: []Issue{{File: "bad/unreachable.yaml", Line: 7, Flow: "unreachable", Step: "orphan", Kind: IssueUnreachable}}},
		{fixture: "missing-vi.yaml", want: []Issue{{File: "bad/missing-vi.yaml", Line: 8, Flow: "missing_vi", Step: "b", Kind: IssueMissingVi}}},
		{fixture: "too-long.yaml", want: []Issue{{File: "bad/too-long.yaml", Line: 5, Flow: "too_long", Step: "a", Kind: IssueTooLong}}},
		{fixture: "callback-too-long.yaml", want: []Issue{{File: "bad/callback-too-long.yaml", Line: 3, Kind: IssueCallbackTooLong}}},
		{fixture: "duplicate-keyword.yaml", want: []Issue{{File: "bad/duplicate-keyword.yaml", Line: 3, Flow: "duplicate_keyword", Kind: IssueDuplicateKeyword}}},
		{fixture: "bad-step.yaml", want: []Issue{{File: "bad/bad-step.yaml", Line: 7, Flow: "bad_step", Step: "b", Kind: IssueBadStep}}},
		{fixture: "bad-step-branch-loop.yaml", want: []Issue{{File: "bad/bad-step-branch-loop.yaml", Line: 5, Flow: "branch_loop", Step: "a", Kind: IssueBadStep}}},
		{fixture: "missing-locale-key.yaml", drop: []string{"locale.yaml"}, want: []Issue{{File: "bad/missing-locale-key.yaml", Line: 2, Kind: IssueMissingLocaleKey}}},
		{fixture: "bad-pattern.yaml", want: []Issue{{File: "bad/bad-pattern.yaml", Line: 8, Flow: "bad_pattern", Step: "a", Kind: IssueBadPattern}}},
		{fixture: "bad-url.yaml", want: []Issue{{File: "bad/bad-url.yaml", Line: 8, Flow: "bad_url", Step: "a", Kind: IssueBadURL}}},
		{fixture: "future-verified.yaml", want: []Issue{{File: "bad/future-verified.yaml", Line: 3, Flow: "future_verified", Kind: IssueFutureDate}}},
		{drop: []string{"volunteer.yaml"}, want: []Issue{{Flow: "volunteer", Kind: IssueDangling}}},
	}
	covered := map[IssueKind]bool{}
	for _, tc := range tests {
		name := tc.fixture
		if name == "" {
			name = "without " + strings.Join(tc.drop, ",")
		}
		t.Run(name, func(t *testing.T) {
			bad := fstest.MapFS{}
			if tc.fixture != "" {
				data, err := os.ReadFile(path.Join("testdata/bad", tc.fixture))
				if err != nil {
					t.Fatal(err)
				}
				bad[tc.fixture] = &fstest.MapFile{Data: data}
			}
			got := Issues(Check(checkDay, Named("good", goodFS(t, tc.drop...)), Named("bad", bad))).Errors()
			stripped := make([]Issue, len(got))
			for i, is := range got {
				if is.Msg == "" {
					t.Errorf("issue without message: %+v", is)
				}
				is.Msg = ""
				stripped[i] = is
			}
			if !slices.Equal(stripped, tc.want) {
				t.Fatalf("issues\n got %+v\nwant %+v\n%s", stripped, tc.want, Issues(got).Error())
			}
			for _, is := range got {
				covered[is.Kind] = true
			}
		})
	}
	for _, k := range []IssueKind{IssueSyntax, IssueUnknownKey, IssueMissingStart, IssueDangling, IssueUnreachable,
		IssueMissingVi, IssueTooLong, IssueCallbackTooLong, IssueDuplicateKeyword, IssueBadStep,
		IssueMissingLocaleKey, IssueBadPattern, IssueBadURL, IssueFutureDate} {
		if !covered[k] {
			t.Errorf("no fixture produces %s", k)
		}
	}
}

// TestCheckMessages covers more validation rules with inline files.
func TestCheckMessages(t *testing.T) {
	tests := []struct {
		name string
		file string
		kind IssueKind
		line int
		msg  string // substring
	}{
		{"unknown top-level key", "id: x\nstrat: a\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueUnknownKey, 2, `unknown key "strat"`},
		{"unknown key in a button", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: go}\n        goto: b\n        colour: red\n  - id: b\n    end: {vi: ok}\n", IssueUnknownKey, 9, "allowed here: label, goto, flow, url"},
		{"unknown locale key", "texts:\n  menu: {vi: a}\nextra: 1\n", IssueUnknownKey, 3, `unknown key "extra"`},
		{"wrong type", "id: x\nmenu: first\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueSyntax, 2, "cannot unmarshal"},
		{"empty file", "# nothing\n", IssueSyntax, 0, "empty file"},
		{"two documents", "id: x\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n---\nid: y\n", IssueSyntax, 6, "one YAML document"},
		{"not a mapping", "- a\n- b\n", IssueSyntax, 1, "expected a mapping"},
		{"no id", "start: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueSyntax, 1, "needs an `id:`"},
		{"bad flow id", "id: Bad-Id\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueSyntax, 1, "a-z, 0-9"},
		{"no start", "id: x\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueMissingStart, 1, "no start"},
		{"step without kind", "id: x\nstart: a\nsteps:\n  - id: a\n    next: b\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 4, "found: none"},
		{"message dead end", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n", IssueBadStep, 4, "buttons or next"},
		{"choice without choices", "id: x\nstart: a\nsteps:\n  - id: a\n    ask: {text: {vi: q}, type: choice}\n    next: b\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 5, "needs choices"},
		{"unknown ask type", "id: x\nstart: a\nsteps:\n  - id: a\n    ask: {text: {vi: q}, type: date}\n    next: b\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 5, "must be one of"},
		{"question without next", "id: x\nstart: a\nsteps:\n  - id: a\n    ask: {text: {vi: q}, type: text}\n", IssueBadStep, 5, "needs next"},
		{"dangling on_fail", "id: x\nstart: a\nsteps:\n  - id: a\n    ask: {text: {vi: q}, type: text, on_fail: zz}\n    next: b\n  - id: b\n    end: {vi: ok}\n", IssueDangling, 5, `"zz"`},
		{"dangling next", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    next: zz\n", IssueDangling, 6, `"zz"`},
		{"dangling flow", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: go}\n        flow: nowhere\n", IssueDangling, 8, `flow "nowhere"`},
		{"branch without else", "id: x\nstart: a\nsteps:\n  - id: a\n    branch:\n      - if: {var: v, eq: x}\n        goto: b\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 6, "end with else"},
		{"dangling branch", "id: x\nstart: a\nsteps:\n  - id: a\n    branch:\n      - else: zz\n", IssueDangling, 6, `"zz"`},
		{"button with two targets", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: go}\n        goto: b\n        url: https://a.vn\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 7, "exactly one of goto"},
		{"remind and goto", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: go}\n        goto: a\n        remind: a\n", IssueBadStep, 7, "needs exactly one of goto, flow, url, action, remind"},
		{"dangling remind", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: later}\n        remind: zz\n", IssueDangling, 8, `"zz" names no step of flow x`},
		{"remind across flows", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: later}\n        remind: install_vneid#phone\n", IssueDangling, 8, `"install_vneid#phone" names no step of flow x`},
		{"remind in the volunteer flow", "id: volunteer\nstart: a\nsteps:\n  - id: a\n    handoff: {reason: r, say: {vi: x}}\n  - id: b\n    say: {vi: hi}\n    buttons:\n      - label: {vi: later}\n        remind: b\n", IssueBadStep, 10, "volunteer flow cannot be resumed"},
		{"duplicate step id", "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    next: a\n  - id: a\n    end: {vi: ok}\n", IssueBadStep, 7, "used twice"},
		{"reserved keyword", "id: x\nkeywords: {vi: [\"Menu chính\"]}\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueDuplicateKeyword, 2, "reserved"},
		{"bad source", "id: x\nsources: [\"dean06.hanam.gov.vn\"]\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueBadURL, 2, "not an http(s) address"},
		{"bad verified date", "id: x\nverified: 15/01/2026\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueSyntax, 2, "date like"},
		{"volunteer must start with handoff", "id: volunteer\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n", IssueBadStep, 4, "handoff"},
		{"pattern on a number", "id: x\nstart: a\nsteps:\n  - id: a\n    ask: {text: {vi: q}, type: number, pattern: '\\d+'}\n    next: b\n  - id: b\n    end: {vi: ok}\n", IssueBadStep, 5, "only for type: text"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(checkDay, Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(tc.file)}}))
			for _, is := range got {
				if is.Kind == tc.kind && is.Line == tc.line && strings.Contains(is.Msg, tc.msg) {
					if tc.line > 0 && is.File != "x/f.yaml" {
						t.Errorf("file = %q", is.File)
					}
					return
				}
			}
			t.Fatalf("want %s at line %d containing %q, got:\n%s", tc.kind, tc.line, tc.msg, Issues(got).Error())
		})
	}
}

// TestCheckRemindTargetIsReached: the step a reminder resumes at is
// reached (by the reminder's button) even when nothing else leads there.
func TestCheckRemindTargetIsReached(t *testing.T) {
	file := "id: x\nstart: a\nsteps:\n  - id: a\n    say: {vi: hi}\n    buttons:\n      - label: {vi: later}\n        remind: later\n  - id: later\n    end: {vi: back}\n"
	if got := Issues(Check(checkDay, Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(file)}}))).Errors(); len(got) != 0 {
		t.Fatalf("issues:\n%s", Issues(got).Error())
	}
	// Every reminder text is required.
	for _, k := range []string{"remind_when", "remind_tomorrow", "remind_3days", "remind_date", "remind_date_ask", "remind_date_invalid",
		"remind_set", "remind_cancel_button", "remind_cancelled", "remind_gone", "remind_message", "remind_open_button"} {
		if !slices.Contains(RequiredTexts(), k) {
			t.Errorf("%s is not required", k)
		}
	}
}

// TestCheckMessagesValidText: yaml.v3 quotes a long wrong-typed value cut
// at a byte count; at every offset the issue is still valid text, because a
// split Vietnamese letter is mended rather than passed on to an organizer's
// terminal or the admin page.
func TestCheckMessagesValidText(t *testing.T) {
	for pad := range 4 {
		file := "id: x\nkeywords: {vi: " + strings.Repeat("0", pad) + strings.Repeat("ổ", 40) + "}\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"
		got := Check(checkDay, Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(file)}}))
		found := false
		for _, is := range got {
			if !utf8.ValidString(is.String()) {
				t.Errorf("pad %d: issue is not valid UTF-8: %q", pad, is.String())
			}
			found = found || (is.Line == 2 && strings.Contains(is.Msg, "cannot unmarshal"))
		}
		if !found {
			t.Fatalf("pad %d: no type error at line 2:\n%s", pad, Issues(got).Error())
		}
	}
}

// TestCheckVerifiedDate: Check refuses a verified date after the today it is
// given (a date in today's own location), and never reads the clock itself.
func TestCheckVerifiedDate(t *testing.T) {
	ict := time.FixedZone("ICT", 7*60*60)
	tests := []struct {
		name     string
		verified string
		today    time.Time
		future   bool
	}{
		{"yesterday", "2026-11-30", checkDay, false},
		{"today", "2026-12-01", checkDay, false},
		{"long ago", "2024-02-29", checkDay, false},
		{"tomorrow", "2026-12-02", checkDay, true},
		{"next year", "2027-01-15", checkDay, true},
		{"06:30 on the 2nd in Vietnam (still the 1st in UTC)", "2026-12-02", time.Date(2026, 12, 2, 6, 30, 0, 0, ict), false},
		{"23:30 on the 1st in UTC (already the 2nd in Vietnam)", "2026-12-02", time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), true},
		{"first instant of the day", "2026-12-01", time.Date(2026, 12, 1, 0, 0, 0, 0, ict), false},
		{"no today: not checked", "2999-01-01", time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "id: x\nsources: [https://dean06.hanam.gov.vn]\nverified: " + tc.verified + "\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"
			layers := []fs.FS{Named("good", goodFS(t)), Named("x", fstest.MapFS{"f.yaml": {Data: []byte(file)}})}
			got := Issues(Check(tc.today, layers...)).Errors()
			var future []Issue
			for _, is := range got {
				if is.Kind == IssueFutureDate {
					future = append(future, is)
				} else {
					t.Errorf("unexpected issue %s", is)
				}
			}
			switch {
			case !tc.future && len(future) > 0:
				t.Fatalf("verified %s refused on %s: %v", tc.verified, tc.today, future)
			case tc.future && (len(future) != 1 || future[0].File != "x/f.yaml" || future[0].Line != 3 || future[0].Flow != "x" ||
				!strings.Contains(future[0].Msg, tc.verified)):
				t.Fatalf("verified %s on %s: want one future-date issue at x/f.yaml:3, got %v", tc.verified, tc.today, got)
			}
			// Load reads no clock: the same content always loads.
			if _, err := Load(layers...); err != nil {
				t.Fatalf("Load refused verified %s: %v", tc.verified, err)
			}
		})
	}
}

func TestLayering(t *testing.T) {
	base := Named("good", goodFS(t))
	over := Named("local", fstest.MapFS{
		"install.yaml": {Data: []byte(`id: install_vneid
title: {vi: "Cài VNeID (phường 5)"}
menu: 3
keywords: {vi: ["cài vneid"]}
start: only
steps:
  - id: only
    end: {vi: "Ra phường 5 nhé"}
`)},
		"extra.yaml":  {Data: []byte("id: extra\nstart: a\nsteps:\n  - id: a\n    end: {vi: thêm}\n")},
		"locale.yaml": {Data: []byte("texts:\n  menu: {vi: \"Menu phường 5\"}\n")},
		"notes.txt":   {Data: []byte("not yaml, ignored")},
	})
	s, err := Load(base, over)
	if err != nil {
		t.Fatal(err)
	}
	f, ok := s.Flow("install_vneid")
	if !ok || f.Title["vi"] != "Cài VNeID (phường 5)" || len(f.Steps) != 1 || f.Title["en"] != "" {
		t.Fatalf("install_vneid not replaced as a whole: %+v", f)
	}
	if _, ok := s.Flow("extra"); !ok {
		t.Fatal("extra flow not added")
	}
	if got := s.Text("vi", "menu", nil); got != "Menu phường 5" {
		t.Fatalf("menu text = %q", got)
	}
	if got := s.Text("vi", "nav_back", nil); got != "Quay lại" {
		t.Fatalf("other locale keys must stay: nav_back = %q", got)
	}
	if got := s.Text("en", "menu", nil); got != "Menu phường 5" {
		t.Fatalf("an overridden key replaces all its languages: %q", got)
	}
	if got := labels(s.Menu("vi")[0]); !slices.Equal(got, []string{"Tôi gặp lỗi", "Cài VNeID (phường 5)", "Ngôn ngữ", "Gặp tình nguyện viên"}) {
		t.Fatalf("menu order = %q", got)
	}
	var ids []string
	for _, f := range s.Flows() {
		ids = append(ids, f.ID)
	}
	if !slices.Equal(ids, []string{"extra", "install_vneid", "profile", "troubleshoot", "volunteer"}) {
		t.Fatalf("flows = %q", ids)
	}
	plain, _ := Load(base)
	if plain.Version() == s.Version() {
		t.Fatal("version must change with content")
	}
	// The flow referenced by troubleshoot's cross-flow button is now gone:
	// the override made install_vneid#android_2's button disappear, which is fine,
	// but a removed target would be caught.
	r := s.Advance(State{}, Input{Kind: InputText, Text: "cài vneid"}, t0)
	if got := texts(r); !slices.Equal(got, []string{"Ra phường 5 nhé", "Menu phường 5"}) {
		t.Fatalf("overridden flow: %q", got)
	}
}

func TestDuplicateIDInOneLayer(t *testing.T) {
	layer := goodFS(t)
	layer["copy.yaml"] = layer["install.yaml"]
	got := Check(checkDay, Named("good", layer))
	if len(got) != 1 || got[0].Kind != IssueSyntax || got[0].File != "good/install.yaml" || !strings.Contains(got[0].Msg, "good/copy.yaml") {
		t.Fatalf("issues = %v", got)
	}
}

func TestLoadError(t *testing.T) {
	_, err := Load(Named("good", goodFS(t, "volunteer.yaml")))
	var issues Issues
	if !errors.As(err, &issues) || len(issues) != 1 || issues[0].Kind != IssueDangling {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "volunteer") {
		t.Fatalf("error text: %v", err)
	}
	if _, err := Load(Named("broken", brokenFS{})); err == nil || !strings.Contains(err.Error(), "cannot read layer") {
		t.Fatalf("unreadable layer: %v", err)
	}
}

type brokenFS struct{}

func (brokenFS) Open(string) (fs.File, error) { return nil, fs.ErrPermission }

func TestIssueString(t *testing.T) {
	tests := []struct {
		is   Issue
		want string
	}{
		{Issue{File: "bundled/a.yaml", Line: 3, Flow: "a", Step: "s", Msg: "m"}, "bundled/a.yaml:3: a/s: m"},
		{Issue{File: "a.yaml", Flow: "a", Msg: "m"}, "a.yaml: a: m"},
		{Issue{Flow: "volunteer", Msg: "m"}, "volunteer: m"},
		{Issue{File: "locale.yaml", Line: 2, Msg: "m"}, "locale.yaml:2: m"},
	}
	for _, tc := range tests {
		if got := tc.is.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestNamed(t *testing.T) {
	m := fstest.MapFS{}
	if LayerName(m) != "" || LayerName(Named("x", m)) != "x" {
		t.Fatal("LayerName")
	}
	got := Check(checkDay, fstest.MapFS{"a.yaml": {Data: []byte("id: [")}})
	if !slices.ContainsFunc(got, func(is Issue) bool { return is.File == "a.yaml" && is.Line == 1 && is.Kind == IssueSyntax }) {
		t.Fatalf("unnamed layer paths: %v", got)
	}
}

func TestButtonDataIsStable(t *testing.T) {
	a, b := mustLoadGood(t), mustLoadGood(t)
	// The same button keeps its data when unrelated content changes.
	layer := goodFS(t)
	layer["extra.yaml"] = &fstest.MapFile{Data: []byte("id: extra\nstart: a\nsteps:\n  - id: a\n    end: {vi: thêm}\n")}
	c, err := Load(Named("good", layer))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Set{b, c} {
		if len(s.refs) < len(a.refs) {
			t.Fatalf("refs shrank")
		}
		for d, r := range a.refs {
			if s.refs[d] != r {
				t.Fatalf("data %q changed meaning", d)
			}
			if len(d) > MaxCallbackData || !(strings.HasPrefix(d, "s:") || strings.HasPrefix(d, "m:")) {
				t.Fatalf("bad data %q", d)
			}
		}
	}
}

// TestBundledFlowsValid checks the content shipped in the binary.
func TestBundledFlowsValid(t *testing.T) {
	issues := Issues(Check(time.Now(), Named("bundled", Bundled())))
	if errs := issues.Errors(); len(errs) > 0 {
		t.Fatalf("bundled flows:\n%s", errs.Error())
	}
	for _, w := range issues.Warnings() {
		t.Log(w) // an old verified date or a long message: worth fixing, not failing
	}
	s, err := Load(Bundled())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Flows() {
		if len(f.Sources) == 0 || f.Verified == "" {
			t.Errorf("bundled flow %s needs sources and verified", f.ID)
		}
	}
	// Every menu entry leads somewhere in both languages.
	for _, lang := range []string{"vi", "en"} {
		menu := s.Menu(lang)[0]
		for _, row := range menu.Buttons {
			r := s.Advance(State{Lang: lang}, Input{Kind: InputButton, Data: row[0].Data}, t0)
			if len(r.Out) == 0 || r.Stale {
				t.Errorf("%s menu button %q: %s", lang, row[0].Text, dump(r))
			}
			for _, o := range r.Out {
				if o.Text == "" {
					t.Errorf("%s menu button %q: empty message", lang, row[0].Text)
				}
			}
		}
	}
}
