package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/store/storetest"
)

// The volunteer desk under load, through the real Main (real Redis and
// PostgreSQL, the fake Bot API). Knobs (environment):
//
//	GOCUA_BENCH_TICKETS     open tickets talking at once (relay, default 200)
//	GOCUA_BENCH_VOLUNTEERS  approved volunteers holding them / tapping (default 50 / 32)
//	GOCUA_BENCH_THINK       mean pause between one side's messages of a ticket, uniform in
//	                        [think/2, 3·think/2], talkers starting spread over one think
//	                        (default 0: flat out, every ticket sending again at once)
//	GOCUA_BENCH_WINDOW      the sequencer's reorder window (default 5 ms, as in production)
//	GOCUA_BENCH_WORKERS     send workers (default 16)
//	GOCUA_BENCH_REDIS_DB    Redis DB of the benchmark (default 15; see benchRedis)
//	GOCUA_BENCH_COUNT_SQL=1 count PostgreSQL round trips through a counting proxy
//	                        (adds a hop to every statement: latency figures of such a
//	                        run are not the ones to quote)
//
// Telegram's pacing is lifted in every desk benchmark: 1e6 messages/s in
// all, 1e6 per chat with a burst of 1000, so what is measured is the time
// gocua takes, not the time it waits to respect Telegram's limits (the
// sender tests cover those).

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// startDeskBench starts gocua with a volunteers' group and pacing lifted.
// With GOCUA_BENCH_COUNT_SQL=1 its PostgreSQL connections go through a
// proxy that counts round trips (the returned counter; nil otherwise).
func startDeskBench(b *testing.B, api *telegramtest.Server) (*harness, *pgCounter) {
	b.Helper()
	opts := []option{
		withEnv("GOCUA_TELEGRAM_VOLUNTEER_CHAT_ID", strconv.Itoa(volunteerGroup)),
		withEnv("GOCUA_LOG_LEVEL", "info"), // debug logs of every update would be part of the numbers
		withMain(func(m *Main) {
			m.TelegramRate, m.TelegramPerChat, m.TelegramBurst = 1e6, 1e6, 1000
			m.ReorderWindow = envDuration("GOCUA_BENCH_WINDOW", m.ReorderWindow)
			if n := envInt("GOCUA_BENCH_WORKERS", 0); n > 0 {
				m.SendWorkers = n
			}
		}),
	}
	opts = append(opts, withEnv("GOCUA_REDIS_URL", benchRedis(b)))
	var pg *pgCounter
	if os.Getenv("GOCUA_BENCH_COUNT_SQL") == "1" {
		var u string
		pg, u = countPostgres(b, testDB.url)
		opts = append(opts, withEnv("GOCUA_DATABASE_URL", u))
	}
	return start(b, api, opts...), pg
}

// benchRedis is the Redis URL of a desk benchmark: a DB of its own, not the
// tests' DB 12, which every run of this package's tests flushes at start and
// end — on a machine shared with other checkouts, another checkout's test
// run would wipe a benchmark's conversations half way (residents would lose
// their tickets). Its keys (this run's prefix) are deleted at cleanup.
func benchRedis(b *testing.B) string {
	u := storetest.RedisURL(envInt("GOCUA_BENCH_REDIS_DB", 15))
	prefix := testPrefix(b)
	b.Cleanup(func() {
		opts, err := redis.ParseURL(u)
		if err != nil {
			return
		}
		c := redis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 1000)
			c.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
	})
	return u
}

