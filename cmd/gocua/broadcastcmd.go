package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
	"github.com/gocua/gocua/store"
)

const broadcastUsage = `usage: gocua broadcast <command>

  create --text TEXT [--image FILE] [--button "label=flow:step"]... [--audience EXPR]
         (--at "2026-12-05 07:30" | --cron "30 7 * * 6" | --now)
         [--expires 24h] [--paid] [--dry-run]
                        schedule a broadcast (times in GOCUA_TIMEZONE); --dry-run
                        only counts who it would reach
  list [--limit N]      the newest broadcasts
  show ID [--follow]    one broadcast and its latest run; --follow draws its
                        progress until it is done
  pause ID | resume ID | cancel ID

Audience (default all): all, area:CODE[,CODE], lang:vi|en, channel:telegram|web,
started:FLOW, completed:FLOW, stuck:FLOW[#STEP]>Nd, resolved<Nd, seen<Nd,
seen>Nd, joined with and, or, not and parentheses; e.g.
  area:19771 and started:install_vneid and not completed:install_vneid
`

// broadcastRules are the platform rules broadcasts follow: the default
// language, and Zalo OA's 7 days after a resident's last message.
func broadcastRules(cfg config.Config) broadcast.Rules {
	return broadcast.Rules{
		DefaultLang: cfg.DefaultLang,
		Windows:     map[bot.Channel]time.Duration{bot.ChannelZaloOA: 7 * 24 * time.Hour},
	}
}

// cliDB is the durable store as the commands other than serve use it.
type cliDB interface {
	Migrate(ctx context.Context) error
	Close()
	Broadcasts() *store.Broadcasts
	Uploads() *store.Uploads
	Desk() *store.Desk
	Dashboard() *store.Dashboard
}

// storeImage keeps a broadcast's photo in the durable store (every replica
// and channel can read it there) and returns its ref.
// With the Zalo OA on, a photo the OA would refuse (over 1 MiB, or WebP) is
// refused here: its residents would get nothing.
func storeImage(ctx context.Context, db cliDB, path string, zaloOA bool) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, bot.MaxUpload+1))
	if err != nil {
		return "", err
	}
	if len(data) > bot.MaxUpload {
		return "", fmt.Errorf("%s is over %d MiB", path, bot.MaxUpload>>20)
	}
	mime := http.DetectContentType(data)
	if !bot.UploadMIME(mime) {
		return "", fmt.Errorf("%s is %s, not a JPEG, PNG or WebP photo", path, mime)
	}
	if zaloOA && (len(data) > oa.MaxImage || mime == "image/webp") {
		return "", fmt.Errorf("%s is a %s of %.1f MiB, and Zalo OA takes JPEG or PNG photos of at most %d MiB: make it smaller, or the OA's residents get nothing",
			path, mime, float64(len(data))/(1<<20), oa.MaxImage>>20)
	}
	sum := sha256.Sum256(data)
	up, err := db.Uploads().SaveUpload(ctx, bot.Upload{Visitor: store.BroadcastImages, MsgID: hex.EncodeToString(sum[:16]), MIME: mime, Data: data})
	if err != nil {
		return "", err
	}
	return bot.WebRefPrefix + up.ID, nil
}

