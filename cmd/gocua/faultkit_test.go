package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store/storetest"
)

// The fault kit: what the fault tests (fault_test.go) share. Each test has
// a rig of its own — a private Redis and PostgreSQL it may stop, the fake
// Bot API behind a front that can turn slow or fail, and gocua child
// processes on fixed ports — and residents that talk to it as Telegram
// delivers: one chat's updates in sequence, each re-sent until it gets a 2xx.

// echoPrefix starts every reply of the echo flow (echoFlow) but its first.
const echoPrefix = "Bác vừa nói: "

// rig is one fault test's world.
type rig struct {
	t     *testing.T
	redis *storetest.RedisServer
	pg    *storetest.PostgresServer
	api   *telegramtest.Server
	front *apiFront
	env   map[string]string // every replica's environment
}

// newRig starts private servers and the fake Bot API.
func newRig(t *testing.T, ropts storetest.RedisOptions) *rig {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "echo.yaml"), []byte(echoFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, redis: storetest.StartRedis(t, ropts), pg: storetest.StartPostgres(t), api: telegramtest.New(t)}
	r.front = newAPIFront(t, r.api.URL())
	r.env = map[string]string{
		"GOCUA_REDIS_URL":               r.redis.URL(0),
		"GOCUA_DATABASE_URL":            r.pg.URL(),
		"GOCUA_FLOWS_DIR":               dir,
		"GOCUA_TELEGRAM_TOKEN":          telegramtest.Token,
		"GOCUA_TELEGRAM_WEBHOOK_SECRET": testSecret,
		"GOCUA_TELEGRAM_API_URL":        r.front.URL(),
		"GOCUA_TELEGRAM_RATE":           "1000",
		"GOCUA_LOG_LEVEL":               "debug",
		// a restarted replica takes its own leases back at once; another
		// replica's lapse after 2 s; sweeps look every 100 ms
		"GOCUA_TEST_LEASE": "2s",
		"GOCUA_TEST_SWEEP": "100ms",
		"GOCUA_TEST_STALE": "300ms",
	}
	return r
}

// replica is one gocua replica: a name and a port kept across its restarts.
type replica struct {
	rig  *rig
	name string
	url  string
	env  map[string]string

	mu sync.Mutex
	c  *child
}

// replica starts a gocua child process named name.
func (r *rig) replica(name string, extra map[string]string) *replica {
	r.t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(storetest.FreePort(r.t))
	env := map[string]string{"GOCUA_HTTP_ADDR": addr, "GOCUA_TEST_REPLICA": name}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	p := &replica{rig: r, name: name, url: "http://" + addr, env: env}
	p.start()
	return p
}

// start runs the replica's process (again).
func (p *replica) start() {
	p.rig.t.Helper()
	c := startChild(p.rig.t, p.env)
	p.mu.Lock()
	p.c = c
	p.mu.Unlock()
}

// kill ends the replica's process with SIGKILL.
func (p *replica) kill() {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	c.kill()
}

// pid is the replica's current process id.
func (p *replica) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c.cmd.Process.Pid
}

// alive reports whether the replica's current process still runs.
func (p *replica) alive() bool {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// logs is what the current process logged.
func (p *replica) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c.logs.String()
}

// rss is the process's resident memory in bytes (VmRSS in /proc).
func (p *replica) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// metric is the value of one sample line of the replica's /metrics (0 when
// absent).
func (p *replica) metric(series string) (float64, error) {
	v, _, err := metricAt(faultClient, p.url, series)
	return v, err
}

// metricAt reads one sample line of the /metrics that the gocua at base
// serves: its value, and whether the line is there.
func metricAt(c *http.Client, base, series string) (v float64, found bool, err error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			v, err := strconv.ParseFloat(v, 64)
			return v, err == nil, err
		}
	}
	return 0, false, nil
}

// waitIdle waits until the replica's Telegram sender holds nothing.
func (p *replica) waitIdle(t *testing.T) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the sender to drain", func() bool {
		q, err := p.metric(`gocua_send_queue{channel="telegram"}`)
		return err == nil && q == 0
	})
}

// status is the answer to GET path (0 when there was none).
func (p *replica) status(path string) int {
	resp, err := faultClient.Get(p.url + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// faultClient posts as Telegram does, over kept-alive connections, and gives
// up on an answer after 30 s (Telegram waits about that long).
var faultClient = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256},
}

// postUpdate posts one webhook body; 0 means no answer (refused, reset, timed out).
func postUpdate(ctx context.Context, base string, body []byte) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhook/telegram", bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", testSecret)
	resp, err := faultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// answer is one webhook attempt's outcome.
type answer struct {
	code       int // 0: no answer
	sent, done time.Time
}

