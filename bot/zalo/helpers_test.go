package zalo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/zalotest"
)

const secret = "zalo-webhook-s3cret"

// fakeTexts is the locale's menu words, in two languages.
type fakeTexts struct{}

func (fakeTexts) Text(lang, key string, vars map[string]string) string {
	var s string
	switch lang + "/" + key {
	case "vi/menu_reply":
		s = "👉 Bác trả lời {choices} để chọn."
	case "en/menu_reply":
		s = "👉 Reply {choices} to choose."
	case "vi/menu_or":
		s = "hoặc"
	case "en/menu_or":
		s = "or"
	case "vi/menu_range":
		s = "một số từ {first} đến {last}"
	case "en/menu_range":
		s = "a number from {first} to {last}"
	default:
		s = "[" + lang + "/" + key + "]"
	}
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return s
}

// recorder is a fake core recording what it is handed.
type recorder struct {
	mu        sync.Mutex
	in        []bot.Inbound
	err       error
	panicking bool
	ctxErr    []error
	deadline  []time.Duration
	block     chan struct{} // when set, Handle waits for it
}

func (r *recorder) Handle(ctx context.Context, in bot.Inbound) error {
	r.mu.Lock()
	block := r.block
	r.mu.Unlock()
	if block != nil {
		<-block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.panicking {
		panic("core exploded")
	}
	r.in = append(r.in, in)
	r.ctxErr = append(r.ctxErr, ctx.Err())
	if d, ok := ctx.Deadline(); ok {
		r.deadline = append(r.deadline, time.Until(d))
	}
	return r.err
}

func (r *recorder) got() []bot.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Inbound(nil), r.in...)
}

func (r *recorder) last(t *testing.T) bot.Inbound {
	t.Helper()
	got := r.got()
	if len(got) == 0 {
		t.Fatal("the core got nothing")
	}
	return got[len(got)-1]
}

func (r *recorder) set(err error, panicking bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err, r.panicking = err, panicking
}

// memMenus is Menus in memory.
type memMenus struct {
	mu   sync.Mutex
	m    map[bot.ConvKey]bot.Menu
	sets int
	err  error // returned by both methods when set
}

func (m *memMenus) SetMenu(_ context.Context, key bot.ConvKey, menu bot.Menu) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if m.m == nil {
		m.m = make(map[bot.ConvKey]bot.Menu)
	}
	m.m[key] = menu
	m.sets++
	return nil
}

func (m *memMenus) Menu(_ context.Context, key bot.ConvKey) (bot.Menu, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return bot.Menu{}, m.err
	}
	return m.m[key], nil
}

func (m *memMenus) get(key bot.ConvKey) bot.Menu {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[key]
}

func (m *memMenus) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

// memUploads is Uploads in memory, idempotent per Visitor and MsgID like
// store.Uploads.
type memUploads struct {
	mu    sync.Mutex
	byID  map[string]bot.Upload
	byKey map[string]string
	saves int // SaveUpload calls
	reads atomic.Int64
	err   error
}

func newUploads() *memUploads {
	return &memUploads{byID: map[string]bot.Upload{}, byKey: map[string]string{}}
}

func (u *memUploads) SaveUpload(_ context.Context, up bot.Upload) (bot.Upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.saves++
	if u.err != nil {
		return bot.Upload{}, u.err
	}
	if up.Visitor == "" || up.MsgID == "" || len(up.Visitor) > 200 || len(up.MsgID) > 200 || !bot.UploadMIME(up.MIME) ||
		len(up.Data) == 0 || len(up.Data) > bot.MaxUpload {
		return bot.Upload{}, errors.New("memUploads: refused like store.Uploads")
	}
	key := up.Visitor + "\x00" + up.MsgID
	if id, ok := u.byKey[key]; ok {
		got := u.byID[id]
		got.Data = nil
		return got, nil
	}
	up.ID = randomID()
	up.Size = int64(len(up.Data))
	up.Data = bytes.Clone(up.Data)
	u.byID[up.ID], u.byKey[key] = up, up.ID
	up.Data = nil
	return up, nil
}

func (u *memUploads) Upload(_ context.Context, id string) (bot.Upload, error) {
	u.reads.Add(1)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return bot.Upload{}, u.err
	}
	up, ok := u.byID[id]
	if !ok {
		return bot.Upload{}, bot.ErrNoUpload
	}
	up.Data = bytes.Clone(up.Data)
	return up, nil
}

