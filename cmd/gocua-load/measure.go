package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// profileEnv names the file the profiling hook (profileHook) writes gocua's
// CPU profile to. Only a gocua built by this tool with -cpuprofile reads it.
const profileEnv = "GOCUA_LOAD_TOOL_CPUPROFILE"

// profileHook is compiled into gocua's main package (go build -overlay, the
// repository untouched) when -cpuprofile is set: the first SIGUSR1 starts the
// CPU profile, the second writes it; SIGUSR2 writes where every goroutine
// is (what the CPU profile cannot show: waiting) to <profile>.goroutines,
// what its heap holds to <profile>.heap and the runtime's memory counters
// (runtime.MemStats: live heap, GC goal, stacks) to <profile>.mem. gocua's
// own HTTP server gets no pprof endpoint.
const profileHook = `package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
)

func init() {
	path := os.Getenv("` + profileEnv + `")
	if path == "" {
		return
	}
	// one heap sample per 64 KiB allocated: the default, 512 KiB, leaves a
	// heap of gocua's size (about 15 MB) with a few dozen samples; at 8 KiB
	// recording the samples' stacks took 8 % of the CPU profile
	runtime.MemProfileRate = 64 << 10
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGUSR1)
	dump := make(chan os.Signal, 1)
	signal.Notify(dump, syscall.SIGUSR2)
	go func() {
		for range dump {
			if f, err := os.Create(path + ".goroutines"); err == nil {
				pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
			if f, err := os.Create(path + ".heap"); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if f, err := os.Create(path + ".mem"); err == nil {
				for _, v := range []struct {
					name string
					n    uint64
				}{
					{"HeapAlloc", m.HeapAlloc}, {"HeapInuse", m.HeapInuse}, {"HeapIdle", m.HeapIdle},
					{"HeapReleased", m.HeapReleased}, {"NextGC", m.NextGC}, {"StackInuse", m.StackInuse},
					{"GCSys", m.GCSys}, {"Sys", m.Sys}, {"NumGC", uint64(m.NumGC)},
					{"Goroutines", uint64(runtime.NumGoroutine())},
				} {
					fmt.Fprintf(f, "%-12s %d\n", v.name, v.n)
				}
				f.Close()
			}
		}
	}()
	go func() {
		<-ch
		f, err := os.Create(path)
		if err != nil {
			return
		}
		if pprof.StartCPUProfile(f) != nil {
			f.Close()
			return
		}
		<-ch
		pprof.StopCPUProfile()
		f.Close()
		os.WriteFile(path+".done", nil, 0o644)
	}()
}
`

// After each step the tool waits until the bot has sent nothing for
// drainQuiet (at most drainMax), so that no step starts with the previous
// one's backlog.
const (
	drainQuiet = 500 * time.Millisecond
	drainMax   = 2 * time.Minute
)

// stepResult is one measured stretch at one rate.
type stepResult struct {
	Rate                                 float64
	Elapsed                              time.Duration
	Sent, Replied                        int64
	Late, Busy, Dropped, Errors, Missing int64
	Posted                               int64 // updates posted in the warm-up and the measurement (Bot API calls are counted over both)
	P50, P99, Max                        time.Duration
	BotCPU, RedisCPU, PGCPU              time.Duration
	ServersMeasured                      bool // Redis and PostgreSQL CPU could be read
	// Drain is how long the bot went on sending after -grace (its backlog),
	// until it was quiet for drainQuiet; at most drainMax.
	Drain time.Duration
	Retry bool // a failed step's second try
}

// pass reports whether the step kept p99 within bound with every update
// posted and answered, and the load itself kept its schedule (at most 5 %
// of the posts more than lateAfter late: a busy machine's timers).
func (s stepResult) pass(bound time.Duration) bool {
	return s.Sent > 0 && s.P99 <= bound && s.Errors == 0 && s.Missing == 0 && s.Dropped == 0 && s.Busy == 0 &&
		s.Late*20 <= s.Sent && s.Replied == s.Sent
}

