package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// options is the command line.
type options struct {
	gocua       string        // gocua binary ("": built from ./cmd/gocua)
	bots        []string      // which bots to measure, in order: gocua, floor
	redisURL    string        // Redis with the DB number the bots use
	postgresURL string        // admin database: the run's database is created and dropped through it
	rate        float64       // updates a second of the main measurement
	duration    time.Duration // measured time at each rate
	warmup      time.Duration // unmeasured load before each measurement
	grace       time.Duration // wait for replies after the last post
	chats       int
	poisson     bool
	maxInflight int
	connections int
	steps       []float64 // the capacity search's rates (none: no search)
	p99         time.Duration
	cpuprofile  string // gocua's CPU profile during the main measurement ("": none)
	logs        string // where the bots' logs go ("": discarded)
}

var errHelp = errors.New("help requested")

const usageText = `usage: gocua-load [flags]

Measures gocua against the floor — the cheapest bot with the same I/O shape:
per update one Redis GET and SET of the chat's key and one sendMessage,
built with go-telegram/bot — side by side, in one run. Each bot is started
as a child process and pointed at a fake Bot API served by this tool; updates
are posted open loop (on schedule, whether or not earlier ones were
answered) from many chats, each chat at most once a second with one update
outstanding, over at most -connections connections as Telegram opens at
most a webhook's max_connections. Latency is from posting an update to the
first sendMessage to its chat. CPU time is read from /proc before and after each measured
interval: the bot's, and the bot's plus Redis's and PostgreSQL's (the
postmaster and its processes, without client backends of other databases);
both servers must run on this machine.

For each bot: p50/p99 latency at -rate, CPU time per update, peak RSS
(VmHWM), then the capacity: the highest of -steps (tried in order until one
fails twice in a row: a shared machine has bursts) with p99 <= -p99, every
update posted and answered, and at most 5 % of the posts more than 5 ms
behind their schedule. After each step the tool waits until the bot has
sent its backlog.

flags:
`

// parseOptions parses args; -h prints the help and returns errHelp.
func parseOptions(args []string, out io.Writer) (options, error) {
	fs := flag.NewFlagSet("gocua-load", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	var o options
	var bots, steps, arrivals string
	fs.StringVar(&o.gocua, "gocua", "", "gocua `binary` to measure (default: ./cmd/gocua built with go build into a temporary directory; run from the repository)")
	fs.StringVar(&bots, "bots", "gocua,floor", "bots to measure, in this order (gocua, floor)")
	fs.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/13", "Redis URL, with the DB number the bots use (their keys are deleted afterwards) and any go-redis parameters for both (e.g. ?pool_size=200)")
	fs.StringVar(&o.postgresURL, "postgres", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL admin URL: gocua gets a fresh database created through it and dropped afterwards, with this URL's parameters (e.g. pool_max_conns=64)")
	fs.Float64Var(&o.rate, "rate", 1000, "updates a second for the p50/p99, CPU and RSS measurement")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time at -rate and at each capacity step")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load at the same rate before each measurement")
	fs.DurationVar(&o.grace, "grace", 2*time.Second, "how long to wait for replies after the last post of a measurement; later ones count as missing")
	fs.IntVar(&o.chats, "chats", 10000, "distinct chats (residents); each sends at most once a second, so at least the highest rate")
	fs.StringVar(&arrivals, "arrivals", "even", "arrival times: even (fixed spacing) or poisson")
	fs.IntVar(&o.maxInflight, "max-inflight", 4096, "webhook posts in flight at most; arrivals beyond it are dropped and counted")
	fs.IntVar(&o.connections, "connections", 40, "connections the webhook posts share at most, like Telegram's max_connections (gocua's setWebhook asks for 40; Telegram allows 1–100); a post waits for a free one and its latency counts the wait (0: one per post in flight)")
	fs.StringVar(&steps, "steps", "250,500,1000,1500,2000,3000,4000,6000,8000", "capacity search: comma-separated rates, tried in order until one fails twice: p99 above -p99, or any update not posted or answered (empty: no search)")
	fs.DurationVar(&o.p99, "p99", 25*time.Millisecond, "the capacity search's p99 bound")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write gocua's CPU profile during the measurement at -rate to this `file`, where its goroutines wait to file.goroutines, its heap to file.heap and its memory counters to file.mem (gocua is then built with a profiling hook; not with -gocua)")
	fs.StringVar(&o.logs, "logs", "", "append the bots' logs to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	}
	for b := range strings.SplitSeq(bots, ",") {
		b = strings.TrimSpace(b)
		if b != "gocua" && b != "floor" {
			return o, fmt.Errorf("-bots: %q is not gocua or floor", b)
		}
		if slices.Contains(o.bots, b) {
			return o, fmt.Errorf("-bots: %s twice", b)
		}
		o.bots = append(o.bots, b)
	}
	for s := range strings.SplitSeq(steps, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || !(r > 0 && r <= 1e6) {
			return o, fmt.Errorf("-steps: %q is not a rate (above 0, at most 1000000)", s)
		}
		o.steps = append(o.steps, r)
	}
	switch arrivals {
	case "even":
	case "poisson":
		o.poisson = true
	default:
		return o, fmt.Errorf("-arrivals %q: use even or poisson", arrivals)
	}
	switch {
	case !(o.rate > 0 && o.rate <= 1e6):
		return o, fmt.Errorf("-rate %v: above 0, at most 1000000 updates a second", o.rate)
	case o.duration <= 0:
		return o, fmt.Errorf("-duration %v must be above 0", o.duration)
	case o.warmup < 0 || o.grace < 0:
		return o, errors.New("-warmup and -grace must not be negative")
	case o.maxInflight < 1:
		return o, fmt.Errorf("-max-inflight %d must be at least 1", o.maxInflight)
	case o.connections < 0:
		return o, fmt.Errorf("-connections %d must not be negative", o.connections)
	case o.p99 <= 0:
		return o, fmt.Errorf("-p99 %v must be above 0", o.p99)
	case o.cpuprofile != "" && o.gocua != "":
		return o, errors.New("-cpuprofile builds gocua with a profiling hook: leave -gocua unset")
	}
	top := slices.Max(append([]float64{o.rate}, o.steps...))
	if float64(o.chats) < top*perChatGap.Seconds() {
		return o, fmt.Errorf("-chats %d is too few for %v updates a second: each chat sends at most once a second, so at least %d (more leaves room for slow replies)",
			o.chats, top, int(top))
	}
	return o, nil
}