// put stores an upload directly (a broadcast image, a web chat photo).
func (u *memUploads) put(visitor string, data []byte, mime string) bot.Upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	up := bot.Upload{ID: randomID(), Visitor: visitor, MsgID: randomID(), MIME: mime, Size: int64(len(data)), Data: data,
		Created: time.Unix(1750316131, 0)}
	u.byID[up.ID] = up
	return up
}

func (u *memUploads) remove(id string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.byID, id)
}

func (u *memUploads) all() []bot.Upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []bot.Upload
	for _, up := range u.byID {
		out = append(out, up)
	}
	return out
}

func (u *memUploads) count() (stored, saves int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.byID), u.saves
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fakeFetcher serves "telegram:<id>" files from memory.
type fakeFetcher struct {
	mu    sync.Mutex
	files map[string][]byte
	calls int
	err   error
}

func (f *fakeFetcher) FetchMedia(_ context.Context, ref string, max int64) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, 0, f.err
	}
	data, ok := f.files[ref]
	if !ok {
		return nil, 0, fmt.Errorf("fakeFetcher: no such file: %w", bot.ErrRejected)
	}
	if int64(len(data)) > max {
		return nil, 0, fmt.Errorf("fakeFetcher: too large: %w", bot.ErrRejected)
	}
	return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
}

func (f *fakeFetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

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

type fixture struct {
	a       *Adapter
	rec     *recorder
	api     *zalotest.Server
	menus   *memMenus
	uploads *memUploads
	fetcher *fakeFetcher
	logs    *safeBuffer
	media   *httptest.Server // serves MediaHandler: the PublicURL
	clock   *atomic.Int64    // the adapter's time, epoch milliseconds
}

// advance moves the adapter's clock on.
func (f *fixture) advance(d time.Duration) { f.clock.Add(d.Milliseconds()) }

// newFixture builds an adapter on a fake Bot API, with a recording core,
// menus, uploads and a Telegram fetcher in memory, and its media served at
// PublicURL. At the end of the test it checks that the logs never held the
// secret, the token or any of the private strings.
func newFixture(t *testing.T, private ...string) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, private)
}

// newFixtureWith is newFixture with the Config changed by cfg.
func newFixtureWith(t *testing.T, cfg func(*Config), private []string, opts ...Option) *fixture {
	t.Helper()
	api := zalotest.New(t)
	f := &fixture{
		rec: &recorder{}, api: api, menus: &memMenus{}, uploads: newUploads(),
		fetcher: &fakeFetcher{files: map[string][]byte{}}, logs: &safeBuffer{}, clock: &atomic.Int64{},
	}
	f.clock.Store(fixedNow)
	var current atomic.Pointer[Adapter]
	mux := http.NewServeMux()
	mux.Handle(MediaPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { current.Load().MediaHandler().ServeHTTP(w, r) }))
	f.media = httptest.NewServer(mux)
	t.Cleanup(f.media.Close)
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := Config{
		Token: api.Token(), WebhookSecret: secret, APIURL: api.URL(), PublicURL: f.media.URL,
		HandleTimeout: 3 * time.Second, AllowPrivateMedia: true,
	}
	if cfg != nil {
		cfg(&c)
	}
	opts = append([]Option{WithClock(func() time.Time { return time.UnixMilli(f.clock.Load()) }),
		WithUploads(f.uploads), WithFetcher(f.fetcher)}, opts...)
	a, err := New(c, f.rec, f.menus, fakeTexts{}, log, opts...)
	if err != nil {
		t.Fatal(err)
	}
	current.Store(a)
	f.a = a
	t.Cleanup(func() {
		out := f.logs.String()
		for _, s := range append(private, secret, api.Token(), strings.SplitN(api.Token(), ":", 2)[1]) {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("logs contain %q:\n%s", s, out)
			}
		}
	})
	return f
}

// fixedNow is the adapter's clock in tests, epoch milliseconds.
const fixedNow = 1750316200000

// post sends a webhook body with a secret ("" = no header) and returns the status.
func (f *fixture) post(body []byte, sec string) int {
	return zalotest.Post(f.a, WebhookPath, sec, body).Code
}

func (f *fixture) postString(body, sec string) int { return f.post([]byte(body), sec) }

const chatID = "6ede9afa66b88fe6d6a9"

var chatKey = bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chatID}

func outbound(text string, buttons ...[]bot.Button) bot.Outbound {
	return bot.Outbound{ID: "2d758cb5e222177a4e35/0", Key: chatKey, Text: text, Buttons: buttons}
}

// png is a tiny PNG that http.DetectContentType recognises.
var png = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"), bytes.Repeat([]byte{7}, 64)...)

// jpeg is a tiny JPEG header.
var jpeg = append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), bytes.Repeat([]byte{9}, 64)...)
