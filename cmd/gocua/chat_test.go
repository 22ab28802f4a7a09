package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
	"github.com/gocua/gocua/store/storetest"
)

// The runChat tests use the real Redis (DB chatRedisDB, flushed once) and
// this package's fresh PostgreSQL database (see TestMain).
const chatRedisDB = 14

var chatRedisFlush = sync.OnceValue(func() error { return storetest.FlushRedis(context.Background(), chatRedisDB) })

type chatEnv struct {
	set   *flows.Set
	convs *store.Redis
	db    *store.Postgres
}

func newChatEnv(t *testing.T) *chatEnv {
	t.Helper()
	ctx := context.Background()
	if err := chatRedisFlush(); err != nil {
		t.Fatal(err)
	}
	set, err := loadFlows("")
	if err != nil {
		t.Fatal(err)
	}
	rds, err := store.OpenRedis(ctx, storetest.RedisURL(chatRedisDB), store.RedisOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rds.Close() })
	db, err := store.OpenPostgres(ctx, testDB.url, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return &chatEnv{set: set, convs: rds, db: db}
}

// chat runs one terminal conversation on a chat id of its own and returns
// the transcript.
func (e *chatEnv) chat(t *testing.T, opts chatOptions, input string) string {
	t.Helper()
	opts.ChatID = fmt.Sprint(newChatID())
	if opts.DefaultLang == "" {
		opts.DefaultLang = "vi"
	}
	var out bytes.Buffer
	if err := runChat(context.Background(), e.set, e.convs, e.db, opts, strings.NewReader(input), &out); err != nil {
		t.Fatalf("runChat: %v\ntranscript:\n%s", err, out.String())
	}
	return out.String()
}

func mustContain(t *testing.T, transcript string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(transcript, w) {
			t.Errorf("transcript lacks %q\ntranscript:\n%s", w, transcript)
		}
	}
}

// firstMenuFlow is the flow of the main menu's first button.
func firstMenuFlow(t *testing.T, set *flows.Set) *flows.Flow {
	t.Helper()
	var first *flows.Flow
	for _, f := range set.Flows() {
		if f.Menu > 0 && (first == nil || f.Menu < first.Menu) {
			first = f
		}
	}
	if first == nil {
		t.Fatal("no menu flow")
	}
	return first
}

func TestChatGreetsWithNumberedMenu(t *testing.T) {
	e := newChatEnv(t)
	got := e.chat(t, chatOptions{Name: "Lan"}, "")
	menu := e.set.Menu("vi")[0]
	mustContain(t, got,
		e.set.Text("vi", "greeting", map[string]string{"name": "Lan"})+"\n\n",
		menu.Text+"\n",
		"\n1. "+menu.Buttons[0][0].Text+"\n",
		"\n2. "+menu.Buttons[1][0].Text+"\n",
		e.set.Text("vi", "menu_reply", map[string]string{"choices": e.set.Text("vi", "menu_range", map[string]string{"first": "1", "last": fmt.Sprint(len(bot.NumberButtons(botButtons(menu.Buttons)).Choices))})}),
	)
	// **bold** is shown as typed when stdout is not a terminal.
	if !strings.Contains(got, "**") || strings.Contains(got, "\x1b[") {
		t.Errorf("bold markup not shown as typed:\n%s", got)
	}
	// Every button of the menu is numbered, in order, as on Zalo.
	n := 0
	for _, row := range menu.Buttons {
		for _, b := range row {
			n++
			mustContain(t, got, fmt.Sprintf("\n%d. %s\n", n, b.Text))
		}
	}
}

func TestChatTapEntersFirstMenuFlow(t *testing.T) {
	e := newChatEnv(t)
	f := firstMenuFlow(t, e.set)
	got := e.chat(t, chatOptions{Debug: true}, "1\n")
	mustContain(t, got, "[menu] lang=vi\n", "["+f.ID+"/"+f.Start+"] lang=vi\n")
	// The flow's first step comes after the tap, with its own numbered buttons.
	after := got[strings.Index(got, "[menu] lang=vi"):]
	mustContain(t, after, "\n1. ", e.set.Text("vi", "nav_menu", nil))
}

