package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// scrape fetches the exposition text through the handler.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d\n%s", resp.StatusCode, body)
	}
	return string(body)
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, "\n"+l+"\n") {
			t.Errorf("scrape lacks line %q", l)
		}
	}
}

func TestCountersMove(t *testing.T) {
	m := New()
	m.Update(bot.ChannelTelegram, "ok")
	m.Update(bot.ChannelTelegram, "ok")
	m.Update(bot.ChannelTelegram, "duplicate")
	m.Update(bot.ChannelWeb, "error")
	m.FlowEvents(bot.ChannelTelegram, []flows.Event{
		{Kind: flows.EventFlowStarted, Flow: "install_vneid", Step: "start"},
		{Kind: flows.EventStepEntered, Flow: "install_vneid", Step: "start"},
		{Kind: flows.EventStepEntered, Flow: "install_vneid", Step: "open_store"},
		{Kind: flows.EventFlowAbandoned, Flow: "install_vneid", Step: "open_store"},
		{Kind: flows.EventEscalated, Flow: "install_vneid", Step: "open_store"},
	})
	m.FlowEvents(bot.ChannelWeb, []flows.Event{{Kind: flows.EventStepEntered, Flow: "install_vneid", Step: "start"}})
	m.FlowEvents(bot.ChannelWeb, nil)
	m.Send(bot.ChannelTelegram, bot.LaneReply, "ok")
	m.Send(bot.ChannelTelegram, bot.LaneReply, "retry_after")
	m.Send(bot.ChannelTelegram, bot.LaneBulk, "gave_up")
	m.Queue(bot.ChannelTelegram, 7)
	m.Queue(bot.ChannelTelegram, 3)

	body := scrape(t, m)
	wantLines(t, body,
		`gocua_updates_total{channel="telegram",outcome="ok"} 2`,
		`gocua_updates_total{channel="telegram",outcome="duplicate"} 1`,
		`gocua_updates_total{channel="web",outcome="error"} 1`,
		`gocua_flow_events_total{channel="telegram",flow="install_vneid",kind="flow_started"} 1`,
		`gocua_flow_events_total{channel="telegram",flow="install_vneid",kind="step_entered"} 2`,
		`gocua_flow_events_total{channel="telegram",flow="install_vneid",kind="flow_abandoned"} 1`,
		`gocua_flow_events_total{channel="telegram",flow="install_vneid",kind="escalated"} 1`,
		`gocua_flow_events_total{channel="web",flow="install_vneid",kind="step_entered"} 1`,
		`gocua_flow_steps_total{flow="install_vneid",step="start"} 2`,
		`gocua_flow_steps_total{flow="install_vneid",step="open_store"} 1`,
		`gocua_escalations_total{channel="telegram",flow="install_vneid"} 1`,
		`gocua_sends_total{channel="telegram",lane="reply",outcome="ok"} 1`,
		`gocua_sends_total{channel="telegram",lane="reply",outcome="retry_after"} 1`,
		`gocua_sends_total{channel="telegram",lane="bulk",outcome="gave_up"} 1`,
		`gocua_send_queue{channel="telegram"} 3`,
	)
	// Steps are counted per flow, never per channel, to keep cardinality bounded.
	if strings.Contains(body, `gocua_flow_steps_total{channel=`) {
		t.Error("gocua_flow_steps_total carries a channel label")
	}
	// The standard collectors are there.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("scrape lacks %s", name)
		}
	}
	// Absent until a store is wired.
	if strings.Contains(body, "gocua_tickets_waiting") {
		t.Error("gocua_tickets_waiting reported before WaitingTickets was set")
	}

	m.Update(bot.ChannelTelegram, "ok")
	wantLines(t, scrape(t, m), `gocua_updates_total{channel="telegram",outcome="ok"} 3`)
}

func TestWaitingTickets(t *testing.T) {
	m := New()
	var n int64 = 4
	var gotDeadline bool
	m.WaitingTickets(func(ctx context.Context) (int64, error) {
		_, gotDeadline = ctx.Deadline()
		return n, nil
	})
	wantLines(t, scrape(t, m), `gocua_tickets_waiting 4`)
	if !gotDeadline {
		t.Error("the count function was called without a timeout")
	}
	n = 9
	wantLines(t, scrape(t, m), `gocua_tickets_waiting 9`)

	// A failing store leaves the gauge out but the rest of the scrape is served.
	m.WaitingTickets(func(context.Context) (int64, error) { return 0, errors.New("store down") })
	m.Update(bot.ChannelTelegram, "ok")
	body := scrape(t, m)
	if strings.Contains(body, "\ngocua_tickets_waiting ") {
		t.Error("gocua_tickets_waiting reported although the count failed")
	}
	wantLines(t, body, `gocua_updates_total{channel="telegram",outcome="ok"} 1`)
	// The failure is counted (and shows from the next scrape on).
	wantLines(t, scrape(t, m), `promhttp_metric_handler_errors_total{cause="gathering"} 1`)
}

func TestRegistriesAreSeparate(t *testing.T) {
	a, b := New(), New() // would panic on a shared (global) registry
	a.Update(bot.ChannelTelegram, "ok")
	if strings.Contains(scrape(t, b), `gocua_updates_total{`) {
		t.Error("an update counted on one Metrics shows on another")
	}
}

func TestChannelAuthorized(t *testing.T) {
	m := New()
	var ok atomic.Bool
	ok.Store(true)
	m.Authorized(bot.ChannelZaloOA, ok.Load)
	wantLines(t, scrape(t, m), `gocua_channel_authorized{channel="zalo-oa"} 1`)
	ok.Store(false)
	wantLines(t, scrape(t, m), `gocua_channel_authorized{channel="zalo-oa"} 0`)
}
