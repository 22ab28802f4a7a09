package flows

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"
)

// fuzzFlowSeeds are YAML files a fuzzer starts from: the test fixtures, the
// bundled flows and a few nasty documents.
func fuzzFlowSeeds(f *testing.F) [][]byte {
	const maxSeed = 2048
	f.Helper()
	var seeds [][]byte
	for _, dir := range []string{"testdata/good", "testdata/bad"} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(path.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	bundled, err := fs.ReadDir(Bundled(), ".")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range bundled {
		if e.IsDir() { // images/
			continue
		}
		data, err := fs.ReadFile(Bundled(), e.Name())
		if err != nil {
			f.Fatal(err)
		}
		// the head of each bundled file: its shapes without its bulk, since
		// every execution parses the whole input and a 40 KB seed would cut
		// the fuzzer's speed tenfold (the full files load in TestBundled)
		if len(data) > maxSeed {
			if cut := bytes.LastIndexByte(data[:maxSeed], '\n'); cut > 0 {
				data = data[:cut+1]
			}
		}
		seeds = append(seeds, data)
	}
	for _, s := range []string{
		"", "---", "--- \n---\n", "id: x\n---\nid: y\n", "[1, 2]", "null", "~", "id: ''", "id: Bad-ID", "id: [x]",
		"texts: {}", "texts: ~", "texts: {greeting: x}", "texts: {greeting: {vi: \"\\0\"}}",
		"id: a\nstart: s\nsteps: [{id: s, say: {vi: x}}]\n",
		"id: a\nstart: s\nsteps: [{id: s, say: {vi: x}, next: s}]\n",
		"id: a\nstart: s\nsteps: [{id: s, branch: [{if: {var: v, equals: x}, goto: s}], else: s}]\n",
		"id: a\nstart: s\nsteps: [{id: s, ask: {text: {vi: q}, type: text, save: v, pattern: '('}}]\n",
		"id: a\nstart: s\nsteps: [{id: s, say: {vi: x}, buttons: [{text: {vi: b}, url: 'javascript:alert(1)'}]}]\n",
		"id: a\nsteps: &s [{id: s, say: {vi: x}}]\nstart: *s\n",
		"a: &a [*a, *a]\n",
		"id: a\nkeywords: {vi: [&k x, *k, *k]}\n",
		"id: a\nstart: s\nsteps:\n\t- id: s\n",
		"id: a\nstart: s\nsteps: [{id: s, say: {vi: x}}, {id: s, say: {vi: y}}]\n",
		"id: a\nid: b\n",
		"id: a\nmenu: 99999999999999999999\n",
		"id: a\nstart: s\nsteps: [{id: s, handoff: {reason: x}}]\n",
		"id: volunteer\n", "id: \"\\xff\"\n", "\xff\xfe\x00",
		"id: a\nstart: s\nsteps: [{id: s, say: {vi: \"{name} {missing} {{\"}}]\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzLoad feeds one YAML file to the loader and validator: alone, as a layer
// over a valid set, or in place of one of that set's files. Whatever the file
// holds, nothing panics, Check and Load agree, the issues are the same every
// time and each says what is wrong, and a set that loads can be played.
func FuzzLoad(f *testing.F) {
	good := map[string][]byte{}
	entries, err := os.ReadDir("testdata/good")
	if err != nil {
		f.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		data, err := os.ReadFile(path.Join("testdata/good", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		good[e.Name()] = data
		names = append(names, e.Name())
	}
	for i, s := range fuzzFlowSeeds(f) {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data []byte) {
		var layers []fs.FS
		base := fstest.MapFS{}
		for name, d := range good {
			base[name] = &fstest.MapFile{Data: d}
		}
		switch mode % 3 {
		case 0: // alone
			layers = []fs.FS{Named("fuzz", fstest.MapFS{"fuzz.yaml": {Data: data}})}
		case 1: // over a valid set
			layers = []fs.FS{Named("good", base), Named("fuzz", fstest.MapFS{"fuzz.yaml": {Data: data}})}
		default: // in place of one of its files
			base[names[int(mode/3)%len(names)]] = &fstest.MapFile{Data: data}
			layers = []fs.FS{Named("good", base)}
		}
		// Load reads no clock: with today at the end of time no verified date
		// is in the future, and Check and Load must agree
		today := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
		// Load validates again from scratch, so comparing its issues with
		// Check's below also shows that validation is deterministic
		issues := Check(today, layers...)
		for _, is := range issues {
			if is.Msg == "" || is.Kind == "" || is.Line < 0 || !utf8.ValidString(is.String()) {
				t.Fatalf("issue without a message, kind or line: %+v", is)
			}
		}
		if !slices.IsSortedFunc(issues, func(a, b Issue) int { return compareIssues(a, b) }) {
			t.Fatalf("issues out of order:\n%v", Issues(issues))
		}
		// Warnings (an old verified date, a long message) never stop Load.
		errs := Issues(issues).Errors()
		s, err := Load(layers...)
		if (err == nil) != (len(errs) == 0) {
			t.Fatalf("Load error %v with %d errors from Check", err, len(errs))
		}
		if err != nil {
			var is Issues
			if !errors.As(err, &is) || !reflect.DeepEqual(is, errs) {
				t.Fatalf("Load's issues differ from Check's (validation is not deterministic):\n%v\n%v", err, errs)
			}
			_ = err.Error()
			return
		}
		if s2, _ := Load(layers...); s2.Version() != s.Version() {
			t.Fatal("Version changes between loads of the same content")
		}
		playLoaded(t, s)
	})
}

// compareIssues is the order Check promises: file, then line.
func compareIssues(a, b Issue) int {
	switch {
	case a.File != b.File:
		if a.File < b.File {
			return -1
		}
		return 1
	case a.Line != b.Line:
		return a.Line - b.Line
	}
	return 0
}

// playLoaded walks a loaded set a little: /start, then the first buttons of
// each answer, then some typed text; every answer is well formed.
func playLoaded(t *testing.T, s *Set) {
	t.Helper()
	check := func(r Result) {
		t.Helper()
		if len(r.Out) == 0 && r.Remind == nil { // a reminder's time: the core answers
			t.Fatal("no output")
		}
		for _, o := range r.Out {
			if o.Text == "" || !utf8.ValidString(o.Text) {
				t.Fatalf("bad message %q", o.Text)
			}
			for _, row := range o.Buttons {
				for _, b := range row {
					if len(b.Data) > MaxCallbackData || (b.Data == "") == (b.URL == "") {
						t.Fatalf("bad button %+v", b)
					}
				}
			}
		}
	}
	r := s.Advance(State{}, Input{Kind: InputStart}, t0)
	check(r)
	st := r.State
	for range 6 {
		var data string
		for _, o := range r.Out {
			for _, row := range o.Buttons {
				for _, b := range row {
					if data == "" && b.Data != "" {
						data = b.Data
					}
				}
			}
		}
		if data == "" {
			break
		}
		r = s.Advance(st, Input{Kind: InputButton, Data: data}, t0)
		check(r)
		st = r.State
	}
	for _, text := range []string{"1", "có", "xin chào", "/menu"} {
		r = s.Advance(st, Input{Kind: InputText, Text: text}, t0)
		check(r)
		st = r.State
	}
}
