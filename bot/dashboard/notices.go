package dashboard

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
)

// notices keep what the desk answered a volunteer's web actions (their
// ChannelDashboard conversation's messages) until their next page shows
// it. They live in this process: a notice for a page served by another
// replica is not shown there, and what it says is on the page anyway (the
// ticket taken, the note saved).
type notices struct {
	mu  sync.Mutex
	by  map[int64][]notice
	max int
}

type notice struct {
	text string
	at   time.Time
}

// noticeTTL is how long a notice waits to be shown.
const noticeTTL = 2 * time.Minute

func newNotices() *notices { return &notices{by: map[int64][]notice{}, max: 5} }

func (n *notices) add(volunteer int64, text string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := append(n.by[volunteer], notice{text: text, at: now})
	if len(l) > n.max {
		l = l[len(l)-n.max:]
	}
	n.by[volunteer] = l
	// forget the stale ones of everyone, so the map cannot grow
	for id, l := range n.by {
		if len(l) > 0 && now.Sub(l[len(l)-1].at) > noticeTTL {
			delete(n.by, id)
		}
	}
}

// take returns and forgets a volunteer's recent notices, joined.
func (n *notices) take(volunteer int64, now time.Time) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var texts []string
	for _, x := range n.by[volunteer] {
		if now.Sub(x.at) <= noticeTTL {
			texts = append(texts, x.text)
		}
	}
	delete(n.by, volunteer)
	return strings.Join(texts, "\n")
}

// Deliver implements bot.Deliverer for bot.ChannelDashboard: a message of
// the desk to a volunteer's web conversation becomes a notice.
func (s *Server) Deliver(_ context.Context, out bot.Outbound) error {
	id, err := strconv.ParseInt(out.Key.ChatID, 10, 64)
	if err != nil || out.Key.Channel != bot.ChannelDashboard {
		return bot.ErrRejected
	}
	if strings.TrimSpace(out.Text) != "" {
		s.notices.add(id, out.Text, s.cfg.Now())
		s.live.poke("notice:" + out.Key.ChatID)
	}
	return nil
}

// Limits are the web conversation's: no platform limits.
func (s *Server) Limits() bot.Limits { return bot.Limits{MaxText: 8000, MaxCallbackData: 64} }