// perUpdate is d divided over the step's updates.
func (s stepResult) perUpdate(d time.Duration) time.Duration {
	if s.Sent == 0 {
		return 0
	}
	return d / time.Duration(s.Sent)
}

// botResult is everything measured of one bot.
type botResult struct {
	Name     string
	At       stepResult // at -rate
	PeakRSS  int64      // VmHWM after the warm-up and measurement at -rate, bytes
	Steps    []stepResult
	Capacity float64 // the highest passing step before the first failing one; 0: none passed
	AllPass  bool    // every step passed: the capacity is at least the last
	Calls    map[string]int64
	Profile  string
}

// report is one run.
type report struct {
	opts options
	bots []botResult
}

// child is a bot under test.
type child struct {
	cmd  *exec.Cmd
	base string // http://host:port
	done chan error
}

// measure runs every bot in turn and returns what was measured.
func measure(ctx context.Context, o options, log *slog.Logger) (*report, error) {
	tmp, err := os.MkdirTemp("", "gocua-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	admin, err := pgx.Connect(ctx, withoutPoolParams(o.postgresURL))
	if err != nil {
		return nil, fmt.Errorf("-postgres: %w", err)
	}
	defer admin.Close(context.Background())
	srv, err := findServers(ctx, rdb, admin)
	if err != nil {
		log.Warn("Redis and PostgreSQL CPU will not be measured", "err", err)
	}
	logs := io.Discard
	if o.logs != "" {
		f, err := os.OpenFile(o.logs, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("-logs: %w", err)
		}
		defer f.Close()
		logs = f
	}
	load, err := NewLoad(LoadConfig{Chats: o.chats, Poisson: o.poisson, MaxInflight: o.maxInflight, Connections: o.connections})
	if err != nil {
		return nil, err
	}
	defer load.Close()

	rep := &report{opts: o}
	for _, name := range o.bots {
		var res botResult
		var err error
		switch name {
		case "gocua":
			res, err = measureGocua(ctx, o, log, tmp, logs, load, srv, admin)
		case "floor":
			res, err = measureFloor(ctx, o, log, logs, load, srv)
		}
		for _, prefix := range []string{"gocua:", floorPrefix + ":"} {
			if cerr := deleteKeys(context.Background(), rdb, prefix); cerr != nil {
				log.Warn("redis keys left", "prefix", prefix, "err", cerr)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rep.bots = append(rep.bots, res)
	}
	return rep, nil
}

func measureGocua(ctx context.Context, o options, log *slog.Logger, tmp string, logs io.Writer, load *Load, srv *servers, admin *pgx.Conn) (botResult, error) {
	bin := o.gocua
	if bin == "" {
		var err error
		if bin, err = buildGocua(ctx, tmp, o.cpuprofile != ""); err != nil {
			return botResult{}, err
		}
	}
	db := "gocua_load_" + strconv.Itoa(os.Getpid())
	dbURL, err := createDatabase(ctx, admin, o.postgresURL, db)
	if err != nil {
		return botResult{}, err
	}
	defer func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)"); err != nil {
			log.Warn("database left", "db", db, "err", err)
		}
	}()
	addr, err := freeAddr()
	if err != nil {
		return botResult{}, err
	}
	env := []string{
		"GOCUA_HTTP_ADDR=" + addr,
		"GOCUA_TELEGRAM_TOKEN=" + botToken,
		"GOCUA_TELEGRAM_WEBHOOK_SECRET=" + webhookSecret,
		"GOCUA_TELEGRAM_API_URL=" + load.APIURL(),
		"GOCUA_TELEGRAM_RATE=1000000", // no overall limit: the fake Bot API is not Telegram's
		"GOCUA_REDIS_URL=" + o.redisURL,
		"GOCUA_DATABASE_URL=" + dbURL,
		"GOCUA_DATA_DIR=" + filepath.Join(tmp, "gocua-data"),
		"GOCUA_LOG_LEVEL=warn",
	}
	profile := ""
	if o.cpuprofile != "" {
		if profile, err = filepath.Abs(o.cpuprofile); err != nil {
			return botResult{}, err
		}
		env = append(env, profileEnv+"="+profile)
	}
	c, err := startChild(ctx, bin, nil, env, addr, logs)
	if err != nil {
		return botResult{}, fmt.Errorf("start %s: %w", bin, err)
	}
	defer c.stop()
	log.Info("measuring gocua", "binary", bin, "addr", addr, "db", db)
	res, err := measureBot(ctx, "gocua", o, load, c, srv, db, profile)
	res.Profile = profile
	return res, err
}

