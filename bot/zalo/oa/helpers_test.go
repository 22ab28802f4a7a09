package oa

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

// fakeInbox is an in-memory at-least-once queue like the Redis stream: an
// entry handed out and not acknowledged within idle is handed out again
// with Tries+1 (idle stands for minIdle, shortened for tests; the minIdle
// Run asks for is recorded).
type fakeInbox struct {
	idle time.Duration

	mu      sync.Mutex
	seq     int
	entries []*fakeEntry
	addErr  error
	readErr int // the next reads that fail
	reads   []readArgs
	acks    []string
	notify  chan struct{}
}

type fakeEntry struct {
	id     string
	data   []byte
	tries  int
	handed time.Time
	acked  bool
}

type readArgs struct {
	ch             bot.Channel
	consumer       string
	n              int
	block, minIdle time.Duration
}

func newInbox() *fakeInbox {
	return &fakeInbox{idle: 150 * time.Millisecond, notify: make(chan struct{})}
}

func (f *fakeInbox) InboxAdd(ctx context.Context, ch bot.Channel, data []byte) error {
	if ch != bot.ChannelZaloOA {
		return fmt.Errorf("inbox for %q", ch)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return f.addErr
	}
	f.putLocked(data, 0)
	return nil
}

// put queues data as if it had been handed out tries times already.
func (f *fakeInbox) put(data []byte, tries int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.putLocked(data, tries)
}

func (f *fakeInbox) putLocked(data []byte, tries int) string {
	f.seq++
	e := &fakeEntry{id: fmt.Sprintf("1700000000000-%d", f.seq), data: slices.Clone(data), tries: tries}
	if tries > 0 {
		e.handed = time.Now().Add(-time.Hour)
	}
	f.entries = append(f.entries, e)
	close(f.notify)
	f.notify = make(chan struct{})
	return e.id
}

func (f *fakeInbox) InboxRead(ctx context.Context, ch bot.Channel, consumer string, n int, block, minIdle time.Duration) ([]bot.InboxEntry, error) {
	f.mu.Lock()
	f.reads = append(f.reads, readArgs{ch, consumer, n, block, minIdle})
	if f.readErr > 0 {
		f.readErr--
		f.mu.Unlock()
		return nil, fmt.Errorf("redis: connection refused")
	}
	f.mu.Unlock()
	deadline := time.Now().Add(block)
	for {
		f.mu.Lock()
		now := time.Now()
		var out []bot.InboxEntry
		for _, e := range f.entries {
			if e.acked || !e.handed.IsZero() && now.Sub(e.handed) < f.idle {
				continue
			}
			e.tries++
			e.handed = now
			out = append(out, bot.InboxEntry{ID: e.id, Data: slices.Clone(e.data), Tries: e.tries})
			if len(out) == n {
				break
			}
		}
		wake := f.notify
		f.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		if !now.Before(deadline) {
			return nil, nil
		}
		t := time.NewTimer(min(deadline.Sub(now), 10*time.Millisecond))
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

func (f *fakeInbox) InboxAck(ctx context.Context, ch bot.Channel, ids ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.acks = append(f.acks, id)
		for _, e := range f.entries {
			if e.id == id {
				e.acked = true
			}
		}
	}
	return nil
}

// queued returns the data of the entries not acknowledged, in order.
func (f *fakeInbox) queued() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]byte
	for _, e := range f.entries {
		if !e.acked {
			out = append(out, e.data)
		}
	}
	return out
}

func (f *fakeInbox) all() []*fakeEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*fakeEntry, len(f.entries))
	for i, e := range f.entries {
		c := *e
		out[i] = &c
	}
	return out
}

func (f *fakeInbox) pending() int { return len(f.queued()) }

// fakeOwn records own messages and sends in progress, and the order of the
// calls ("sending 42 true", "own 42 <id>", "sending 42 false").
type fakeOwn struct {
	mu      sync.Mutex
	own     map[string]bool
	sending map[string]bool
	calls   []string
	err     error
}

func newOwn() *fakeOwn { return &fakeOwn{own: map[string]bool{}, sending: map[string]bool{}} }

