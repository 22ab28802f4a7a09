package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
)

// channelTerminal is the channel of `gocua chat` conversations. It exists
// only in this command: the core treats it like any other channel.
const channelTerminal bot.Channel = "terminal"

// chatUsage is printed by `gocua chat -h`.
const chatUsage = `usage: gocua chat [--flow ID] [--lang vi|en] [--dir DIR] [--name NAME] [--debug]

Talk to the flows in this terminal, through the real bot core, to write and
review flow files. Type a button's number to tap it, a /command (/start,
/menu, /help, /lang, /huy, /stop), or any text; q or end of input quits.
The conversation runs on throwaway embedded stores: nothing is written to
GOCUA_DATABASE_URL, GOCUA_REDIS_URL or GOCUA_DATA_DIR.

`

// ConvStore is what the terminal chat needs from the conversation store
// (store.Redis).
type ConvStore interface {
	bot.Conversations
	bot.Outbox
}

// chatOptions tunes runChat.
type chatOptions struct {
	Flow   string // start this flow directly ("/start <id>"); "" shows the greeting and menu
	Lang   string // language to talk in; "" keeps the conversation's (or the default)
	Debug  bool   // print "[flow/step]" after each reply
	Name   string // the resident's display name, for "{name}"
	ChatID string // conversation id on the terminal channel (default "local")
	Bold   bool   // render **bold** with ANSI escapes instead of as typed
	Prompt bool   // print a hint and a "> " prompt (stdin is a terminal)
	// DefaultLang is the language of a new conversation when Lang is unset
	// (GOCUA_DEFAULT_LANG).
	DefaultLang string
	Log         *slog.Logger // the core's logger (default: discard)
}

// chatCommand runs `gocua chat`: it parses its flags, loads the flows and
// talks to them on stdin/stdout, with embedded stores in a temporary
// directory that is removed at exit.
func chatCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("gocua chat", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, chatUsage)
		fl.PrintDefaults()
	}
	flowID := fl.String("flow", "", "start this flow directly (a flow `ID`)")
	lang := fl.String("lang", "", "talk in this language: vi or en (default GOCUA_DEFAULT_LANG)")
	dir := fl.String("dir", "", "overlay the flow files in `DIR` on the bundled flows (default GOCUA_FLOWS_DIR)")
	name := fl.String("name", "", "your display `NAME`, used where flows greet the resident by name")
	debug := fl.Bool("debug", false, "show the flow/step you are on after each reply")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "gocua chat: unexpected argument %q\n", fl.Arg(0))
		fl.Usage()
		return 2
	}

	cfg, ok := loadConfig(getenv, stderr)
	if !ok {
		return 2
	}
	flowsDir := cfg.FlowsDir
	if *dir != "" {
		if st, err := os.Stat(*dir); err != nil || !st.IsDir() {
			fmt.Fprintf(stderr, "gocua chat: --dir %s is not a directory\n", *dir)
			return 2
		}
		flowsDir = *dir
	}
	set, err := loadFlows(flowsDir)
	if err != nil {
		fmt.Fprintf(stderr, "gocua chat: %v\n(run `gocua flows check %s` for every problem with file and line)\n", err, flowsDir)
		return 1
	}
	if *flowID != "" {
		if _, ok := set.Flow(*flowID); !ok {
			fmt.Fprintf(stderr, "gocua chat: --flow %q: no such flow (have: %s)\n", *flowID, flowIDs(set))
			return 2
		}
	}
	if *lang != "" && !slices.Contains(set.Langs(), *lang) {
		fmt.Fprintf(stderr, "gocua chat: --lang %q: choose one of %s\n", *lang, strings.Join(set.Langs(), ", "))
		return 2
	}

	// The chat's own log records go to stderr, quietly: the conversation is on stdout.
	log := newLogger(config.Config{Log: config.Log{Level: max(cfg.Log.Level, slog.LevelWarn), Format: cfg.Log.Format}}, stderr)
	convs, recs, closeStores, err := openChatStores(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "gocua chat: %v\n", err)
		return 1
	}
	defer closeStores()

	terminal := isTerminal(stdout) && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	opts := chatOptions{
		Flow: *flowID, Lang: *lang, Debug: *debug, Name: *name,
		Bold: terminal, Prompt: terminal && isTerminal(stdin),
		DefaultLang: cfg.DefaultLang, Log: log,
	}
	if err := runChat(ctx, set, convs, recs, opts, stdin, stdout); err != nil {
		fmt.Fprintf(stderr, "gocua chat: %v\n", err)
		return 1
	}
	return 0
}