func TestChatFlowOption(t *testing.T) {
	e := newChatEnv(t)
	got := e.chat(t, chatOptions{Flow: "official_links", Debug: true}, "")
	mustContain(t, got,
		"[official_links/websites] lang=vi\n",
		": https://dichvucong.gov.vn\n", // URL buttons show their link
	)
	if strings.Contains(got, "[menu]") {
		t.Errorf("--flow showed the menu first:\n%s", got)
	}
	// A link takes no number, as on Zalo: 1 is the first payload button.
	got = e.chat(t, chatOptions{Flow: "official_links", Debug: true}, "1\n")
	mustContain(t, got, "[official_links/", "\n1. "+e.set.Text("vi", "nav_next", nil)+"\n")
}

func TestChatLangOption(t *testing.T) {
	e := newChatEnv(t)
	got := e.chat(t, chatOptions{Lang: "en", Debug: true}, "")
	mustContain(t, got, e.set.Text("en", "greeting", nil), e.set.Menu("en")[0].Text, "[menu] lang=en\n")
	if strings.Contains(got, e.set.Menu("vi")[0].Text) {
		t.Errorf("Vietnamese menu shown with --lang en:\n%s", got)
	}
}

func TestChatLangOptionSwitchesAnExistingConversation(t *testing.T) {
	e := newChatEnv(t)
	var out bytes.Buffer
	opts := chatOptions{ChatID: fmt.Sprint(newChatID()), DefaultLang: "vi", Debug: true}
	if err := runChat(context.Background(), e.set, e.convs, e.db, opts, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	opts.Lang = "en"
	out.Reset()
	if err := runChat(context.Background(), e.set, e.convs, e.db, opts, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	mustContain(t, out.String(), e.set.Text("en", "lang_set", nil), "[menu] lang=en\n")
}

func TestChatBadInputsGetClearMessages(t *testing.T) {
	e := newChatEnv(t)
	buttons := 0
	for _, row := range e.set.Menu("vi")[0].Buttons {
		buttons += len(row)
	}
	got := e.chat(t, chatOptions{}, "99\n0\n\n")
	mustContain(t, got,
		fmt.Sprintf("(no button 99: choose 1–%d)", buttons),
		fmt.Sprintf("(no button 0: choose 1–%d)", buttons),
	)
}

func TestChatCommandsAndText(t *testing.T) {
	e := newChatEnv(t)
	f := firstMenuFlow(t, e.set)
	got := e.chat(t, chatOptions{Debug: true}, "1\n/menu\n/huy\n/help\n")
	menuText := e.set.Menu("vi")[0].Text
	if strings.Count(got, menuText) < 3 { // start, /menu, /help
		t.Errorf("want the menu after /start, /menu and /help:\n%s", got)
	}
	mustContain(t, got,
		"["+f.ID+"/"+f.Start+"]",
		e.set.Text("vi", "handoff_none", nil),
		e.set.Text("vi", "help", nil),
	)
	if !strings.HasSuffix(got, "[menu] lang=vi\n\n") {
		t.Errorf("/help should end at the menu:\n%s", got)
	}

	// Free text reaches the flows: a keyword opens its flow.
	kw := f.Keywords["vi"][0]
	got = e.chat(t, chatOptions{Debug: true}, kw+"\n")
	mustContain(t, got, "["+f.ID+"/")
}

// Typed lines are cleaned like every channel's input: a line of control
// characters is answered like a message without text, a command with a NUL
// in it still works.
func TestChatCleansInput(t *testing.T) {
	e := newChatEnv(t)
	got := e.chat(t, chatOptions{Debug: true}, "\x00\x07\u200b\n/men\x00u\n")
	mustContain(t, got, e.set.Text("vi", "media", nil))
	if strings.Count(got, e.set.Menu("vi")[0].Text) < 2 { // start, /menu
		t.Errorf("/men\\x00u did not show the menu:\n%s", got)
	}
}

func TestChatEscalationOpensTicket(t *testing.T) {
	e := newChatEnv(t)
	// The last button of the main menu is "talk to a volunteer".
	rows := e.set.Menu("vi")[0].Buttons
	n := 0
	for _, row := range rows {
		n += len(row)
	}
	// then what the problem is: the first topic
	got := e.chat(t, chatOptions{Debug: true}, fmt.Sprintf("%d\n1\n", n))
	if !regexp.MustCompile(`ticket=\d+`).MatchString(got) {
		t.Errorf("no ticket after asking for a volunteer:\n%s", got)
	}
}

func TestChatQuitsAtQ(t *testing.T) {
	e := newChatEnv(t)
	got := e.chat(t, chatOptions{Debug: true}, "q\n1\n")
	if strings.Count(got, "lang=vi") != 1 {
		t.Errorf("input after q was handled:\n%s", got)
	}
}

func TestTerminalBold(t *testing.T) {
	term := &terminal{bold: true}
	for in, want := range map[string]string{
		"a **b** c":   "a \x1b[1mb\x1b[22m c",
		"**x** **y":   "\x1b[1mx\x1b[22m **y",
		"no markup":   "no markup",
		"**only**":    "\x1b[1monly\x1b[22m",
		"tail ** end": "tail ** end",
	} {
		if got := term.render(in); got != want {
			t.Errorf("render(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestChatCommand runs `gocua chat` as a user would, on its throwaway
// embedded stores.
func TestChatCommand(t *testing.T) {
	set, err := loadFlows("")
	if err != nil {
		t.Fatal(err)
	}
	run := func(input string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := chatCommand(context.Background(), args, func(string) string { return "" }, strings.NewReader(input), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, stderr := run("", "--debug")
	if code != 0 {
		t.Fatalf("exit %d at end of input; stderr:\n%s", code, stderr)
	}
	mustContain(t, out, set.Menu("vi")[0].Text, "\n1. ", "[menu] lang=vi")

	dir := t.TempDir()
	demo := `id: chat_demo
title: {vi: "Thử nghiệm", en: "Try it"}
sources: [https://example.gov.vn]
verified: 2026-01-15
start: hello
steps:
  - id: hello
    say: {vi: "Xin chào từ thư mục riêng", en: "Hello from my own folder"}
    next: done
  - id: done
    end: {vi: "Xong rồi", en: "All done"}
`
	if err := os.WriteFile(filepath.Join(dir, "demo.yaml"), []byte(demo), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = run("1\n", "--dir", dir, "--flow", "chat_demo", "--lang", "en", "--debug")
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	mustContain(t, out, "Hello from my own folder", "[chat_demo/hello] lang=en", "All done")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--flow", "nope"}, `--flow "nope": no such flow`},
		{[]string{"--lang", "fr"}, `--lang "fr": choose one of vi, en`},
		{[]string{"--dir", filepath.Join(dir, "missing")}, "is not a directory"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--bogus"}, "flag provided but not defined"},
	} {
		code, _, stderr := run("", tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("gocua chat %v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// TestEnvExampleListsEveryVariable keeps deploy/gocua.env.example complete.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "gocua.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, v := range config.Vars() {
		if !regexp.MustCompile(`(?m)^#? ?` + regexp.QuoteMeta(v.Name) + `=`).MatchString(text) {
			t.Errorf("deploy/gocua.env.example lacks %s", v.Name)
		}
	}
}

// TestEnvExampleValuesAreValid loads every value shown in
// deploy/gocua.env.example (set or commented examples) through config.
func TestEnvExampleValuesAreValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "gocua.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(?:# (?:e\.g\. )?)?(GOCUA_[A-Z_]+)=(.*)$`)
	known := map[string]bool{}
	for _, v := range config.Vars() {
		known[v.Name] = true
	}
	env := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if m := line.FindStringSubmatch(l); m != nil && known[m[1]] && (m[2] != "" || env[m[1]] == "") {
			env[m[1]] = m[2]
		}
	}
	if len(env) < len(config.Vars()) {
		t.Fatalf("parsed %d variables, want %d", len(env), len(config.Vars()))
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Errorf("the example values do not load:\n%v", err)
	}
}

// botButtons converts a flow's buttons to the core's.
func botButtons(rows [][]flows.Button) [][]bot.Button {
	out := make([][]bot.Button, len(rows))
	for i, r := range rows {
		for _, b := range r {
			out[i] = append(out[i], bot.Button{Text: b.Text, Data: b.Data, URL: b.URL})
		}
	}
	return out
}