func (o *fakeOwn) Sending(ctx context.Context, key bot.ConvKey, on bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.sending[key.ChatID] = on
	o.calls = append(o.calls, fmt.Sprintf("sending %s %v", key.ChatID, on))
	return nil
}

func (o *fakeOwn) MarkOwn(ctx context.Context, key bot.ConvKey, msgID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.own[key.ChatID+"/"+msgID] = true
	o.calls = append(o.calls, "own "+key.ChatID+" "+msgID)
	return nil
}

func (o *fakeOwn) Own(ctx context.Context, key bot.ConvKey, msgID string) (bool, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return false, false, o.err
	}
	return o.own[key.ChatID+"/"+msgID], o.sending[key.ChatID], nil
}

func (o *fakeOwn) log() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.calls)
}

// fakeTokens is the durable token store: LockToken really holds a lock
// shared by every adapter using it while fn runs.
type fakeTokens struct {
	row sync.Mutex // the row lock

	mu    sync.Mutex
	m     map[string]bot.Token
	locks int
	seen  []string // every token value stored, to check the logs
}

func newTokens() *fakeTokens { return &fakeTokens{m: map[string]bot.Token{}} }

func (f *fakeTokens) Token(ctx context.Context, name string) (bot.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.m[name]
	if !ok {
		return bot.Token{}, bot.ErrNoToken
	}
	return t, nil
}

func (f *fakeTokens) SeedToken(ctx context.Context, name string, seed bot.Token) (bot.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t, ok := f.m[name]; ok && t.Seed == seed.Seed {
		return t, nil
	}
	f.storeLocked(name, seed)
	return seed, nil
}

func (f *fakeTokens) LockToken(ctx context.Context, name string, fn func(cur bot.Token) (bot.Token, bool, error)) (bot.Token, error) {
	f.row.Lock()
	defer f.row.Unlock()
	f.mu.Lock()
	f.locks++
	cur := f.m[name]
	f.mu.Unlock()
	next, save, err := fn(cur)
	if err != nil {
		return bot.Token{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if save {
		f.storeLocked(name, next)
	}
	return f.m[name], nil
}

func (f *fakeTokens) storeLocked(name string, t bot.Token) {
	f.m[name] = t
	f.seen = append(f.seen, t.Access, t.Refresh)
}

func (f *fakeTokens) get(name string) bot.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[name]
}

func (f *fakeTokens) values() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen)
}

func (f *fakeTokens) lockCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.locks
}

// recorder is a fake core recording what it is handed.
type recorder struct {
	mu        sync.Mutex
	in        []bot.Inbound
	errs      map[string][]error // update id → errors to return, one per call
	panicking map[string]bool
	delay     time.Duration
	active    int
	maxActive int
	ctxErr    []error
	deadlines []time.Duration
	changed   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{errs: map[string][]error{}, panicking: map[string]bool{}, changed: make(chan struct{})}
}

func (r *recorder) Handle(ctx context.Context, in bot.Inbound) error {
	r.mu.Lock()
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	delay := r.delay
	r.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.active--
	if r.panicking[in.UpdateID] {
		delete(r.panicking, in.UpdateID)
		panic("core exploded")
	}
	r.in = append(r.in, in)
	r.ctxErr = append(r.ctxErr, ctx.Err())
	if d, ok := ctx.Deadline(); ok {
		r.deadlines = append(r.deadlines, time.Until(d))
	}
	close(r.changed)
	r.changed = make(chan struct{})
	if errs := r.errs[in.UpdateID]; len(errs) > 0 {
		r.errs[in.UpdateID] = errs[1:]
		return errs[0]
	}
	return nil
}

// failNext makes the next Handle calls for updateID return errs.
func (r *recorder) failNext(updateID string, errs ...error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs[updateID] = append(r.errs[updateID], errs...)
}

func (r *recorder) got() []bot.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.in)
}

// wait waits until Handle was called n times in all.
func (r *recorder) wait(t *testing.T, n int) []bot.Inbound {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		if len(r.in) >= n {
			out := slices.Clone(r.in)
			r.mu.Unlock()
			return out
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("Handle called %d times, want %d: %+v", len(r.got()), n, r.got())
		}
	}
}

