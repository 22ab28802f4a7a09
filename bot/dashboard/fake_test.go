package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/handoff"
)

// fakeStore is the dashboard's ports in memory, for handler tests (the
// durable stores are tested against real PostgreSQL and SQLite in store).
// Canned answers are set on its exported-looking fields.
type fakeStore struct {
	mu       sync.Mutex
	logins   map[string]Login
	used     map[string]bool
	sessions []Session
	vols     map[int64]handoff.Volunteer
	tickets  map[int64]handoff.Ticket
	lines    map[int64][]bot.TranscriptLine
	visits   []handoff.Visit
	stamp    int

	overview   Overview
	funnel     map[string][]FunnelStep // by version ("" : all)
	versions   []FlowVersion
	stats      []VolunteerStats
	broadcasts []broadcast.Broadcast
	count      broadcast.Count
	run        broadcast.Run
	report     broadcast.Report
	uploads    []bot.Upload

	queries []Query // what the pages asked for
	inbound []bot.Inbound
	ack     bot.Ack
	fail    error // every call fails with it when set
}

func newFakeStore() *fakeStore {
	return &fakeStore{logins: map[string]Login{}, used: map[string]bool{}, vols: map[int64]handoff.Volunteer{},
		tickets: map[int64]handoff.Ticket{}, lines: map[int64][]bot.TranscriptLine{}, funnel: map[string][]FunnelStep{}}
}

func (f *fakeStore) CreateLogin(_ context.Context, l Login) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logins[l.Hash] = l
	return f.fail
}

func (f *fakeStore) UseLogin(_ context.Context, hash string, now time.Time) (Login, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Login{}, f.fail
	}
	l, ok := f.logins[hash]
	if !ok || f.used[hash] || !now.Before(l.Expires) {
		return Login{}, ErrLinkRefused
	}
	f.used[hash] = true
	return l, nil
}

func (f *fakeStore) CreateSession(_ context.Context, s Session) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.ID = int64(len(f.sessions) + 1)
	f.sessions = append(f.sessions, s)
	return s, f.fail
}

func (f *fakeStore) Session(_ context.Context, hash string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Session{}, f.fail
	}
	for _, s := range f.sessions {
		if s.Hash == hash {
			return s, nil
		}
	}
	return Session{}, ErrNotFound
}

func (f *fakeStore) TouchSession(_ context.Context, id int64, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[id-1].Seen = now
	return nil
}

func (f *fakeStore) Sessions(_ context.Context, volunteer int64, now time.Time) ([]Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Session
	for _, s := range slices.Backward(f.sessions) {
		if (volunteer == 0 || s.Volunteer == volunteer) && s.Revoked.IsZero() && now.Before(s.Expires) {
			out = append(out, s)
		}
	}
	return out, f.fail
}

func (f *fakeStore) RevokeSession(_ context.Context, id, volunteer int64, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.sessions) || volunteer != 0 && f.sessions[id-1].Volunteer != volunteer {
		return ErrNotFound
	}
	f.sessions[id-1].Revoked = now
	return nil
}

func (f *fakeStore) ask(q Query) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
}

func (f *fakeStore) Overview(_ context.Context, q Query) (Overview, error) {
	f.ask(q)
	return f.overview, f.fail
}

func (f *fakeStore) Funnel(_ context.Context, q FunnelQuery) ([]FunnelStep, error) {
	f.ask(q.Query)
	return f.funnel[q.Version], f.fail
}

func (f *fakeStore) FlowVersions(context.Context, string, int) ([]FlowVersion, error) {
	return f.versions, f.fail
}

func (f *fakeStore) OpenTickets(_ context.Context, q Query, limit int) ([]TicketRow, error) {
	f.ask(q)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []TicketRow
	for _, t := range f.tickets {
		if t.Status.Open() && (q.Scope == nil || slices.Contains(q.Scope, t.Area)) {
			row := TicketRow{Ticket: t}
			if v, ok := f.vols[t.Volunteer]; ok {
				row.VolunteerName = v.Name
			}
			out = append(out, row)
		}
	}
	slices.SortFunc(out, func(a, b TicketRow) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out[:min(len(out), limit)], f.fail
}

func (f *fakeStore) QueueStamp(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.stamp), f.fail
}

func (f *fakeStore) TicketStamp(context.Context, int64) (string, error) {
	return f.QueueStamp(context.Background())
}