// tally counts webhook answers across residents.
type tally struct {
	mu      sync.Mutex
	answers []answer
}

func (t *tally) add(a answer) {
	t.mu.Lock()
	t.answers = append(t.answers, a)
	t.mu.Unlock()
}

// counts returns the 2xx, non-2xx and unanswered attempts.
func (t *tally) counts() (ok, failed, none int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.answers {
		switch {
		case a.code == 0:
			none++
		case a.code >= 200 && a.code < 300:
			ok++
		default:
			failed++
		}
	}
	return
}

// within returns the attempts sent at or after from and answered before to.
func (t *tally) within(from, to time.Time) []answer {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []answer
	for _, a := range t.answers {
		if !a.sent.Before(from) && a.done.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// firstOKAfter is when the first 2xx to an attempt sent after from came.
func (t *tally) firstOKAfter(from time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var first time.Time
	for _, a := range t.answers {
		if a.code >= 200 && a.code < 300 && !a.sent.Before(from) && (first.IsZero() || a.done.Before(first)) {
			first = a.done
		}
	}
	return first, !first.IsZero()
}

// resident is one Telegram chat in the echo flow. Its n-th message is
// "tin <n>", whose reply ends with it.
type resident struct {
	chat int64
	next int           // the next message's number
	ids  map[int]int64 // message number → update id
	acks map[int]bool  // message numbers that got a 2xx
	mu   sync.Mutex
}

func newResident() *resident {
	return &resident{chat: newChatID(), ids: map[int]int64{}, acks: map[int]bool{}}
}

// deliver posts update to one of targets (round robin over attempts) until
// it gets a 2xx, as Telegram re-delivers: pausing between attempts, and
// giving up only when ctx ends. It reports whether it was acknowledged.
func deliver(ctx context.Context, tl *tally, targets []string, update map[string]any) bool {
	body, err := json.Marshal(update)
	if err != nil {
		panic(err)
	}
	pause := 50 * time.Millisecond
	for i := 0; ; i++ {
		sent := time.Now()
		code := postUpdate(ctx, targets[i%len(targets)], body)
		if ctx.Err() != nil {
			return false
		}
		tl.add(answer{code: code, sent: sent, done: time.Now()})
		if code >= 200 && code < 300 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// enter brings the resident into the echo flow.
func (r *resident) enter(t *testing.T, ctx context.Context, tl *tally, base string) {
	t.Helper()
	if !deliver(ctx, tl, []string{base}, textUpdate(nextUpdateID(), r.chat, "thu tu")) {
		t.Fatalf("chat %d could not enter the echo flow", r.chat)
	}
}

// say sends the resident's next message to targets (tried in turn) until it
// is acknowledged.
func (r *resident) say(ctx context.Context, tl *tally, targets []string) bool {
	return r.sayEach(ctx, tl, targets)
}

// sayEach sends one copy of the resident's next message per list of
// targets, all at once, each until it is acknowledged (a proxy or a retry
// delivering the same update to several replicas).
func (r *resident) sayEach(ctx context.Context, tl *tally, copies ...[]string) bool {
	r.mu.Lock()
	n := r.next
	r.next++
	id := nextUpdateID()
	r.ids[n] = id
	r.mu.Unlock()
	update := textUpdate(id, r.chat, "tin "+strconv.Itoa(n))
	var acked atomic.Int32
	var wg sync.WaitGroup
	for _, targets := range copies {
		wg.Go(func() {
			if deliver(ctx, tl, targets, update) {
				acked.Add(1)
			}
		})
	}
	wg.Wait()
	ok := int(acked.Load()) == len(copies)
	r.mu.Lock()
	if ok {
		r.acks[n] = true
	}
	r.mu.Unlock()
	return ok
}

// load has residents talk at perSecond messages a second in all (each
// resident one message at a time) until ctx ends or each said max
// messages (0: no limit); targets picks where a resident's message goes.
func load(ctx context.Context, tl *tally, residents []*resident, perSecond float64, max int, targets func(r *resident, n int) []string) {
	lim := rate.NewLimiter(rate.Limit(perSecond), 1)
	var wg sync.WaitGroup
	for _, r := range residents {
		wg.Go(func() {
			for max == 0 || r.next < max {
				if lim.Wait(ctx) != nil {
					return
				}
				if !r.say(ctx, tl, targets(r, r.next)) {
					return
				}
			}
		})
	}
	wg.Wait()
}

// echoes is what the fake Bot API sent a resident: the message numbers its
// echo replies repeat, in order, and the other messages' texts.
func echoes(api *telegramtest.Server, chat int64) (nums []int, other []string) {
	for _, m := range sentTo(api, chat) {
		said, ok := strings.CutPrefix(m.Plain, echoPrefix+"tin ")
		if !ok {
			other = append(other, m.Plain)
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(said))
		if err != nil {
			other = append(other, m.Plain)
			continue
		}
		nums = append(nums, n)
	}
	return nums, other
}

// audit is the delivery check of a set of residents.
type audit struct {
	acked, replies, duplicates, lost, unacked int
	outOfOrder                                []string
}

// check compares what each resident was sent with what it said: every
// acknowledged message's echo present (else lost), at most once (else
// duplicated), first copies in the order said.
func check(api *telegramtest.Server, residents []*resident) audit {
	var a audit
	for _, r := range residents {
		nums, _ := echoes(api, r.chat)
		r.mu.Lock()
		seen := map[int]int{}
		last := -1
		for _, n := range nums {
			seen[n]++
			if seen[n] > 1 {
				a.duplicates++
				continue
			}
			if n < last {
				a.outOfOrder = append(a.outOfOrder, fmt.Sprintf("chat %d: %d after %d (replies %v)", r.chat, n, last, nums))
			}
			last = n
		}
		a.replies += len(nums)
		for n := range r.next {
			switch {
			case r.acks[n] && seen[n] == 0:
				a.lost++
			case !r.acks[n]:
				a.unacked++
			}
		}
		a.acked += len(r.acks)
		r.mu.Unlock()
	}
	return a
}

// waitDelivered waits up to d until every acknowledged message of residents
// has its echo, then a little longer for late duplicates.
func waitDelivered(t *testing.T, api *telegramtest.Server, residents []*resident, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for check(api, residents).lost > 0 {
		if time.Now().After(deadline) {
			t.Errorf("after %v, %d acknowledged messages still have no reply", d, check(api, residents).lost)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // sweeps every 100 ms: anything sent twice shows by now
}

// inFlight counts the messages the fake Bot API already received that are
// still in the outboxes of the Redis at redisURL: handed to the platform,
// their removal not done — what a crash now may send again.
func inFlight(t *testing.T, api *telegramtest.Server, redisURL string) int {
	t.Helper()
	ctx := context.Background()
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	received := map[[2]string]int{}
	for _, m := range api.Sent() {
		received[[2]string{m.ChatID, m.Plain}]++
	}
	n := 0
	iter := c.Scan(ctx, 0, "gocua:{telegram:*}:o", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		chat := strings.TrimSuffix(strings.TrimPrefix(k, "gocua:{telegram:"), "}:o")
		items, err := c.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range items {
			var o bot.Outbound
			if err := json.Unmarshal([]byte(raw), &o); err != nil {
				t.Fatalf("outbox entry %q: %v", raw, err)
			}
			if received[[2]string{chat, plain(o.Text)}] > 0 {
				n++
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// apiFront stands between gocua and the fake Bot API and can make every
// call slow, or answer 500 to every call, for a while.
type apiFront struct {
	srv   *httptest.Server
	delay atomic.Int64 // nanoseconds each call waits before it is passed on
	fail  atomic.Bool  // answer 500 instead of passing calls on
	// failed counts the calls answered 500; inside the calls that are
	// being delayed now.
	failed, inside, peak atomic.Int64
}

func newAPIFront(t *testing.T, backend string) *apiFront {
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFront{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	done := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail.Load() {
			f.failed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
			return
		}
		if d := time.Duration(f.delay.Load()); d > 0 {
			n := f.inside.Add(1)
			for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
			}
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			case <-done:
			}
			f.inside.Add(-1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(done); f.srv.Close() })
	return f
}

func (f *apiFront) URL() string { return f.srv.URL }

// unrecorded lists, per resident, the acknowledged messages whose update
// has no flow event in PostgreSQL at dbURL: every answer of the echo flow
// enters its step again, so each acknowledged message has one, written
// before its 2xx — after its reply was committed, so a process that died
// or a PostgreSQL that failed in between must leave it to the re-delivery.
func unrecorded(t *testing.T, dbURL string, residents []*resident) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var missing []string
	for _, r := range residents {
		rows, err := conn.Query(ctx, `SELECT DISTINCT update_id FROM flow_events WHERE channel = 'telegram' AND external_id = $1`,
			strconv.FormatInt(r.chat, 10))
		if err != nil {
			t.Fatal(err)
		}
		have, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, id := range have {
			got[id] = true
		}
		r.mu.Lock()
		for n, id := range r.ids {
			if r.acks[n] && !got[strconv.FormatInt(id, 10)] {
				missing = append(missing, fmt.Sprintf("chat %d message %d (update %d)", r.chat, n, id))
			}
		}
		r.mu.Unlock()
	}
	return missing
}
