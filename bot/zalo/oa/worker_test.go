package oa

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

func TestWorkerReadsTheInbox(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.run(t)
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "u1", 1, "chào")), 0)
	f.rec.wait(t, 1)
	f.inbox.mu.Lock()
	r := f.inbox.reads[0]
	f.inbox.mu.Unlock()
	if r != (readArgs{bot.ChannelZaloOA, "replica-1", 64, 2 * time.Second, 30 * time.Second}) {
		t.Fatalf("InboxRead%+v", r)
	}
	eventually(t, "the ack", func() bool { return f.inbox.pending() == 0 })
}

// One conversation's entries are handled one at a time in order; different
// conversations at once, at most Workers of them.
func TestWorkerOrderPerConversation(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.rec.delay = 20 * time.Millisecond
	const convs, per = 12, 4
	for i := range per {
		for c := range convs {
			user := oatest.UserID(c)
			f.inbox.put(entryData(t, textIn(user, fmt.Sprintf("%d-%d", c, i), int64(1000+i), "x")), 0)
		}
	}
	f.run(t)
	got := f.rec.wait(t, convs*per)
	byConv := map[string][]string{}
	for _, in := range got {
		byConv[in.Key.ChatID] = append(byConv[in.Key.ChatID], in.UpdateID)
	}
	for c := range convs {
		want := []string{fmt.Sprintf("%d-0", c), fmt.Sprintf("%d-1", c), fmt.Sprintf("%d-2", c), fmt.Sprintf("%d-3", c)}
		if got := byConv[oatest.UserID(c)]; !slices.Equal(got, want) {
			t.Fatalf("conversation %d handled %v, want %v", c, got, want)
		}
	}
	f.rec.mu.Lock()
	maxActive := f.rec.maxActive
	f.rec.mu.Unlock()
	if maxActive < 2 || maxActive > 4 {
		t.Fatalf("%d updates handled at once, want 2 to Workers (4)", maxActive)
	}
	eventually(t, "every ack", func() bool { return f.inbox.pending() == 0 })
}

// Within a conversation, entries go in the order their events were sent,
// even when Zalo's retry queued an older one after a newer one.
func TestWorkerOrdersBySendTime(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	f.inbox.put(entryData(t, textIn(user, "late", 3000, "c")), 0)
	f.inbox.put(entryData(t, textIn(user, "early", 1000, "a")), 0)
	f.inbox.put(entryData(t, textIn(user, "middle", 2000, "b")), 0)
	f.run(t)
	got := f.rec.wait(t, 3)
	if ids := []string{got[0].UpdateID, got[1].UpdateID, got[2].UpdateID}; !slices.Equal(ids, []string{"early", "middle", "late"}) {
		t.Fatalf("order %v", ids)
	}
}

// A failing Handle leaves its entry in the inbox; it is handed out again
// and its conversation's later entries wait for it.
func TestWorkerFailureLeavesEntryForRedelivery(t *testing.T) {
	f := newFixture(t, nil, nil)
	user, other := oatest.UserID(1), oatest.UserID(2)
	f.rec.failNext("a1", errors.New("redis: timeout"))
	id := f.inbox.put(entryData(t, textIn(user, "a1", 1000, "first")), 0)
	f.inbox.put(entryData(t, textIn(user, "a2", 2000, "second")), 0)
	f.inbox.put(entryData(t, textIn(other, "b1", 1500, "other")), 0)
	f.run(t)
	// a later entry of the blocked conversation, read before a1 comes back
	time.Sleep(20 * time.Millisecond)
	f.inbox.put(entryData(t, textIn(user, "a3", 3000, "third")), 0)
	got := f.rec.wait(t, 5)
	var mine []string
	for _, in := range got {
		if in.Key.ChatID == user {
			mine = append(mine, in.UpdateID)
		}
	}
	if !slices.Equal(mine, []string{"a1", "a1", "a2", "a3"}) {
		t.Fatalf("conversation handled %v, want a1 (failed), a1, a2, a3", mine)
	}
	if got[0].UpdateID != "a1" && got[0].UpdateID != "b1" {
		t.Fatalf("first handled %s", got[0].UpdateID)
	}
	eventually(t, "every ack", func() bool { return f.inbox.pending() == 0 })
	for _, e := range f.inbox.all() {
		if e.id == id && e.tries != 2 {
			t.Fatalf("failed entry handed out %d times, want 2", e.tries)
		}
	}
}

// An entry handed out 10 times is dropped (without trying it again) and
// logged with its id, so it cannot block its resident forever.
func TestWorkerDropsPoisonEntries(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	poison := f.inbox.put(entryData(t, textIn(user, "p1", 1000, "x")), 9)
	f.run(t)
	eventually(t, "the drop", func() bool { return f.inbox.pending() == 0 })
	if n := len(f.rec.got()); n != 0 {
		t.Fatalf("a poison entry was handled %d times", n)
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR","msg":"zalo oa inbox entry dropped: handed out too many times","entry":"`+poison+`"`) {
		t.Fatalf("drop not logged with the entry id:\n%s", f.logs.String())
	}
}