func measureFloor(ctx context.Context, o options, log *slog.Logger, logs io.Writer, load *Load, srv *servers) (botResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return botResult{}, err
	}
	addr, err := freeAddr()
	if err != nil {
		return botResult{}, err
	}
	c, err := startChild(ctx, exe, []string{"floor", "-addr", addr, "-redis", o.redisURL, "-api", load.APIURL(), "-prefix", floorPrefix}, nil, addr, logs)
	if err != nil {
		return botResult{}, fmt.Errorf("start the floor: %w", err)
	}
	defer c.stop()
	log.Info("measuring the floor", "addr", addr)
	return measureBot(ctx, "floor", o, load, c, srv, "", "")
}

// measureBot runs the measurement at -rate, then the capacity search.
func measureBot(ctx context.Context, name string, o options, load *Load, c *child, srv *servers, db, profile string) (botResult, error) {
	load.Target(c.base + "/webhook/telegram")
	res := botResult{Name: name}
	callsBefore := load.Calls()
	at, err := runStep(ctx, o, load, c, srv, db, o.rate, profile)
	if err != nil {
		return res, err
	}
	res.At = at
	res.Calls = map[string]int64{}
	for m, n := range load.Calls() {
		if d := n - callsBefore[m]; d > 0 {
			res.Calls[m] = d
		}
	}
	if res.PeakRSS, err = peakRSS(c.cmd.Process.Pid); err != nil {
		return res, err
	}
	res.AllPass = len(o.steps) > 0
	for _, r := range o.steps {
		s, err := runStep(ctx, o, load, c, srv, db, r, "")
		if err != nil {
			return res, err
		}
		res.Steps = append(res.Steps, s)
		if !s.pass(o.p99) {
			// once more: on a shared machine one stretch can fall on
			// someone else's burst
			if s, err = runStep(ctx, o, load, c, srv, db, r, ""); err != nil {
				return res, err
			}
			s.Retry = true
			res.Steps = append(res.Steps, s)
		}
		if !s.pass(o.p99) {
			res.AllPass = false
			break
		}
		res.Capacity = r
	}
	return res, ctx.Err()
}

