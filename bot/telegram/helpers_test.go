package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
)

const secret = "s3cret_token-1"

// recorder is a fake core recording what it is handed.
type recorder struct {
	api *telegramtest.Server

	mu  sync.Mutex
	in  []bot.Inbound
	err error
	// answeredFirst: for each button tap, whether answerCallbackQuery had
	// already been called when Handle ran.
	answeredFirst []bool
	ctxErr        []error
	deadline      []time.Duration
	panicking     bool
}

func (r *recorder) Handle(ctx context.Context, in bot.Inbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.panicking {
		panic("core exploded")
	}
	if in.Kind == bot.InButton && r.api != nil {
		r.answeredFirst = append(r.answeredFirst, len(r.api.CallsTo("answerCallbackQuery")) > 0)
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
	a    *Adapter
	rec  *recorder
	api  *telegramtest.Server
	logs *safeBuffer
}

// newFixture builds an adapter on a fake Bot API with a recording core. At
// the end of the test it checks that the logs never held the secret or any of
// the private strings.
func newFixture(t *testing.T, private ...string) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, nil, private)
}

// newFixtureWith is newFixture with the adapter's Config changed by cfg and
// its Handler chosen by handler (given the recorder; nil: the recorder
// itself), plus extra options.
func newFixtureWith(t *testing.T, cfg func(*Config), handler func(*recorder) Handler, private []string, opts ...Option) *fixture {
	t.Helper()
	api := telegramtest.New(t)
	rec := &recorder{api: api}
	logs := &safeBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := Config{
		Token: api.Token(), WebhookSecret: secret, APIURL: api.URL(),
		PublicURL: "https://bot.example.gov.vn", HandleTimeout: 3 * time.Second,
	}
	if cfg != nil {
		cfg(&c)
	}
	var h Handler = rec
	if handler != nil {
		h = handler(rec)
	}
	a, err := New(c, h, log, append([]Option{WithClock(func() time.Time { return time.Unix(1700000500, 0) })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		out := logs.String()
		for _, s := range append(private, secret, api.Token()) {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("logs contain %q:\n%s", s, out)
			}
		}
	})
	return &fixture{a: a, rec: rec, api: api, logs: logs}
}

// post sends a webhook body with a secret ("" = no header) and returns the status.
func (f *fixture) post(body, sec string) int {
	return post(f.a, body, sec)
}

func post(a *Adapter, body, sec string) int {
	req := httptest.NewRequest(http.MethodPost, WebhookPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sec != "" {
		req.Header.Set(SecretHeader, sec)
	}
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	return w.Code
}

// js encodes v as JSON (for building updates with odd text safely).
func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi64(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