// touch changes the stamps (a ticket moved).
func (f *fakeStore) touch() {
	f.mu.Lock()
	f.stamp++
	f.mu.Unlock()
}

func (f *fakeStore) VolunteerStats(_ context.Context, q Query) ([]VolunteerStats, error) {
	f.ask(q)
	return f.stats, f.fail
}

func (f *fakeStore) SetCapacity(_ context.Context, id int64, capacity int, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vols[id]
	if !ok {
		return ErrNotFound
	}
	v.Capacity = capacity
	f.vols[id] = v
	return f.fail
}

func (f *fakeStore) AddVisit(_ context.Context, v handoff.Visit) (handoff.Visit, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.visits {
		if x.Source == v.Source {
			return x, false, nil
		}
	}
	v.ID = int64(len(f.visits) + 1)
	f.visits = append(f.visits, v)
	return v, true, f.fail
}

func (f *fakeStore) VisitsIn(_ context.Context, q Query, volunteer int64, limit int) ([]handoff.Visit, error) {
	f.ask(q)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []handoff.Visit
	for _, v := range slices.Backward(f.visits) {
		if (volunteer == 0 || v.Volunteer == volunteer) && (q.Scope == nil || slices.Contains(q.Scope, v.Area)) {
			out = append(out, v)
		}
	}
	return out[:min(len(out), limit)], f.fail
}

func (f *fakeStore) ExportTickets(ctx context.Context, q Query, fn func(TicketRow) error) error {
	rows, err := f.OpenTickets(ctx, q, 1<<30)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeStore) ExportVisits(ctx context.Context, q Query, fn func(handoff.Visit) error) error {
	vs, err := f.VisitsIn(ctx, q, 0, 1<<30)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

// Staff

func (f *fakeStore) VolunteerByID(_ context.Context, id int64) (handoff.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vols[id]
	if !ok {
		return v, handoff.ErrNotFound
	}
	return v, nil
}

func (f *fakeStore) Volunteers(context.Context) ([]handoff.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []handoff.Volunteer
	for _, v := range f.vols {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b handoff.Volunteer) int { return int(a.ID - b.ID) })
	return out, nil
}

func (f *fakeStore) Ticket(_ context.Context, id int64) (handoff.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tickets[id]
	if !ok {
		return t, handoff.ErrNotFound
	}
	return t, nil
}

func (f *fakeStore) Transcript(_ context.Context, id int64) ([]bot.TranscriptLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lines[id], nil
}

func (f *fakeStore) Audit(context.Context, int64) ([]handoff.AuditEntry, error) { return nil, nil }

// Core

func (f *fakeStore) HandleTap(_ context.Context, in bot.Inbound) (bot.Ack, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inbound = append(f.inbound, in)
	return f.ack, f.fail
}

// Broadcasts

func (f *fakeStore) CreateBroadcast(_ context.Context, b broadcast.Broadcast) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b.ID = int64(len(f.broadcasts) + 1)
	f.broadcasts = append(f.broadcasts, b)
	return b.ID, f.fail
}

func (f *fakeStore) Broadcast(_ context.Context, id int64) (broadcast.Broadcast, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.broadcasts) {
		return broadcast.Broadcast{}, broadcast.ErrNotFound
	}
	return f.broadcasts[id-1], nil
}

func (f *fakeStore) Broadcasts(_ context.Context, limit int) ([]broadcast.Broadcast, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.broadcasts)
	slices.Reverse(out)
	return out[:min(len(out), limit)], nil
}

func (f *fakeStore) SetState(_ context.Context, id int64, from []broadcast.State, to broadcast.State, _ bool, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id < 1 || int(id) > len(f.broadcasts) {
		return broadcast.ErrNotFound
	}
	if !slices.Contains(from, f.broadcasts[id-1].State) {
		return broadcast.ErrState
	}
	f.broadcasts[id-1].State = to
	return nil
}

func (f *fakeStore) CountAudience(context.Context, broadcast.Audience, broadcast.Rules, time.Time) (broadcast.Count, error) {
	return f.count, f.fail
}

func (f *fakeStore) LastRun(context.Context, int64) (broadcast.Run, error) {
	if f.run.ID == 0 {
		return f.run, broadcast.ErrNotFound
	}
	return f.run, nil
}