// texts is a locale that names its keys.
type texts struct{}

func (texts) Text(lang, key string, _ map[string]string) string { return "[" + lang + ":" + key + "]" }

// safeBuffer is a log sink safe for concurrent writes.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clock is a settable time for the adapter (webhook ages, token expiry).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	a      *Adapter
	api    *oatest.Server
	inbox  *fakeInbox
	tokens *fakeTokens
	own    *fakeOwn
	rec    *recorder
	logs   *safeBuffer
	clock  *clock
}

// newFixture builds an adapter on a fake OA platform with in-memory ports
// and a recording core; cfg changes its Config. At the end of the test it
// checks that the logs never held a secret, a token, or any of private.
func newFixture(t *testing.T, cfg func(*Config), private []string, opts ...Option) *fixture {
	t.Helper()
	api := oatest.New(t)
	f := &fixture{
		api: api, inbox: newInbox(), tokens: newTokens(), own: newOwn(), rec: newRecorder(),
		logs: &safeBuffer{}, clock: &clock{t: time.Now().Truncate(time.Millisecond)},
	}
	f.a = f.adapter(t, cfg, opts...)
	t.Cleanup(func() {
		out := f.logs.String()
		for _, s := range append(append(private, oatest.AppSecret, oatest.SecretKey, oatest.RefreshToken), f.tokens.values()...) {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("logs contain %q:\n%s", s, out)
			}
		}
	})
	return f
}

// adapter builds another adapter (a replica) on the fixture's platform
// and ports.
func (f *fixture) adapter(t *testing.T, cfg func(*Config), opts ...Option) *Adapter {
	t.Helper()
	c := Config{
		AppID: oatest.AppID, AppSecret: oatest.AppSecret, SecretKey: oatest.SecretKey,
		RefreshToken: oatest.RefreshToken, APIURL: f.api.URL(), OAuthURL: f.api.URL(),
		HandleTimeout: 3 * time.Second, Workers: 4, AllowPrivateMedia: true,
	}
	if cfg != nil {
		cfg(&c)
	}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(c, f.rec, f.inbox, f.tokens, f.own, texts{}, log,
		append([]Option{WithClock(f.clock.Now), WithConsumer("replica-1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	a.echoPoll, a.echoWait = 10*time.Millisecond, 300*time.Millisecond
	return a
}

// post signs and posts body to the webhook and returns the status.
func (f *fixture) post(t *testing.T, body []byte) int {
	t.Helper()
	return oatest.Post(t, f.a, body)
}

// postRaw posts body with the signature header sig ("" for none).
func (f *fixture) postRaw(body []byte, sig string) int {
	req := httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	f.a.ServeHTTP(w, req)
	return w.Code
}

// run starts the inbox worker; it is stopped (and waited for) at the end
// of the test.
func (f *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.a.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
		}
	})
}

// queuedInbounds decodes what the webhook queued.
func (f *fixture) queuedInbounds(t *testing.T) [][]bot.Inbound {
	t.Helper()
	var out [][]bot.Inbound
	for _, d := range f.inbox.queued() {
		ins, err := decodeEntry(d)
		if err != nil {
			t.Fatalf("queued entry: %v", err)
		}
		out = append(out, ins)
	}
	return out
}

func key(user string) bot.ConvKey { return bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user} }

func outbound(id, user, text string, buttons ...[]bot.Button) bot.Outbound {
	return bot.Outbound{ID: id, Key: key(user), Text: text, Buttons: buttons}
}

// entryData is an inbox entry for ins, as the webhook writes it.
func entryData(t *testing.T, ins ...bot.Inbound) []byte {
	t.Helper()
	b, err := encodeEntry(ins)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func textIn(user, id string, seq int64, text string) bot.Inbound {
	return bot.Inbound{Key: key(user), UpdateID: id, Seq: seq, Kind: bot.InText, Text: text, UserID: user, At: time.UnixMilli(seq)}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