// openChatStores starts throwaway embedded stores: an in-process Redis and a
// SQLite file in a temporary directory. closeAll stops them and removes the
// directory.
func openChatStores(ctx context.Context, cfg config.Config, log *slog.Logger) (convs ConvStore, recs bot.Records, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	tmp, err := os.MkdirTemp("", "gocua-chat-")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("temporary directory: %w", err)
	}
	closers = append(closers, func() { _ = os.RemoveAll(tmp) })

	mem, err := store.StartEmbeddedRedis(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, mem.Close)
	rds, err := store.OpenRedis(ctx, mem.URL(), store.RedisOptions{StateTTL: cfg.StateTTL})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	closers = append(closers, func() { _ = rds.Close() })

	db, err := store.OpenSQLite(ctx, filepath.Join(tmp, "chat.db"), log.With("component", "sqlite"))
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, db.Close)
	if err := db.Migrate(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return rds, db, closeAll, nil
}

// runChat holds one terminal conversation with the real core: each line of
// stdin becomes an Inbound, and the replies are printed to stdout as soon as
// they are committed. It returns at "q", at the end of stdin or when ctx
// ends, and fails only when the stores do.
func runChat(ctx context.Context, set *flows.Set, convs ConvStore, recs bot.Records, opts chatOptions, stdin io.Reader, stdout io.Writer) error {
	if opts.ChatID == "" {
		opts.ChatID = "local"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	key := bot.ConvKey{Channel: channelTerminal, ChatID: opts.ChatID}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	cfg := bot.Config{DefaultLang: opts.Lang, ReorderWindow: 0}
	if cfg.DefaultLang == "" {
		cfg.DefaultLang = opts.DefaultLang
	}
	term := &terminal{w: out, bold: opts.Bold, texts: set, lang: cmp.Or(cfg.DefaultLang, "vi")}
	if p, ok := recs.(bot.Preferences); ok {
		cfg.Preferences = p
	}
	svc := bot.NewService(cfg, set, convs, recs,
		map[bot.Channel]bot.Enqueuer{channelTerminal: &syncDelivery{ctx: ctx, d: term, outbox: convs, log: opts.Log}},
		opts.Log)
	defer svc.Close()

	c := &chatSession{svc: svc, convs: convs, key: key, opts: opts, term: term, out: out,
		run: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if opts.Prompt {
		fmt.Fprintln(out, "Type a button's number, a /command or any text; q quits.")
		fmt.Fprintln(out)
	}
	if err := c.begin(ctx); err != nil {
		return err
	}

	// The reader ends at the end of stdin. When ctx ends first, runChat
	// returns without waiting for it: a blocked terminal read cannot be
	// interrupted, and the process exits right after.
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		c.prompt()
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
		}
		if !ok {
			select {
			case err := <-readErr:
				if err != nil {
					return fmt.Errorf("read input: %w", err)
				}
			default:
			}
			return nil
		}
		quit, err := c.input(ctx, line)
		if err != nil || quit {
			return err
		}
	}
}

// chatSession is the state of one terminal conversation.
type chatSession struct {
	svc   *bot.Service
	convs ConvStore
	key   bot.ConvKey
	opts  chatOptions
	term  *terminal
	out   *bufio.Writer
	run   string // makes update ids unique across runs on persistent stores
	n     int64  // inputs sent
}

func (c *chatSession) prompt() {
	if c.opts.Prompt {
		fmt.Fprint(c.out, "> ")
	}
	c.out.Flush()
}

// begin switches to the requested language if the stored conversation speaks
// another one, then starts: the greeting and menu, or --flow directly.
func (c *chatSession) begin(ctx context.Context) error {
	if c.opts.Lang != "" {
		conv, _, err := c.convs.Load(ctx, c.key, "")
		if err != nil {
			return fmt.Errorf("load conversation: %w", err)
		}
		// A new conversation starts in opts.Lang (the core's default).
		if conv.Version > 0 && conv.Flow.Lang != c.opts.Lang {
			if err := c.send(ctx, bot.Inbound{Kind: bot.InButton, Data: "lang:" + c.opts.Lang}); err != nil {
				return err
			}
		}
	}
	return c.send(ctx, bot.Inbound{Kind: bot.InCommand, Command: "start", Args: c.opts.Flow})
}

// input handles one typed line, cleaned like every channel's input
// (bot.CleanText); quit is true for "q".
func (c *chatSession) input(ctx context.Context, raw string) (quit bool, err error) {
	raw = strings.TrimSpace(raw)
	line := strings.TrimSpace(bot.CleanText(raw))
	switch {
	case raw == "":
		return false, nil
	case line == "": // only control characters: like a message without text
		return false, c.send(ctx, bot.Inbound{Kind: bot.InMedia})
	case line == "q":
		return true, nil
	case isNumber(line):
		choices := c.term.menu.Choices
		if len(choices) == 0 {
			c.note("there are no buttons to tap: type text or a /command")
			return false, nil
		}
		b, ok := c.term.menu.Choose(line)
		if !ok {
			c.note(fmt.Sprintf("no button %s: choose 1–%d", line, len(choices)))
			return false, nil
		}
		return false, c.send(ctx, bot.Inbound{Kind: bot.InButton, Data: b.Data})
	case strings.HasPrefix(line, "/"):
		name, args, _ := strings.Cut(line[1:], " ")
		name, _, _ = strings.Cut(name, "@")
		return false, c.send(ctx, bot.Inbound{Kind: bot.InCommand, Command: strings.ToLower(name), Args: strings.TrimSpace(args)})
	default:
		return false, c.send(ctx, bot.Inbound{Kind: bot.InText, Text: line})
	}
}