// openDurable opens PostgreSQL, or the embedded SQLite file when
// GOCUA_DATABASE_URL is unset, and applies the migrations it lacks.
func openDurable(ctx context.Context, cfg config.Config, log *slog.Logger) (cliDB, error) {
	var db cliDB
	var err error
	if url := cfg.DatabaseURL.Reveal(); url != "" {
		db, err = store.OpenPostgres(ctx, url, log)
	} else {
		db, err = store.OpenSQLite(ctx, sqlitePath(cfg), log)
	}
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// buttonFlags collects repeated --button flags.
type buttonFlags []string

func (b *buttonFlags) String() string     { return strings.Join(*b, ", ") }
func (b *buttonFlags) Set(v string) error { *b = append(*b, v); return nil }

// broadcastCommand runs gocua broadcast ….
func broadcastCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, broadcastUsage)
		return 0
	}
	sub, args := args[0], args[1:]
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gocua broadcast %s: "+format+"\n", append([]any{sub}, a...)...)
		return 1
	}
	switch sub {
	case "create", "list", "show", "pause", "resume", "cancel":
	default:
		fmt.Fprintf(stderr, "gocua broadcast: unknown command %q\n\n%s", sub, broadcastUsage)
		return 2
	}
	db, err := openDurable(ctx, cfg, log)
	if err != nil {
		return fail("%v", err)
	}
	defer db.Close()
	st := db.Broadcasts()
	loc := cfg.Timezone
	now := time.Now()

	switch sub {
	case "create":
		fs := flag.NewFlagSet("gocua broadcast create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var d broadcast.Draft
		var buttons buttonFlags
		dry := fs.Bool("dry-run", false, "count who it would reach, create nothing")
		fs.StringVar(&d.Text, "text", "", "what residents read")
		image := fs.String("image", "", "a photo (JPEG, PNG or WebP, at most 5 MiB) sent with the text as its caption")
		fs.Var(&buttons, "button", `a button "label=flow" or "label=flow:step" (up to 3)`)
		fs.StringVar(&d.Audience, "audience", "all", "who receives it")
		fs.StringVar(&d.At, "at", "", `when, "2026-12-05 07:30" in GOCUA_TIMEZONE`)
		fs.StringVar(&d.Cron, "cron", "", `a recurring schedule, e.g. "30 7 * * 6" (Saturdays 7:30)`)
		fs.BoolVar(&d.Now, "now", false, "send now")
		fs.DurationVar(&d.Expires, "expires", 24*time.Hour, "skip what is still unsent this long after it started (0: never)")
		fs.BoolVar(&d.Paid, "paid", false, "allow Telegram's paid broadcasts, if GOCUA_TELEGRAM_PAID_BROADCAST allows them")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() > 0 {
			return fail("unexpected %q (quote texts with spaces)", fs.Arg(0))
		}
		d.Buttons, d.By = buttons, "cli"
		set, err := loadFlows(cfg.FlowsDir)
		if err != nil {
			return fail("%v", err)
		}
		ar, err := loadAreas(cfg.AreasFile, log)
		if err != nil {
			return fail("%v", err)
		}
		if *image != "" && !*dry {
			if d.Image, err = storeImage(ctx, db, *image, cfg.ZaloOA.Enabled()); err != nil {
				return fail("--image: %v", err)
			}
		} else if *image != "" {
			d.Image = bot.WebRefPrefix + "dry-run"
		}
		b, aud, errs := broadcast.Compose(d, composeEnv(cfg, set, ar, now))
		if len(errs) > 0 {
			for _, err := range errs {
				fmt.Fprintf(stderr, "gocua broadcast create: %v\n", err)
			}
			return 1
		}
		n, err := st.CountAudience(ctx, aud, broadcastRules(cfg), now)
		if err != nil {
			return fail("%v", err)
		}
		if *dry {
			fmt.Fprintf(stdout, "would reach %s\n", describeCount(n))
			return 0
		}
		id, err := st.CreateBroadcast(ctx, b)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "broadcast #%d %s\naudience: %s\nreaches now: %s\n", id, describeSchedule(b, loc), b.Audience, describeCount(n))
		return 0

	case "list":
		fs := flag.NewFlagSet("gocua broadcast list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		limit := fs.Int("limit", 20, "how many")
		if err := fs.Parse(args); err != nil {
			return 2
		}
		list, err := st.Broadcasts(ctx, max(*limit, 1))
		if err != nil {
			return fail("%v", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tSCHEDULE\tAUDIENCE\tSENT/TOTAL\tSTATE")
		for _, b := range list {
			sent := "-"
			if run, err := st.LastRun(ctx, b.ID); err == nil {
				if rep, err := st.Report(ctx, run.ID); err == nil {
					sent = fmt.Sprintf("%d/%d", rep.Delivered, rep.Run.Total)
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.CreatedAt.In(loc).Format("2006-01-02 15:04"),
				describeSchedule(b, loc), clipCell(b.Audience, 40), sent, describeState(b))
		}
		tw.Flush()
		return 0

	case "show":
		fs := flag.NewFlagSet("gocua broadcast show", flag.ContinueOnError)
		fs.SetOutput(stderr)
		follow := fs.Bool("follow", false, "draw the progress until it is done")
		id, rest, ok := broadcastID(args)
		if !ok || fs.Parse(rest) != nil || fs.NArg() > 0 {
			fmt.Fprint(stderr, "usage: gocua broadcast show ID [--follow]\n")
			return 2
		}
		b, err := st.Broadcast(ctx, id)
		if err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "broadcast #%d, %s, %s\ncreated %s by %s\naudience: %s\n", b.ID, describeState(b), describeSchedule(b, loc),
			b.CreatedAt.In(loc).Format("2006-01-02 15:04"), b.CreatedBy, b.Audience)
		for _, btn := range b.Buttons {
			fmt.Fprintf(stdout, "button: %s → %s\n", btn.Label, btn.Target())
		}
		fmt.Fprintf(stdout, "text:\n%s\n", indent(b.Text))
		return showProgress(ctx, st, b, *follow, loc, stdout, stderr)

	default: // pause, resume, cancel
		id, rest, ok := broadcastID(args)
		if !ok || len(rest) > 0 {
			fmt.Fprintf(stderr, "usage: gocua broadcast %s ID\n", sub)
			return 2
		}
		from, to := map[string][]broadcast.State{
			"pause":  {broadcast.Active},
			"resume": {broadcast.Paused},
			"cancel": {broadcast.Active, broadcast.Paused},
		}[sub], map[string]broadcast.State{"pause": broadcast.Paused, "resume": broadcast.Active, "cancel": broadcast.Cancelled}[sub]
		err := st.SetState(ctx, id, from, to, false, now)
		switch {
		case errors.Is(err, broadcast.ErrState):
			b, _ := st.Broadcast(ctx, id)
			return fail("broadcast #%d is %s", id, describeState(b))
		case err != nil:
			return fail("%v", err)
		}
		fmt.Fprintf(stdout, "broadcast #%d is %s\n", id, to)
		return 0
	}
}

// composeEnv is what a draft is checked against: the flows, the areas, the
// languages, and the strictest limits of the channels it may reach.
func composeEnv(cfg config.Config, set *flows.Set, ar *areas.Set, now time.Time) broadcast.Env {
	env := broadcast.Env{
		Flows: set, Location: cfg.Timezone, Now: now,
		MaxText: flows.MaxTextTelegram, MaxCaption: telegram.MaxCaption,
		Known: broadcast.Known{Langs: set.Langs()},
	}
	if cfg.ZaloBot.Enabled() || cfg.ZaloOA.Enabled() {
		env.MaxText = min(env.MaxText, flows.MaxTextZalo)
		env.MaxCaption = min(env.MaxCaption, flows.MaxTextZalo)
	}
	if ar != nil {
		env.Known.Areas = func(code string) bool { _, ok := ar.Lookup(code); return ok }
	}
	return env
}

func broadcastID(args []string) (int64, []string, bool) {
	if len(args) == 0 {
		return 0, nil, false
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
	return id, args[1:], err == nil && id > 0
}

func describeCount(n broadcast.Count) string {
	s := fmt.Sprintf("%d of %d matched", n.Recipients, n.Matched)
	if n.Matched > n.Recipients {
		s += fmt.Sprintf(" (no consent %d · unreachable %d · outside the platform's window %d)", n.NoConsent, n.Unreachable, n.Window)
	}
	return s
}

func describeSchedule(b broadcast.Broadcast, loc *time.Location) string {
	if b.Recurring() {
		return "cron " + b.Cron
	}
	return "at " + b.At.In(loc).Format("2006-01-02 15:04")
}

func describeState(b broadcast.Broadcast) string {
	if b.Missed {
		return "missed"
	}
	return string(b.State)
}

func clipCell(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

// showProgress prints the latest run's report; following, it redraws a
// progress bar every second until the run is over.
func showProgress(ctx context.Context, st *store.Broadcasts, b broadcast.Broadcast, follow bool, loc *time.Location, stdout, stderr io.Writer) int {
	for {
		run, err := st.LastRun(ctx, b.ID)
		if errors.Is(err, broadcast.ErrNotFound) {
			if !follow {
				fmt.Fprintln(stdout, "not started yet")
				return 0
			}
		} else if err != nil {
			fmt.Fprintf(stderr, "gocua broadcast show: %v\n", err)
			return 1
		} else {
			rep, err := st.Report(ctx, run.ID)
			if err != nil {
				fmt.Fprintf(stderr, "gocua broadcast show: %v\n", err)
				return 1
			}
			if !follow {
				fmt.Fprintln(stdout, reportLines(rep, loc))
				return 0
			}
			fmt.Fprintf(stdout, "\r%s", progressBar(rep, 30))
			if run.State != broadcast.RunSending {
				fmt.Fprintf(stdout, "\n%s\n", reportLines(rep, loc))
				return 0
			}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout)
			return 0
		case <-time.After(time.Second):
		}
	}
}

// progressBar draws "[█████░░░░░]  52% 5200/10000 · 3 blocked · 0 failed · 12 skipped".
func progressBar(rep broadcast.Report, width int) string {
	done, total := rep.Settled(), rep.Run.Total
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	full := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3d%% %d/%d · %d blocked · %d failed · %d skipped ",
		strings.Repeat("█", full), strings.Repeat("░", width-full), int(frac*100), done, total, rep.Blocked, rep.Failed, rep.SkippedTotal())
}

func reportLines(rep broadcast.Report, loc *time.Location) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run #%d (due %s): %s\n", rep.Run.ID, rep.Run.Tick.In(loc).Format("2006-01-02 15:04"), rep.Run.State)
	fmt.Fprintf(&b, "  total %d: delivered %d, blocked %d, failed %d, skipped %d, pending %d; tapped a button %d",
		rep.Run.Total, rep.Delivered, rep.Blocked, rep.Failed, rep.SkippedTotal(), rep.Pending, rep.Tapped)
	for _, r := range []string{broadcast.ReasonNoConsent, broadcast.ReasonUnreachable, broadcast.ReasonWindow, broadcast.ReasonExpired, broadcast.ReasonCancelled} {
		if n := rep.Skipped[r]; n > 0 {
			fmt.Fprintf(&b, "\n  skipped, %s: %d", strings.ReplaceAll(r, "_", " "), n)
		}
	}
	return b.String()
}
