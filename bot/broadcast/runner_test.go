package broadcast

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// panicky is a Store whose schedule panics on its first look; the methods
// a tick does not reach are left to the embedded nil interface.
type panicky struct {
	Store
	looks atomic.Int64
}

func (p *panicky) Scheduled(context.Context) ([]Broadcast, error) {
	if p.looks.Add(1) == 1 {
		panic("a broken broadcast")
	}
	return nil, nil
}
func (p *panicky) Release(context.Context, string) (int, error)   { return 0, nil }
func (p *panicky) Rescue(context.Context, time.Time) (int, error) { return 0, nil }
func (p *panicky) Expire(context.Context, time.Time) (int, error) { return 0, nil }
func (p *panicky) FinishRuns(context.Context, time.Time) ([]Run, error) {
	return nil, nil
}

// TestRunnerSurvivesAPanic: a job that panics is logged and the schedule
// goes on looking (robfig/cron's runner would have crashed the process).
func TestRunnerSurvivesAPanic(t *testing.T) {
	st := &panicky{}
	r := New(Config{Owner: "test", Poll: 10 * time.Millisecond}, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r.Run(ctx)
	if n := st.looks.Load(); n < 3 {
		t.Fatalf("the schedule was looked at %d times after a panic, want it to go on", n)
	}
}