// An update the core always fails on is tried 9 times, then dropped, and
// the resident's next message gets through.
func TestWorkerGivesUpAfterTenTries(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.inbox.idle = 20 * time.Millisecond
	user := oatest.UserID(1)
	errs := make([]error, 20)
	for i := range errs {
		errs[i] = errors.New("core keeps failing")
	}
	f.rec.failNext("bad", errs...)
	f.inbox.put(entryData(t, textIn(user, "bad", 1000, "x")), 0)
	f.inbox.put(entryData(t, textIn(user, "next", 2000, "y")), 0)
	f.run(t)
	eventually(t, "the next message", func() bool {
		got := f.rec.got()
		return len(got) > 0 && got[len(got)-1].UpdateID == "next"
	})
	n := 0
	for _, in := range f.rec.got() {
		if in.UpdateID == "bad" {
			n++
		}
	}
	if n != maxTries-1 {
		t.Fatalf("failing update tried %d times, want %d", n, maxTries-1)
	}
	eventually(t, "every ack", func() bool { return f.inbox.pending() == 0 })
}

func TestWorkerDropsUndecodableEntries(t *testing.T) {
	f := newFixture(t, nil, nil)
	ids := []string{
		f.inbox.put([]byte(`not json`), 0),
		f.inbox.put([]byte(`{"v":99,"in":[{"c":"1","u":"x","k":"text"}]}`), 0),
		f.inbox.put([]byte(`{"v":1,"in":[]}`), 0),
		f.inbox.put([]byte(`{"v":1,"in":[{"c":"1","u":"x","k":"teleport"}]}`), 0),
		f.inbox.put([]byte(`{"v":1,"in":[{"c":"1","u":"x","k":"text"},{"c":"2","u":"y","k":"text"}]}`), 0),
	}
	f.run(t)
	eventually(t, "the drops", func() bool { return f.inbox.pending() == 0 })
	if len(f.rec.got()) != 0 {
		t.Fatal("undecodable entries reached the core")
	}
	for _, id := range ids {
		if !strings.Contains(f.logs.String(), `"msg":"zalo oa inbox entry dropped: cannot be decoded","entry":"`+id+`"`) {
			t.Fatalf("entry %s dropped silently:\n%s", id, f.logs.String())
		}
	}
}

// bot.ErrDuplicate means the core has it already: the entry is acknowledged.
func TestWorkerAcksDuplicates(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.rec.failNext("d1", fmt.Errorf("commit: %w", bot.ErrDuplicate))
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "d1", 1, "x")), 0)
	f.run(t)
	f.rec.wait(t, 1)
	eventually(t, "the ack", func() bool { return f.inbox.pending() == 0 })
	time.Sleep(3 * f.inbox.idle)
	if n := len(f.rec.got()); n != 1 {
		t.Fatalf("duplicate handled %d times", n)
	}
}

// A panic in the core is a failure like any other: logged, the entry
// handed out again.
func TestWorkerRecoversPanics(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.rec.panicking["x1"] = true
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "x1", 1, "x")), 0)
	f.run(t)
	f.rec.wait(t, 1)
	eventually(t, "the ack", func() bool { return f.inbox.pending() == 0 })
	if !strings.Contains(f.logs.String(), "handler panicked") {
		t.Fatalf("panic not logged:\n%s", f.logs.String())
	}
}

// Stopping Run does not cancel an update the core is handling: it
// finishes, is acknowledged, and Run returns after it.
func TestWorkerShutdownLetsHandleFinish(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.rec.delay = 300 * time.Millisecond
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "s1", 1, "x")), 0)
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "s2", 2, "y")), 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.a.Run(ctx)
	}()
	eventually(t, "the handling", func() bool {
		f.rec.mu.Lock()
		defer f.rec.mu.Unlock()
		return f.rec.active > 0
	})
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	got := f.rec.got()
	if len(got) != 1 || got[0].UpdateID != "s1" {
		t.Fatalf("handled %+v, want s1 only", got)
	}
	f.rec.mu.Lock()
	ctxErr, deadline := f.rec.ctxErr[0], f.rec.deadlines[0]
	f.rec.mu.Unlock()
	if ctxErr != nil {
		t.Fatalf("Handle's context ended: %v", ctxErr)
	}
	if deadline <= 2*time.Second || deadline > 3*time.Second {
		t.Fatalf("Handle's deadline in %s, want HandleTimeout (3 s)", deadline)
	}
	q := f.inbox.queued()
	if len(q) != 1 {
		t.Fatalf("%d entries left, want s2 only", len(q))
	}
}

func TestWorkerSurvivesInboxErrors(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.inbox.readErr = 1
	f.inbox.put(entryData(t, textIn(oatest.UserID(1), "r1", 1, "x")), 0)
	f.run(t)
	f.rec.wait(t, 1)
	if !strings.Contains(f.logs.String(), "zalo oa inbox read failed") {
		t.Fatalf("read failure not logged:\n%s", f.logs.String())
	}
}

