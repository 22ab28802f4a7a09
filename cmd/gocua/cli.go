package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/flows"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

const usage = `usage: gocua [command]

commands:
  serve                 run the bot (the default)
  migrate               apply database migrations and exit
  flows check [--max-age 180d] [DIR]
                        validate the bundled flows overlaid with DIR (default GOCUA_FLOWS_DIR),
                        and the areas file (GOCUA_AREAS_FILE, else the bundled sample);
                        warns about verified dates older than --max-age (days, or a Go
                        duration; 0 = never) and fails only on errors
  chat [--flow ID] [--lang vi|en] [--dir DIR] [--name NAME] [--debug]
                        talk to the flows in this terminal (throwaway embedded stores)
  webhook set           register the Telegram webhook and command menu, and the Zalo bot's webhook
  broadcast create|list|show|pause|resume|cancel
                        schedule announcements and follow them (gocua broadcast help)
  dashboard link <channel>:<user id>
                        print a one-time dashboard sign-in link for a staff
                        member (the first organizer's way in)
  version               print the version

Configuration comes from GOCUA_* environment variables; see docs/configuration.md.
`

// Run executes one command line and returns the process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "gocua", buildVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "chat":
		return chatCommand(ctx, args, getenv, stdin, stdout, stderr)
	}

	cfg, ok := loadConfig(getenv, stderr)
	if !ok {
		return 2
	}
	log := newLogger(cfg, stderr)

	switch {
	case cmd == "serve" && len(args) == 0:
		return serve(ctx, cfg, log, stdout)
	case cmd == "migrate" && len(args) == 0:
		return migrate(ctx, cfg, log, stderr)
	case cmd == "flows" && len(args) >= 1 && args[0] == "check":
		return flowsCheck(args[1:], cfg, time.Now(), stdout, stderr)
	case cmd == "webhook" && len(args) == 1 && args[0] == "set":
		return setWebhook(ctx, cfg, log, stdout, stderr)
	case cmd == "broadcast":
		return broadcastCommand(ctx, cfg, log, args, stdout, stderr)
	case cmd == "dashboard":
		return dashboardCmd(ctx, cfg, args, stdout, stderr, log)
	}
	fmt.Fprintf(stderr, "gocua: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// loadConfig reads and validates the environment, printing every problem.
func loadConfig(getenv func(string) string, stderr io.Writer) (config.Config, bool) {
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "gocua: configuration:\n%v\n", err)
		return cfg, false
	}
	return cfg, true
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			return bi.Main.Version + " " + rev + dirty
		}
		return bi.Main.Version
	}
	return "(devel)"
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) int {
	m := NewMain(cfg, log)
	m.Out = stdout
	if err := m.Run(ctx); err != nil {
		log.Error("gocua could not start", "err", err)
		return 1
	}
	<-ctx.Done()
	log.Info("shutting down")
	if err := m.Close(); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// migrate applies the migrations of PostgreSQL, or of the embedded SQLite
// file when GOCUA_DATABASE_URL is unset.
func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) int {
	db, err := openDurable(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "gocua migrate: %v\n", err)
		return 1
	}
	db.Close()
	log.Info("migrations applied")
	return 0
}

// flowsCheck is `gocua flows check [--max-age AGE] [DIR]`: the flows of
// DIR (default cfg.FlowsDir) over the bundled ones, and the areas file,
// as of now. It exits 2 on a usage error, 1 when any error is found, 0
// otherwise (warnings included).
func flowsCheck(args []string, cfg config.Config, now time.Time, stdout, stderr io.Writer) int {
	opts := flows.CheckOptions{Now: now}
	dir, dirSet := cfg.FlowsDir, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case strings.HasPrefix(a, "-") && name == "max-age":
			if !hasVal {
				if i+1 == len(args) {
					fmt.Fprintf(stderr, "gocua flows check: --max-age needs a value such as 180d\n\n%s", usage)
					return 2
				}
				i++
				val = args[i]
			}
			age, err := parseAge(val)
			if err != nil {
				fmt.Fprintf(stderr, "gocua flows check: --max-age %q: %v\n", val, err)
				return 2
			}
			opts.MaxAge = age
		case strings.HasPrefix(a, "-") && a != "-":
			fmt.Fprintf(stderr, "gocua flows check: unknown flag %s\n\n%s", a, usage)
			return 2
		case !dirSet:
			dir, dirSet = a, true
		default:
			fmt.Fprintf(stderr, "gocua flows check: one directory at most (got %q and %q)\n\n%s", dir, a, usage)
			return 2
		}
	}
	return max(checkFlowsWith(dir, opts, stdout, stderr), checkAreas(cfg.AreasFile, now, stdout, stderr))
}

