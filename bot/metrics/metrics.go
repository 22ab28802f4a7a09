// Package metrics exposes what the bot core observes in the Prometheus text
// format: updates by channel and outcome, flow events, escalations, delivery
// attempts, send queue lengths, the number of waiting tickets and broadcasts'
// progress and deliveries. Each Metrics
// owns its registry (never the global default one), so tests and several
// instances in one process do not collide.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// scrapeTimeout bounds the store queries made while answering a scrape.
const scrapeTimeout = time.Second

// Metrics implements bot.Metrics with Prometheus collectors.
type Metrics struct {
	reg         *prometheus.Registry
	updates     *prometheus.CounterVec
	flowEvents  *prometheus.CounterVec
	flowSteps   *prometheus.CounterVec
	escalations *prometheus.CounterVec
	sends       *prometheus.CounterVec
	queue       *prometheus.GaugeVec
	waiting     *waitingCollector
	deliveries  *prometheus.CounterVec
	settled     *prometheus.GaugeVec
	recipients  *prometheus.GaugeVec
	twins       prometheus.Counter
}

var _ bot.Metrics = (*Metrics)(nil)

// New builds the collectors and registers them, together with the standard Go
// runtime and process collectors, on a registry of its own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_updates_total",
			Help: "Inbound updates handled, by channel and outcome (ok, duplicate, error, ignored, busy: refused with 503 beyond the in-flight cap).",
		}, []string{"channel", "outcome"}),
		flowEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_flow_events_total",
			Help: "Flow events by channel, kind (step_entered, flow_started, flow_completed, flow_abandoned, escalated) and flow id.",
		}, []string{"channel", "kind", "flow"}),
		flowSteps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_flow_steps_total",
			Help: "Flow steps entered, by flow and step id: where residents go and where they stop.",
		}, []string{"flow", "step"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_escalations_total",
			Help: "Residents handed to a volunteer, by channel and the flow they were in.",
		}, []string{"channel", "flow"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_sends_total",
			Help: "Delivery attempts by channel, lane (reply, bulk) and outcome (ok, retry_after, unreachable, rejected, error, gave_up).",
		}, []string{"channel", "lane", "outcome"}),
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gocua_send_queue",
			Help: "Messages a channel's sender holds (queued or being sent).",
		}, []string{"channel"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gocua_broadcast_deliveries_total",
			Help: "Broadcast deliveries by channel and outcome (delivered, blocked, failed, skipped, retry).",
		}, []string{"channel", "outcome"}),
		settled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gocua_broadcast_settled",
			Help: "Deliveries of a broadcast's latest run that need nothing more (delivered, blocked, failed or skipped), by broadcast id.",
		}, []string{"broadcast"}),
		recipients: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gocua_broadcast_recipients",
			Help: "Deliveries of a broadcast's latest run (everyone its audience matched), by broadcast id.",
		}, []string{"broadcast"}),
		twins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gocua_replica_name_taken_total",
			Help: "Times this replica found another running process using its name (host name and GOCUA_HTTP_ADDR): the two take each other's outbox leases. Anything above 0 needs fixing.",
		}),
		waiting: &waitingCollector{desc: prometheus.NewDesc(
			"gocua_tickets_waiting",
			"Tickets waiting for a volunteer (the queue length), read from the store at scrape time.",
			nil, nil,
		)},
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.updates, m.flowEvents, m.flowSteps, m.escalations, m.sends, m.queue, m.waiting,
		m.deliveries, m.settled, m.recipients, m.twins,
	)
	return m
}

// NameTaken counts one sighting of another running process with this
// replica's name.
func (m *Metrics) NameTaken() { m.twins.Inc() }

// Delivery counts one broadcast delivery by outcome (broadcast.Metrics).
func (m *Metrics) Delivery(ch bot.Channel, outcome string) {
	m.deliveries.WithLabelValues(string(ch), outcome).Inc()
}

// Progress reports a broadcast's latest run (broadcast.Metrics).
func (m *Metrics) Progress(broadcast int64, settled, total int) {
	id := strconv.FormatInt(broadcast, 10)
	m.settled.WithLabelValues(id).Set(float64(settled))
	m.recipients.WithLabelValues(id).Set(float64(total))
}

// Registry returns the registry the metrics are registered on, for callers
// that add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format. A collector
// that fails (the store is down) is left out of that scrape and counted in
// promhttp_metric_handler_errors_total; the other metrics are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

// WaitingTickets makes gocua_tickets_waiting report what count returns at
// each scrape, called with a short timeout. Until it is set, the gauge is
// absent. A later call replaces the function.
func (m *Metrics) WaitingTickets(count func(ctx context.Context) (int64, error)) {
	m.waiting.count.Store(&count)
}

// Update counts one inbound update.
func (m *Metrics) Update(ch bot.Channel, outcome string) {
	m.updates.WithLabelValues(string(ch), outcome).Inc()
}

// FlowEvents counts flow events; step_entered also counts the step, and
// escalated also counts an escalation.
func (m *Metrics) FlowEvents(ch bot.Channel, events []flows.Event) {
	for _, e := range events {
		m.flowEvents.WithLabelValues(string(ch), string(e.Kind), e.Flow).Inc()
		switch e.Kind {
		case flows.EventStepEntered:
			m.flowSteps.WithLabelValues(e.Flow, e.Step).Inc()
		case flows.EventEscalated:
			m.escalations.WithLabelValues(string(ch), e.Flow).Inc()
		}
	}
}

// Send counts one delivery attempt.
func (m *Metrics) Send(ch bot.Channel, lane bot.Lane, outcome string) {
	m.sends.WithLabelValues(string(ch), laneName(lane), outcome).Inc()
}

// Queue reports how many messages a channel's sender holds.
func (m *Metrics) Queue(ch bot.Channel, n int) {
	m.queue.WithLabelValues(string(ch)).Set(float64(n))
}

func laneName(l bot.Lane) string {
	if l == bot.LaneBulk {
		return "bulk"
	}
	return "reply"
}

// waitingCollector asks the store for the queue length at scrape time.
type waitingCollector struct {
	desc  *prometheus.Desc
	count atomic.Pointer[func(context.Context) (int64, error)]
}

func (c *waitingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *waitingCollector) Collect(ch chan<- prometheus.Metric) {
	count := c.count.Load()
	if count == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := (*count)(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// Authorized makes gocua_channel_authorized{channel} report 1 while ok
// says the channel holds working credentials and 0 once they are lost (Zalo
// OA's refresh token refused: an OA admin must authorize gocua again).
// Alert on it being 0. Calling it twice for one channel panics.
func (m *Metrics) Authorized(ch bot.Channel, ok func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "gocua_channel_authorized",
		Help:        "1 while a channel's platform credentials work, 0 when a person must authorize gocua again (Zalo OA).",
		ConstLabels: prometheus.Labels{"channel": string(ch)},
	}, func() float64 {
		if ok() {
			return 1
		}
		return 0
	}))
}
