package bot

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/flows"
)

// outConvs is memConvs that keeps what each commit sent.
type outConvs struct {
	memConvs
	mu   sync.Mutex
	sent map[string][]Outbound // by update id
}

func (o *outConvs) Commit(ctx context.Context, c Conversation, id string, out []Outbound) (Committed, error) {
	res, err := o.memConvs.Commit(ctx, c, id, out)
	if err == nil {
		o.mu.Lock()
		o.sent[id] = out
		o.mu.Unlock()
	}
	return res, err
}

// TestTakeoverKeepsTheBotQuiet: once a person answered from outside gocua
// (Zalo OA Manager), the bot does not answer the resident's texts or photos
// until the quiet time ends; a command or a button brings it back at once.
func TestTakeoverKeepsTheBotQuiet(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	convs := &outConvs{memConvs: memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, sent: map[string][]Outbound{}}
	svc := NewService(Config{Now: func() time.Time { return now }, TakeoverQuiet: time.Hour}, set, convs, &recRecords{}, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	key := ConvKey{ChannelZaloOA, "246845883529197922"}
	n := 0
	send := func(in Inbound) []Outbound {
		t.Helper()
		n++
		in.Key, in.UpdateID, in.Seq, in.UserID = key, strconv.Itoa(n), int64(n), key.ChatID
		if err := svc.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		return convs.sent[in.UpdateID]
	}
	if out := send(Inbound{Kind: InText, Text: "cài vneid"}); len(out) == 0 {
		t.Fatal("before the takeover the bot answers")
	}
	if out := send(Inbound{Kind: InTakeover, Text: "Chào bác, em là cán bộ phường"}); len(out) != 0 {
		t.Fatalf("a takeover is not answered: %+v", out)
	}
	if out := send(Inbound{Kind: InText, Text: "vâng, cảm ơn cháu"}); len(out) != 0 {
		t.Fatalf("the bot spoke over the person: %q", out[0].Text)
	}
	if out := send(Inbound{Kind: InMedia, Media: &Media{Kind: MediaPhoto, Ref: "zalo-oa:https://f.zdn.vn/a.jpg"}}); len(out) != 0 {
		t.Fatalf("the bot answered a photo while a person talks: %q", out[0].Text)
	}
	// an OTP is still warned about: safety before silence
	if out := send(Inbound{Kind: InText, Text: "mã OTP của tôi là 482913"}); len(out) != 1 || !strings.Contains(out[0].Text, "OTP") {
		t.Fatalf("PII warning while quiet: %+v", out)
	}
	now = now.Add(61 * time.Minute)
	if out := send(Inbound{Kind: InText, Text: "menu"}); len(out) == 0 {
		t.Fatal("after the quiet time the bot answers again")
	}
	send(Inbound{Kind: InTakeover, Text: "em đây ạ"})
	if out := send(Inbound{Kind: InCommand, Command: "menu"}); len(out) == 0 {
		t.Fatal("a command ends the quiet at once")
	}
	if out := send(Inbound{Kind: InText, Text: "menu"}); len(out) == 0 {
		t.Fatal("after a command the quiet is over")
	}
}

// TestTakeoverIsNotTheResidentsInteraction: Zalo OA counts its 7 days
// from the resident's last message, so an agent's answer must not move the
// resident's last_seen; the resident's own message does.
func TestTakeoverIsNotTheResidentsInteraction(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	recs := &recRecords{}
	svc := NewService(Config{Now: func() time.Time { return now }}, set,
		&memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, recs, nil, slog.New(slog.DiscardHandler))
	defer svc.Close()
	key := ConvKey{ChannelZaloOA, "246845883529197922"}
	for i, in := range []Inbound{{Kind: InText, Text: "menu"}, {Kind: InTakeover, Text: "Chào Bác"}, {Kind: InText, Text: "vâng"}} {
		now = now.Add(10 * time.Minute) // past the minute the row is kept to
		in.Key, in.UpdateID, in.Seq = key, strconv.Itoa(i+1), int64(i+1)
		if err := svc.Handle(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	if len(recs.recs) != 3 || recs.recs[0].SkipResident || !recs.recs[1].SkipResident || recs.recs[2].SkipResident {
		t.Fatalf("records %+v: the agent's answer must leave the resident's row, the resident's messages refresh it", recs.recs)
	}
}

// TestProtectedUserOffersAPerson: Zalo withholds a protected user's
// message; the bot answers with a generic message and a way to a person,
// never as an error.
func TestProtectedUserOffersAPerson(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	convs := &outConvs{memConvs: memConvs{convs: map[ConvKey]Conversation{}, seen: map[string]bool{}}, sent: map[string][]Outbound{}}
	svc := NewService(Config{}, set, convs, &recRecords{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer svc.Close()
	in := Inbound{Key: ConvKey{ChannelZaloBot, "6ede9afa66b88fe6d6a9"}, UpdateID: "m1", Seq: 1, Kind: InProtected}
	if err := svc.Handle(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	out := convs.sent["m1"]
	if len(out) != 1 || out[0].Text != set.Text("vi", "protected", nil) {
		t.Fatalf("reply %+v", out)
	}
	var human bool
	for _, row := range out[0].Buttons {
		for _, b := range row {
			human = human || b.Data == "nav:human"
		}
	}
	if !human {
		t.Fatalf("no way to a person: %+v", out[0].Buttons)
	}
	if out[0].Lang != "vi" {
		t.Fatalf("reply language %q, want vi", out[0].Lang)
	}
}