// parseAge reads --max-age: whole days ("180d", "180") or a Go duration
// ("720h"). Zero turns the age warning off.
func parseAge(s string) (time.Duration, error) {
	days := strings.TrimSuffix(strings.TrimSpace(s), "d")
	if n, err := strconv.Atoi(days); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("must not be negative")
		}
		if n == 0 {
			return -1, nil
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("want days such as 180d, or a duration such as 720h")
	case d < 0:
		return 0, fmt.Errorf("must not be negative")
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// checkAreas validates the areas file (the bundled sample when file is "")
// as of today and prints every problem as file:line: area: message.
func checkAreas(file string, today time.Time, stdout, stderr io.Writer) int {
	name, data := areas.SampleName, areas.SampleData()
	if file != "" {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			fmt.Fprintf(stderr, "gocua flows check: GOCUA_AREAS_FILE: %v\n", err)
			return 2
		}
		name = file
	}
	issues := areas.Check(today, name, data)
	for _, is := range issues {
		fmt.Fprintln(stderr, is.String())
	}
	if len(issues) > 0 {
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(issues), name)
		return 1
	}
	s, err := areas.Parse(name, data)
	if err != nil { // Check found nothing, so Parse cannot fail
		fmt.Fprintf(stderr, "gocua flows check: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "areas ok: %d communes and wards of %s (%s)\n", s.Len(), s.Province().Name, name)
	return 0
}

// checkFlows is checkFlowsWith the default options as of today.
func checkFlows(dir string, today time.Time, stdout, stderr io.Writer) int {
	return checkFlowsWith(dir, flows.CheckOptions{Now: today}, stdout, stderr)
}

// checkFlowsWith validates the bundled flows overlaid with dir as of
// opts.Now (verified dates after it are refused, old ones warned about) and
// prints every problem as file:line: flow/step: message, warnings marked
// "warning:". Only errors make it fail.
func checkFlowsWith(dir string, opts flows.CheckOptions, stdout, stderr io.Writer) int {
	layers := []fs.FS{flows.Named("bundled", flows.Bundled())}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil || !st.IsDir() {
			fmt.Fprintf(stderr, "gocua flows check: %s is not a directory\n", dir)
			return 2
		}
		layers = append(layers, flows.Named(dir, os.DirFS(dir)))
	}
	issues := flows.Issues(opts.Check(layers...))
	for _, is := range issues {
		fmt.Fprintln(stderr, is.String())
	}
	errs, warns := len(issues.Errors()), len(issues.Warnings())
	if errs > 0 {
		fmt.Fprintf(stderr, "%d problem(s), %d warning(s)\n", errs, warns)
		return 1
	}
	if warns > 0 {
		fmt.Fprintf(stdout, "flows ok, %d warning(s)\n", warns)
		return 0
	}
	fmt.Fprintln(stdout, "flows ok")
	return 0
}

// commandNames are the resident commands shown in Telegram's menu.
var commandNames = []string{"start", "menu", "help", "lang", "stop", "huy"}

func setWebhook(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	if !cfg.Telegram.Enabled() && !cfg.ZaloBot.Enabled() && !cfg.ZaloOA.Enabled() {
		fmt.Fprintln(stderr, "gocua webhook set: no channel to register: set GOCUA_TELEGRAM_TOKEN or GOCUA_ZALO_BOT_TOKEN")
		return 2
	}
	if cfg.PublicURL == "" {
		fmt.Fprintln(stderr, "gocua webhook set: GOCUA_PUBLIC_URL is not set (the https address Telegram and Zalo should call)")
		return 2
	}
	code := 0
	if cfg.Telegram.Enabled() {
		code = max(code, setTelegramWebhook(ctx, cfg, log, stdout, stderr))
	}
	if cfg.ZaloBot.Enabled() {
		code = max(code, setZaloWebhook(ctx, cfg, log, stdout, stderr))
	}
	if cfg.ZaloOA.Enabled() {
		// The OA has no API for it: its webhook is set in the developer console.
		fmt.Fprintf(stdout, "zalo oa: in the Zalo developer console (your app → Webhook), set %s%s and tick the user_send_*, oa_send_*, follow, unfollow and user_submit_info events\n",
			cfg.PublicURL, oa.WebhookPath)
	}
	return code
}

func setTelegramWebhook(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	set, err := loadFlows(cfg.FlowsDir)
	if err != nil {
		fmt.Fprintf(stderr, "gocua webhook set: %v\n", err)
		return 1
	}
	a, err := telegram.New(telegram.Config{
		Token:         cfg.Telegram.Token.Reveal(),
		WebhookSecret: cfg.Telegram.WebhookSecret.Reveal(),
		APIURL:        cfg.Telegram.APIURL,
		PublicURL:     cfg.PublicURL,
	}, nil, log)
	if err != nil {
		fmt.Fprintf(stderr, "gocua webhook set: %v\n", err)
		return 1
	}
	cmds := map[string][]telegram.Command{}
	for _, lang := range []string{"vi", "en"} {
		for _, name := range commandNames {
			cmds[lang] = append(cmds[lang], telegram.Command{Name: name, Description: set.Text(lang, "cmd_"+name, nil)})
		}
	}
	if err := a.SetWebhook(ctx, cmds); err != nil {
		fmt.Fprintf(stderr, "gocua webhook set: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "webhook set to %s/webhook/telegram\n", cfg.PublicURL)
	return 0
}

func setZaloWebhook(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	a, err := zalo.New(zalo.Config{
		Token:         cfg.ZaloBot.Token.Reveal(),
		WebhookSecret: cfg.ZaloBot.WebhookSecret.Reveal(),
		APIURL:        cfg.ZaloBot.APIURL,
		PublicURL:     cfg.PublicURL,
	}, nil, nil, nil, log)
	if err == nil {
		err = a.SetWebhook(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gocua webhook set: zalo bot: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "zalo bot webhook set to %s%s\n", cfg.PublicURL, zalo.WebhookPath)
	return 0
}
