package bot

import (
	"fmt"
	"testing"
	"time"
)

// TestSenderHighRateStillPacesEachChat: lifting the channel's overall rate
// (GOCUA_TELEGRAM_RATE up to 1000000 for a self-hosted Bot API server or a
// load test) does not lift the per-chat pace: with Telegram's PerChat 1 and
// Burst 1, one chat's messages still leave at least a second apart among
// hundreds of other chats' messages, with the process's own pacing and with
// a shared pacer (which is asked with the chat's pace).
func TestSenderHighRateStillPacesEachChat(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pacer *fakePacer
	}{{"local", nil}, {"shared pacer", &fakePacer{}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &fakeDeliverer{}
			cfg := SenderConfig{Rate: 1e6, PerChat: 1, Burst: 1}
			if tc.pacer != nil {
				cfg.Pacer = tc.pacer
			}
			s := startSender(t, cfg, d, newMemOutbox(), nil)
			const others = 300
			for i := range 3 {
				s.Enqueue(msg("a", fmt.Sprintf("a/%d", i), "a"))
			}
			for i := range others {
				s.Enqueue(msg(fmt.Sprintf("c%d", i), fmt.Sprintf("c%d/0", i), "other"))
			}
			waitFor(t, 10*time.Second, func() bool { sent, _ := d.snapshot(); return len(sent) == 3+others })
			sent, at := d.snapshot()
			var chatA []time.Time
			for i, o := range sent {
				if o.Key.ChatID == "a" {
					chatA = append(chatA, at[i])
				}
			}
			for i := 1; i < len(chatA); i++ {
				if gap := chatA[i].Sub(chatA[i-1]); gap < 990*time.Millisecond {
					t.Errorf("chat a's messages %d and %d only %v apart at Rate 1e6; want 1 s (PerChat 1)", i-1, i, gap)
				}
			}
			if got := s.global.Limit(); got != 1e6 {
				t.Errorf("the channel's own limiter allows %v a second, want 1e6", got)
			}
			if p := tc.pacer; p != nil {
				p.mu.Lock()
				defer p.mu.Unlock()
				for _, c := range p.calls {
					if c.Rate != 1e6 || c.PerChat != 1 || c.ChatBurst != 1 {
						t.Fatalf("pacer asked with %+v, want Rate 1e6, PerChat 1, ChatBurst 1", c)
					}
				}
			}
		})
	}
}