// send hands one input to the core; its replies are printed before it
// returns. With --debug the conversation's position follows.
func (c *chatSession) send(ctx context.Context, in bot.Inbound) error {
	c.n++
	in.Key = c.key
	in.UpdateID = c.run + "-" + strconv.FormatInt(c.n, 10)
	in.Seq = c.n
	in.UserID = c.key.ChatID
	in.Name = c.opts.Name
	in.At = time.Now()
	if err := c.svc.Handle(ctx, in); err != nil {
		return err
	}
	if c.opts.Debug {
		conv, _, err := c.convs.Load(ctx, c.key, "")
		if err != nil {
			return fmt.Errorf("load conversation: %w", err)
		}
		fmt.Fprintln(c.out, position(conv))
		fmt.Fprintln(c.out)
	}
	return c.out.Flush()
}

// note prints a message from the chat tool itself (not from the bot).
func (c *chatSession) note(s string) {
	fmt.Fprintf(c.out, "(%s)\n\n", s)
}

// position renders where a conversation is: "[flow/step]", "[menu]" when it
// is in no flow, plus the language and any open ticket.
func position(conv bot.Conversation) string {
	where := "menu"
	if conv.Flow.Flow != "" {
		where = conv.Flow.Flow + "/" + conv.Flow.Step
	}
	s := "[" + where + "] lang=" + conv.Flow.Lang
	if conv.Ticket != 0 {
		s += " ticket=" + strconv.FormatInt(conv.Ticket, 10)
	}
	return s
}

func isNumber(s string) bool {
	if len(s) > 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func flowIDs(set *flows.Set) string {
	var ids []string
	for _, f := range set.Flows() {
		ids = append(ids, f.ID)
	}
	return strings.Join(ids, ", ")
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// syncDelivery delivers committed messages at once, in order, instead of
// pacing them like a platform sender: a terminal has no rate limits and the
// replies must appear right after the input.
type syncDelivery struct {
	ctx    context.Context
	d      bot.Deliverer
	outbox bot.Outbox
	log    *slog.Logger
}

// Enqueue delivers outs and removes each from the outbox.
func (s *syncDelivery) Enqueue(outs ...bot.Outbound) {
	for _, o := range outs {
		if err := s.d.Deliver(s.ctx, o); err != nil {
			s.log.Error("deliver", "msg", o.ID, "err", err)
			continue
		}
		if _, err := s.outbox.Done(context.WithoutCancel(s.ctx), o.Key, o.ID); err != nil {
			s.log.Error("outbox done", "msg", o.ID, "err", err)
		}
	}
}

// Resume delivers what key's outbox still holds (a reply whose commit
// answer was lost: its update came back as a duplicate).
func (s *syncDelivery) Resume(ctx context.Context, key bot.ConvKey) {
	msgs, held, err := s.outbox.Claim(ctx, key)
	if err != nil {
		s.log.Error("outbox claim", "err", err)
		return
	}
	if !held {
		s.Enqueue(msgs...)
	}
}

// terminal is the terminal channel's Deliverer: it prints each message
// with its buttons as the numbered menu channels without buttons show
// (bot.RenderMenu), and remembers the menu of the last message that had
// one, for the next number typed.
type terminal struct {
	w     io.Writer
	bold  bool
	texts bot.Texts
	lang  string // the language of replies that do not say theirs
	menu  bot.Menu
}

// Deliver prints one message.
func (t *terminal) Deliver(_ context.Context, out bot.Outbound) error {
	lang := cmp.Or(out.Lang, t.lang)
	if _, err := fmt.Fprintln(t.w, t.render(bot.RenderMenu(t.texts, lang, out.Text, out.Buttons))); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	if m := bot.NumberButtons(out.Buttons); len(m.Choices) > 0 {
		t.menu = m
	}
	if _, err := fmt.Fprintln(t.w); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	return nil
}

// render shows **bold** spans in ANSI bold on a terminal, and as typed
// otherwise; an unpaired "**" stays literal, as on Telegram.
func (t *terminal) render(s string) string {
	if !t.bold {
		return s
	}
	parts := strings.Split(s, "**")
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 0:
			b.WriteString(p)
		case i == len(parts)-1:
			b.WriteString("**" + p)
		default:
			b.WriteString("\x1b[1m" + p + "\x1b[22m")
		}
	}
	return b.String()
}