func (f *fakeStore) Report(context.Context, int64) (broadcast.Report, error) { return f.report, nil }

func (f *fakeStore) SaveUpload(_ context.Context, u bot.Upload) (bot.Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u.ID = fmt.Sprintf("up%d", len(f.uploads)+1)
	f.uploads = append(f.uploads, u)
	return u, f.fail
}

// Test server and clients.

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type testEnv struct {
	t   testing.TB
	st  *fakeStore
	srv *Server
	ts  *httptest.Server
	now time.Time
}

// Staff of the test server.
const (
	orgID   = 1 // organizer of every area
	volID   = 2 // volunteer of area "a1"
	vol2ID  = 3 // volunteer of area "a2"
	suspID  = 4 // suspended
	orgA1ID = 5 // organizer limited to "a1"
)

func newTestEnv(t testing.TB, cfg Config) *testEnv {
	t.Helper()
	st := newFakeStore()
	for _, v := range []handoff.Volunteer{
		{ID: orgID, Name: "Chị Lan", Role: handoff.RoleOrganizer, Status: handoff.Approved, Capacity: 3},
		{ID: volID, Name: "Anh Minh", Role: handoff.RoleVolunteer, Status: handoff.Approved, Areas: []string{"a1"}, Capacity: 3},
		{ID: vol2ID, Name: "Bạn Hà", Role: handoff.RoleVolunteer, Status: handoff.Approved, Areas: []string{"a2"}, Capacity: 3},
		{ID: suspID, Name: "Ông Tư", Role: handoff.RoleVolunteer, Status: handoff.Suspended, Capacity: 3},
		{ID: orgA1ID, Name: "Cô Mai", Role: handoff.RoleOrganizer, Status: handoff.Approved, Areas: []string{"a1"}, Capacity: 3},
	} {
		v.User = bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint(100 + v.ID)}
		v.Chat = v.User
		st.vols[v.ID] = v
	}
	e := &testEnv{t: t, st: st, now: testNow}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return e.now }
	}
	cfg.Poll = 20 * time.Millisecond
	if cfg.StatsTTL == 0 {
		cfg.StatsTTL = -1 // tests change the canned numbers between requests
	}
	srv, err := New(cfg, Deps{Store: st, Staff: st, Core: st, Broadcasts: st, Uploads: st},
		slog.New(slog.NewTextHandler(testLog(t), nil)))
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	mux := http.NewServeMux()
	mux.Handle(Prefix, srv)
	mux.Handle(strings.TrimSuffix(Prefix, "/"), srv)
	e.ts = httptest.NewServer(mux)
	t.Cleanup(e.ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Run(ctx)
	return e
}

// client is a browser signed in as a staff member.
type client struct {
	e    *testEnv
	http *http.Client
	csrf string
}

// anon is a browser with no session.
func (e *testEnv) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login signs a new browser in as volunteer id through a minted link.
func (e *testEnv) login(id int64) *client {
	e.t.Helper()
	c := e.anon()
	link, _, err := e.srv.MintLink(context.Background(), id, e.now)
	if err != nil {
		e.t.Fatal(err)
	}
	u, _ := url.Parse(link)
	res := c.post(Prefix+"login", url.Values{"t": {u.Query().Get("t")}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %d: %d %s", id, res.StatusCode, res.Body)
	}
	page := c.get(Prefix + "sessions")
	m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(page.Body)
	if m == nil {
		e.t.Fatalf("no csrf token on the page: %s", page.Body)
	}
	c.csrf = m[1]
	return c
}

type response struct {
	StatusCode int
	Header     http.Header
	Body       string
}

func (c *client) do(req *http.Request) response {
	c.e.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{StatusCode: res.StatusCode, Header: res.Header, Body: string(b)}
}

func (c *client) get(path string) response {
	req, _ := http.NewRequest(http.MethodGet, c.e.ts.URL+path, nil)
	return c.do(req)
}

// post sends a form with the session's CSRF token (when signed in).
func (c *client) post(path string, form url.Values) response {
	if form == nil {
		form = url.Values{}
	}
	if c.csrf != "" && !form.Has("csrf") {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// testLog is where the server logs: the test's log with -v, else nowhere.
func testLog(t testing.TB) io.Writer {
	if testing.Verbose() {
		return tWriter{t}
	}
	return io.Discard
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