// approveVolunteers makes n approved volunteers straight in the store (the
// way one is approved through the bot is TestHandoffClaimRelayResolveRate's).
// Their private chat is their user id, as on Telegram.
func approveVolunteers(b *testing.B, h *harness, n, capacity int) []int64 {
	b.Helper()
	ctx := context.Background()
	d := h.main.DB.Desk()
	chats := make([]int64, n)
	for i := range chats {
		chats[i] = newChatID()
		u := key(chats[i])
		v, err := d.Apply(ctx, handoff.Volunteer{User: u, Chat: u, Name: fmt.Sprint("TNV ", i), Capacity: capacity}, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.SetStaff(ctx, v.ID, handoff.Approved, handoff.RoleVolunteer, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return chats
}

// openTickets has n residents ask for a volunteer through the real flows
// (/start, "talk to a person", the problem), 32 at a time, and returns
// their chats and tickets.
func openTickets(b *testing.B, h *harness, n int) (residents, tickets []int64) {
	b.Helper()
	residents, tickets = make([]int64, n), make([]int64, n)
	for i := range residents {
		residents[i] = newChatID()
	}
	send := func(u map[string]any) {
		if code := h.postJSON(u); code != http.StatusOK {
			b.Errorf("webhook answered %d during setup", code)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, r := range residents {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			send(textUpdate(nextUpdateID(), r, "/start"))
			send(buttonUpdate(nextUpdateID(), r, "nav:human"))
			send(buttonUpdate(nextUpdateID(), r, "in:t:vneid")) // the two questions before a ticket
			send(buttonUpdate(nextUpdateID(), r, "in:skip"))
			send(textUpdate(nextUpdateID(), r, "Em bấm quét NFC mà không được"))
			for range 100 {
				conv, _, err := h.main.Redis.Load(context.Background(), key(r), "")
				if err == nil && conv.Ticket != 0 {
					tickets[i] = conv.Ticket
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.Errorf("resident %d has no ticket", r)
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return residents, tickets
}

// groupTap is a volunteer's tap on "claim" under ticket id's card in the group.
func groupTap(updateID, volunteer, ticket int64) []byte {
	return []byte(telegramtest.Callback(updateID, volunteerGroup, volunteer, 1, "dk:claim:"+strconv.FormatInt(ticket, 10)))
}

// replyUpdate is a volunteer's text replying to the bot's message quoted
// (how a volunteer with several tickets says which resident it is for).
func replyUpdate(id, chat int64, text, quoted string) map[string]any {
	u := textUpdate(id, chat, text)
	u["message"].(map[string]any)["reply_to_message"] = map[string]any{
		"message_id": 1, "date": time.Now().Unix(),
		"chat": map[string]any{"id": chat, "type": "private"},
		"from": map[string]any{"id": telegramtest.BotID, "is_bot": true, "first_name": "gocua"},
		"text": quoted,
	}
	return u
}

var ticketTag = regexp.MustCompile(`#(\d+)`)

// BenchmarkHandoffRelay measures the relay between residents and their
// volunteers: T open tickets (each claimed from the group by one of N
// approved volunteers, N ≤ T, so a volunteer holds several and answers by
// replying to the resident's relayed message), every ticket one talker
// that sends and waits until the relayed message reaches the other side's
// chat at the fake Bot API. Latency is from the webhook POST to that
// sendMessage arriving (server-side: the load generator and the fake API are
// in-process). Sub-benchmarks: resident → volunteer, volunteer → resident.
func BenchmarkHandoffRelay(b *testing.B) {
	tickets := envInt("GOCUA_BENCH_TICKETS", 200)
	nvol := min(envInt("GOCUA_BENCH_VOLUNTEERS", 50), tickets)
	think := envDuration("GOCUA_BENCH_THINK", 0)

	api := telegramtest.New(b)
	h, pg := startDeskBench(b, api)
	if (tickets+nvol-1)/nvol > 50 {
		b.Fatalf("%d volunteers cannot hold %d tickets: at most 50 each", nvol, tickets)
	}
	vols := approveVolunteers(b, h, nvol, (tickets+nvol-1)/nvol)
	residents, ids := openTickets(b, h, tickets)

	// every ticket claimed from the group by its volunteer
	volOf := make(map[int64]int64, tickets)
	for i, id := range ids {
		volOf[id] = vols[i%nvol]
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			if code := h.post(groupTap(nextUpdateID(), volOf[id], id)); code != http.StatusOK {
				b.Errorf("claim answered %d", code)
			}
		})
	}
	wg.Wait()
	ctx := context.Background()
	for _, id := range ids {
		if tk, err := h.main.DB.Desk().Ticket(ctx, id); err != nil || tk.Status != handoff.Assigned {
			b.Fatalf("ticket %d after its claim: %s %v", id, tk.Status, err)
		}
	}
	h.settle()

	// where a relayed message arrives: a volunteer's chat gets "#<ticket>"
	// in it, a resident's chat is the ticket's
	arrived := make(map[int64]chan string, tickets) // by ticket
	byResident := make(map[string]int64, tickets)
	isVol := make(map[string]bool, nvol)
	for i, id := range ids {
		arrived[id] = make(chan string, 64)
		byResident[strconv.FormatInt(residents[i], 10)] = id
	}
	for _, v := range vols {
		isVol[strconv.FormatInt(v, 10)] = true
	}
	api.OnSend(func(m telegramtest.SentMessage) {
		id := byResident[m.ChatID]
		if isVol[m.ChatID] {
			if s := ticketTag.FindStringSubmatch(m.Plain); s != nil {
				id, _ = strconv.ParseInt(s[1], 10, 64)
			}
		}
		if c := arrived[id]; c != nil {
			select {
			case c <- m.Plain:
			default:
			}
		}
	})
	// the last relayed message each volunteer would reply to
	quoted := make(map[int64]string, tickets)
	for _, id := range ids {
		quoted[id] = "💬 #" + strconv.FormatInt(id, 10) + " · Lan:\nEm bấm quét NFC mà không được"
	}

	type talker struct {
		ticket, resident, volunteer int64
	}
	talkers := make([]talker, tickets)
	for i, id := range ids {
		talkers[i] = talker{id, residents[i], volOf[id]}
	}

	run := func(b *testing.B, fromResident bool) {
		for _, c := range arrived { // nothing left over from the claims or an earlier run
			for len(c) > 0 {
				<-c
			}
		}
		var rt redisCounter
		h.main.Redis.AddHook(&rt) // hooks stack: this run counts from here
		var mu sync.Mutex
		lat := make([]time.Duration, 0, b.N)
		next := make(chan int, b.N)
		for i := range b.N {
			next <- i
		}
		close(next)
		pg.reset()
		b.ReportAllocs()
		b.ResetTimer()
		began := time.Now()
		var wg sync.WaitGroup
		for _, tk := range talkers {
			wg.Go(func() {
				if think > 0 { // talkers start spread out, not all at once
					time.Sleep(rand.N(think))
				}
				for i := range next {
					var u map[string]any
					if fromResident {
						u = textUpdate(nextUpdateID(), tk.resident, "Chau bam tiep thi no bao loi lan "+strconv.Itoa(i))
					} else {
						u = replyUpdate(nextUpdateID(), tk.volunteer, "Bac bam vao nut Cai dat roi chon lan "+strconv.Itoa(i), quoted[tk.ticket])
					}
					body, _ := json.Marshal(u)
					t0 := time.Now()
					if code := h.post(body); code != http.StatusOK {
						b.Errorf("webhook answered %d", code)
						return
					}
					select {
					case got := <-arrived[tk.ticket]:
						if !strings.HasSuffix(strings.TrimSpace(got), "lan "+strconv.Itoa(i)) {
							st, err := h.main.DB.Desk().Ticket(ctx, tk.ticket)
							au, _ := h.main.DB.Desk().Audit(ctx, tk.ticket)
							conv, _, _ := h.main.Redis.Load(ctx, key(tk.resident), "")
							b.Errorf("ticket %d (%s %v, audit %+v, conv ticket %d v%d): got %q for message %d at %v", tk.ticket, st.Status, err, au, conv.Ticket, conv.Version, got, i, time.Since(began))
							return
						}
					case <-time.After(10 * time.Second):
						b.Errorf("ticket %d: nothing relayed within 10s", tk.ticket)
						return
					}
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
					if think > 0 { // think/2 to 3·think/2: a mean of think
						time.Sleep(think/2 + rand.N(think))
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(began)
		b.StopTimer()
		reportLatency(b, lat, elapsed, "updates/s")
		if len(lat) > 0 {
			b.ReportMetric(float64(rt.n.Load())/float64(len(lat)), "redis-rt/update")
			if pg != nil {
				b.ReportMetric(float64(pg.n.Load())/float64(len(lat)), "pg-rt/update")
			}
		}
	}
	b.Run("resident", func(b *testing.B) { run(b, true) })
	b.Run("volunteer", func(b *testing.B) { run(b, false) })
}

// BenchmarkHandoffClaim measures claims from the volunteers' group: b.N
// waiting tickets, N volunteers (GOCUA_BENCH_VOLUNTEERS) tapping "claim" at once, each tap a webhook
// update through the real core (every tap claims a ticket of its own).
// Reported: claims/s and the tap-to-answer time, from the POST to the fake
// Bot API receiving the tap's answerCallbackQuery. All taps of a group are
// one conversation, so they run one at a time (the sequencer); their update
// ids skip one, as they do when residents' updates come in between, so the
// sequencer's reorder window applies as in production.
func BenchmarkHandoffClaim(b *testing.B) {
	tappers := envInt("GOCUA_BENCH_VOLUNTEERS", 32)
	api := telegramtest.New(b)
	h, pg := startDeskBench(b, api)
	// a volunteer holds at most 50 tickets (a CHECK in the store): the
	// tappers take turns among enough volunteers
	vols := approveVolunteers(b, h, max(tappers, b.N/40+1), 50)
	_, ids := openTickets(b, h, b.N)
	h.settle()

	var rt redisCounter
	h.main.Redis.AddHook(&rt)
	type tap struct{ ticket, volunteer int64 }
	next := make(chan tap, b.N)
	for i, id := range ids {
		next <- tap{id, vols[i%len(vols)]}
	}
	close(next)
	var mu sync.Mutex
	posted := make(map[string]time.Time, b.N) // by callback query id
	before := len(api.Answers())
	pg.reset()
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for range tappers {
		wg.Go(func() {
			for t := range next {
				nextUpdateID()
				u := nextUpdateID()
				body := groupTap(u, t.volunteer, t.ticket)
				t0 := time.Now()
				mu.Lock()
				posted["q"+strconv.FormatInt(u, 10)] = t0
				mu.Unlock()
				if code := h.post(body); code != http.StatusOK {
					b.Errorf("claim answered %d", code)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	var lat []time.Duration
	won := 0
	for _, a := range api.Answers()[before:] {
		if t0, ok := posted[a.CallbackQueryID]; ok {
			lat = append(lat, a.At.Sub(t0))
			if strings.Contains(a.Text, "Bạn đã nhận") {
				won++
			}
		}
	}
	if len(lat) != b.N || won != b.N {
		b.Errorf("%d taps answered, %d claimed, want %d", len(lat), won, b.N)
	}
	reportLatency(b, lat, elapsed, "claims/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(rt.n.Load())/float64(len(lat)), "redis-rt/claim")
		if pg != nil {
			b.ReportMetric(float64(pg.n.Load())/float64(len(lat)), "pg-rt/claim")
		}
	}
	h.settle() // the contexts and "a volunteer took it" go out before Close
}

func reportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration, rate string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), rate)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}

// pgCounter is a TCP proxy in front of PostgreSQL that counts round trips:
// the client's Sync (end of an extended-protocol exchange: a statement, a
// pipelined batch) and simple Query messages.
type pgCounter struct{ n atomic.Int64 }

func (c *pgCounter) reset() {
	if c != nil {
		c.n.Store(0)
	}
}

// countPostgres starts the proxy and returns the database URL through it
// (without TLS, so the protocol can be read).
func countPostgres(b *testing.B, dbURL string) (*pgCounter, string) {
	b.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	target := u.Host
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	c := &pgCounter{}
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			go func() { io.Copy(client, server); client.Close() }()
			go func() { c.scan(client, server); server.Close() }()
		}
	}()
	u.Host = ln.Addr().String()
	q := u.Query()
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return c, u.String()
}

// scan copies the client's messages to the server, counting.
func (c *pgCounter) scan(from io.Reader, to io.Writer) {
	r := bufio.NewReaderSize(from, 64<<10)
	w := bufio.NewWriterSize(to, 64<<10)
	var head [5]byte
	// the startup message has no type byte
	if _, err := io.ReadFull(r, head[:4]); err != nil {
		return
	}
	n := int(binary.BigEndian.Uint32(head[:4]))
	w.Write(head[:4])
	if _, err := io.CopyN(w, r, int64(n-4)); err != nil || w.Flush() != nil {
		return
	}
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		if head[0] == 'S' || head[0] == 'Q' {
			c.n.Add(1)
		}
		n := int(binary.BigEndian.Uint32(head[1:]))
		w.Write(head[:])
		if _, err := io.CopyN(w, r, int64(n-4)); err != nil {
			return
		}
		if r.Buffered() == 0 { // the client waits for an answer now
			if w.Flush() != nil {
				return
			}
		}
	}
}
