package bot

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/flows"
)

// memConvs is an in-memory Conversations port for core unit tests (the Redis
// implementation has its own tests against real servers in store).
type memConvs struct {
	mu     sync.Mutex
	convs  map[ConvKey]Conversation
	seen   map[string]bool
	marked map[string]UpdateRecord // the records commits kept with their markers
}

func (m *memConvs) Load(_ context.Context, key ConvKey, id string) (Conversation, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.convs[key]
	c.Key = key
	seen := m.seen[key.String()+"/"+id]
	if r, ok := m.marked[key.String()+"/"+id]; ok && seen {
		c.Record = &r
	}
	return c, seen, nil
}

func (m *memConvs) Commit(_ context.Context, c Conversation, id string, out []Outbound) (Committed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[c.Key.String()+"/"+id] {
		return Committed{}, ErrDuplicate
	}
	if m.convs[c.Key].Version != c.Version {
		return Committed{}, ErrConflict
	}
	if c.Record != nil {
		if m.marked == nil {
			m.marked = map[string]UpdateRecord{}
		}
		m.marked[c.Key.String()+"/"+id] = *c.Record
	}
	c.Version++
	c.Record = nil // not part of the state
	m.convs[c.Key] = c
	m.seen[c.Key.String()+"/"+id] = true
	return Committed{Version: c.Version, Leased: len(out) > 0}, nil
}

// recRecords records what the core asks the durable store to write.
type recRecords struct {
	mu   sync.Mutex
	recs []UpdateRecord
}

func (r *recRecords) Record(_ context.Context, u UpdateRecord) (RecordResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, u)
	return RecordResult{}, nil
}
func (r *recRecords) SetReachable(context.Context, ConvKey, bool, time.Time) error { return nil }
func (r *recRecords) CancelTicket(context.Context, int64, time.Time) error         { return nil }

// TestResidentRefreshedEveryMinuteWhileTalking: a resident who writes every
// 20 s has their durable row refreshed at most once a minute — but at least
// once a minute, not never.
func TestResidentRefreshedEveryMinuteWhileTalking(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	recs := &recRecords{}
	svc := NewService(Config{Now: func() time.Time { return now }}, set,
		&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, recs, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	key := ConvKey{ChannelTelegram, "1"}
	for i := range 10 { // 0 s … 180 s
		in := Inbound{Key: key, UpdateID: strconv.Itoa(i + 1), Seq: int64(i + 1), Kind: InText, Text: "menu", Name: "Lan"}
		if err := svc.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		now = now.Add(20 * time.Second)
	}
	var refreshed []int
	for i, r := range recs.recs {
		if !r.SkipResident {
			refreshed = append(refreshed, i)
		}
	}
	// first contact, then once the minute has passed: at 60 s, 120 s, 180 s
	if want := []int{0, 3, 6, 9}; !slices.Equal(refreshed, want) {
		t.Fatalf("resident refreshed at updates %v, want %v", refreshed, want)
	}
}

// blockingConvs holds every Load until released.
type blockingConvs struct {
	*memConvs
	entered chan struct{}
	release chan struct{}
}

func (b blockingConvs) Load(ctx context.Context, key ConvKey, id string) (Conversation, bool, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.memConvs.Load(ctx, key, id)
}

// Beyond MaxInFlight updates at once, Handle refuses at once with ErrBusy
// and does nothing (the platform delivers the update again); once the
// others finish, the same update is handled.
func TestServiceRefusesBeyondMaxInFlight(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	convs := blockingConvs{&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, make(chan struct{}, 8), make(chan struct{})}
	recs := &recRecords{}
	svc := NewService(Config{MaxInFlight: 2}, set, convs, recs, map[Channel]Enqueuer{ChannelTelegram: &recEnqueuer{}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(svc.Close)
	in := func(chat, id string) Inbound {
		return Inbound{Key: ConvKey{ChannelTelegram, chat}, UpdateID: id, Seq: 1, Kind: InCommand, Command: "start"}
	}
	done := make(chan error, 2)
	for i := range 2 {
		go func() { done <- svc.Handle(context.Background(), in(strconv.Itoa(i), "u"+strconv.Itoa(i))) }()
		<-convs.entered
	}
	if err := svc.Handle(context.Background(), in("9", "u9")); !errors.Is(err, ErrBusy) {
		t.Fatalf("third update in flight: %v, want ErrBusy", err)
	}
	close(convs.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Handle(context.Background(), in("9", "u9")); err != nil { // its Load fits in entered's buffer
		t.Fatalf("the refused update, delivered again: %v", err)
	}
	recs.mu.Lock()
	defer recs.mu.Unlock()
	if len(recs.recs) != 3 {
		t.Fatalf("%d updates recorded, want 3 (the refused one only once, when handled)", len(recs.recs))
	}
}