// The echo of a message gocua sent is dropped; the resident's next message
// is handled.
func TestEchoOfOwnMessageIgnored(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	if err := f.a.Deliver(context.Background(), outbound("u0/0", user, "Chào Bác")); err != nil {
		t.Fatal(err)
	}
	sent := f.api.Sent(user)
	if len(sent) != 1 {
		t.Fatalf("sent %+v", sent)
	}
	f.a.recent.mu.Lock()
	f.a.recent.sent = nil // only the recorded message id tells
	f.a.recent.mu.Unlock()
	now := f.clock.Now()
	f.post(t, oatest.OAText(user, sent[0].MessageID, "Chào Bác", now))
	f.post(t, oatest.UserText(user, "m2", "cảm ơn", now.Add(time.Millisecond)))
	f.run(t)
	f.rec.wait(t, 1)
	eventually(t, "every ack", func() bool { return f.inbox.pending() == 0 })
	if got := f.rec.got(); len(got) != 1 || got[0].UpdateID != "m2" {
		t.Fatalf("handled %+v, want the resident's message only", got)
	}
}

// An echo whose message id was not recorded but whose text gocua just sent
// the resident is taken for gocua's own as well.
func TestEchoOfRecentTextIgnored(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	if err := f.a.Deliver(context.Background(), outbound("u0/0", user, "Bác chọn **một** mục")); err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	f.post(t, oatest.OAText(user, "unknown-id", "Bác chọn một mục", now))
	f.post(t, oatest.UserText(user, "m2", "cảm ơn", now.Add(time.Millisecond)))
	f.run(t)
	f.rec.wait(t, 1)
	eventually(t, "every ack", func() bool { return f.inbox.pending() == 0 })
	if got := f.rec.got(); len(got) != 1 || got[0].UpdateID != "m2" {
		t.Fatalf("handled %+v", got)
	}
}

// A message from OA Manager tells the core a person took over.
func TestEchoOfPersonIsTakeover(t *testing.T) {
	f := newFixture(t, nil, []string{"0912 345 678"})
	user := oatest.UserID(1)
	f.post(t, oatest.OAText(user, "human-1", "Chào Bác, tôi là cán bộ phường, số 0912 345 678", f.clock.Now()))
	f.run(t)
	got := f.rec.wait(t, 1)
	if got[0].Kind != bot.InTakeover || got[0].Text != "Chào Bác, tôi là cán bộ phường, số 0912 345 678" || got[0].Key != key(user) {
		t.Fatalf("got %+v", got[0])
	}
	if got[0].UserID != oatest.OAID {
		t.Fatalf("takeover from %q, want the OA", got[0].UserID)
	}
}

// While gocua is sending to the resident, an echo it does not know yet is
// judged once the send is done: its own when the send recorded its id.
func TestEchoWaitsWhileSending(t *testing.T) {
	f := newFixture(t, nil, nil)
	user := oatest.UserID(1)
	ctx := context.Background()
	if err := f.own.Sending(ctx, key(user), true); err != nil {
		t.Fatal(err)
	}
	f.post(t, oatest.OAText(user, "late-1", "một tin", f.clock.Now()))
	f.run(t)
	time.Sleep(100 * time.Millisecond) // the worker polls meanwhile
	if len(f.rec.got()) != 0 {
		t.Fatal("echo judged while the send was in progress")
	}
	_ = f.own.MarkOwn(ctx, key(user), "late-1")
	_ = f.own.Sending(ctx, key(user), false)
	eventually(t, "the ack", func() bool { return f.inbox.pending() == 0 })
	if len(f.rec.got()) != 0 {
		t.Fatal("own echo reached the core")
	}

	// a send that never records the id: after echoWait it is a person's
	_ = f.own.Sending(ctx, key(user), true)
	start := time.Now()
	f.post(t, oatest.OAText(user, "late-2", "người thật", f.clock.Now()))
	got := f.rec.wait(t, 1)
	if d := time.Since(start); d < f.a.echoWait {
		t.Fatalf("judged after %s, before echoWait (%s)", d, f.a.echoWait)
	}
	if got[0].Kind != bot.InTakeover || got[0].UpdateID != "late-2" {
		t.Fatalf("got %+v", got[0])
	}
}

// When the own-message store fails, the echo is left for later rather than
// guessed.
func TestEchoStoreFailureRetries(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.own.err = errors.New("redis down")
	user := oatest.UserID(1)
	f.post(t, oatest.OAText(user, "e1", "ai đó", f.clock.Now()))
	f.run(t)
	time.Sleep(3 * f.inbox.idle)
	if len(f.rec.got()) != 0 || f.inbox.pending() != 1 {
		t.Fatalf("echo judged without the store: %+v", f.rec.got())
	}
	f.own.mu.Lock()
	f.own.err = nil
	f.own.mu.Unlock()
	got := f.rec.wait(t, 1)
	if got[0].Kind != bot.InTakeover {
		t.Fatalf("got %+v", got[0])
	}
}