// runStep is a warm-up and a measured stretch at rate, open loop from one
// into the other; CPU is sampled at the stretch's start and end.
func runStep(ctx context.Context, o options, load *Load, c *child, srv *servers, db string, rate float64, profile string) (stepResult, error) {
	pid := c.cmd.Process.Pid
	warm, ph := &phase{}, &phase{}
	load.Run(ctx, rate, o.warmup, warm)
	b0, err := readStat(pid)
	if err != nil {
		return stepResult{}, fmt.Errorf("bot process: %w", err)
	}
	var s0 cpuSample
	if srv != nil {
		if s0, err = srv.sample(ctx, db); err != nil {
			return stepResult{}, err
		}
	}
	if profile != "" {
		_ = c.cmd.Process.Signal(syscall.SIGUSR1)
	}
	start := time.Now()
	if profile != "" {
		t := time.AfterFunc(o.duration/2, func() { _ = c.cmd.Process.Signal(syscall.SIGUSR2) })
		defer t.Stop()
	}
	load.Run(ctx, rate, o.duration, ph)
	elapsed := time.Since(start)
	b1, err := readStat(pid)
	if err != nil {
		return stepResult{}, fmt.Errorf("bot process: %w", err)
	}
	res := stepResult{Rate: rate, Elapsed: elapsed, BotCPU: b1.cpu - b0.cpu}
	if srv != nil {
		s1, err := srv.sample(ctx, db)
		if err != nil {
			return stepResult{}, err
		}
		res.RedisCPU, res.PGCPU = s1.since(s0)
		res.ServersMeasured = true
	}
	if profile != "" {
		_ = c.cmd.Process.Signal(syscall.SIGUSR1)
		waitFile(ctx, profile+".done", 10*time.Second)
		_ = os.Remove(profile + ".done")
	}
	load.Settle(ctx, ph, o.grace)
	load.Settle(ctx, warm, 0)
	// the next step starts from an idle bot, not from this one's backlog
	res.Drain = load.Quiet(ctx, drainQuiet, drainMax)
	if ctx.Err() != nil {
		return stepResult{}, ctx.Err()
	}
	lat := ph.latencies()
	res.Sent, res.Replied = ph.sent.Load(), int64(len(lat))
	res.Posted = res.Sent + warm.sent.Load()
	res.Late, res.Busy, res.Dropped = ph.late.Load(), ph.busy.Load(), ph.dropped.Load()
	res.Errors, res.Missing = ph.errors.Load(), ph.missing.Load()
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	return res, nil
}

// buildGocua builds ./cmd/gocua into dir, with the profiling hook when
// profile is set.
func buildGocua(ctx context.Context, dir string, profile bool) (string, error) {
	const pkg = "github.com/gocua/gocua/cmd/gocua"
	bin := filepath.Join(dir, "gocua")
	args := []string{"build", "-o", bin}
	if profile {
		out, err := exec.CommandContext(ctx, "go", "list", "-f", "{{.Dir}}", pkg).Output()
		if err != nil {
			return "", fmt.Errorf("go list %s (run gocua-load from the repository, or give -gocua): %w", pkg, err)
		}
		hook := filepath.Join(dir, "loadprofile.go")
		if err := os.WriteFile(hook, []byte(profileHook), 0o644); err != nil {
			return "", err
		}
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(strings.TrimSpace(string(out)), "zz_gocua_load_profile.go"): hook,
		}})
		if err != nil {
			return "", err
		}
		ov := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ov, overlay, 0o644); err != nil {
			return "", err
		}
		args = append(args, "-overlay", ov)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s (run gocua-load from the repository, or give -gocua): %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// createDatabase creates a fresh database (dropping a leftover of the same
// name) and returns its URL.
func createDatabase(ctx context.Context, admin *pgx.Conn, adminURL, name string) (string, error) {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("-postgres: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// withoutPoolParams drops pgxpool's parameters (pool_max_conns, …) from a
// PostgreSQL URL: gocua's database URL keeps them, the tool's own single
// connection would send them to the server as settings.
func withoutPoolParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // pgx reports it
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// deleteKeys deletes the keys of the bots' Redis DB that start with prefix
// (gocua's default "gocua:", and the floor's).
func deleteKeys(ctx context.Context, rdb *redis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// startChild starts bin with args and, on top of this process's environment
// without its GOCUA_ variables, env; it waits until GET /readyz on addr
// answers 200. The child is killed if this process dies.
func startChild(ctx context.Context, bin string, args, env []string, addr string, logs io.Writer) (*child, error) {
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOCUA_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, base: "http://" + addr, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		select {
		case err := <-c.done:
			c.done <- err
			return nil, fmt.Errorf("exited before it was ready (%v); see -logs", err)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, errors.New("not ready after 2 minutes; see -logs")
		}
	}
}

// stop asks the child to end (SIGTERM), and kills it after 15 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// waitFile waits up to d for path to exist.
func waitFile(ctx context.Context, path string, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
