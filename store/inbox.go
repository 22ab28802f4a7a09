package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// What channels without a synchronous reply need from Redis (Zalo OA, the
// Zalo Bot Platform):
//
//	<prefix>:inbox:{<channel>}            STREAM  inbound updates queued before answering the webhook
//	<prefix>:{<channel>:<chat>}:m         STRING  JSON of the bot.Menu last sent (numbered choices)
//	<prefix>:{<channel>:<chat>}:snd       STRING  how many sends to the conversation are under way
//	<prefix>:{<channel>:<chat>}:own       ZSET    ids of messages this bot sent, score the time (Unix ms)
//
// A channel's inbox is one key, so it lives in one Redis Cluster slot; the
// conversation's keys share its hash tag like the conversation state.

// Inbox limits.
const (
	// InboxMaxLen is about how many entries a channel's inbox keeps: XADD
	// trims the oldest beyond it (approximately, MAXLEN ~), so a stalled
	// consumer cannot make it grow without bound.
	InboxMaxLen = 1_000_000
	// inboxGroup is the consumer group every replica reads an inbox in.
	inboxGroup = "gocua"
	// inboxField is the stream entry's field holding the data.
	inboxField = "d"
	// inboxClaimRounds bounds the XAUTOCLAIM calls of one InboxRead: each
	// looks at up to ten times COUNT pending entries.
	inboxClaimRounds = 4
)

// Own-message tracking limits.
const (
	// SendingTTL is how long a Sending(on) mark lasts unless renewed: a
	// process that died between Sending(on) and Sending(off) does not hide
	// a person's messages for longer.
	SendingTTL = 60 * time.Second
	// OwnTTL is how long MarkOwn remembers a message id.
	OwnTTL = 24 * time.Hour
	// OwnCap is how many of a conversation's latest message ids MarkOwn keeps.
	OwnCap = 1000
)

func (r *Redis) inboxKey(ch bot.Channel) string {
	return r.opts.Prefix + ":inbox:{" + string(ch) + "}"
}

func (r *Redis) menuKey(k bot.ConvKey) string    { return r.base(k) + "m" }
func (r *Redis) sendingKey(k bot.ConvKey) string { return r.base(k) + "snd" }
func (r *Redis) ownKey(k bot.ConvKey) string     { return r.base(k) + "own" }

// InboxAdd queues data in ch's inbox (XADD, trimming the stream to about
// InboxMaxLen entries). Once it returns nil the entry is durable as far as
// Redis is (the embedded server keeps it in memory only) and will be handed
// out by InboxRead until acknowledged.
func (r *Redis) InboxAdd(ctx context.Context, ch bot.Channel, data []byte) error {
	err := r.client.XAdd(ctx, &redis.XAddArgs{
		Stream: r.inboxKey(ch),
		MaxLen: InboxMaxLen,
		Approx: true,
		Values: []any{inboxField, data},
	}).Err()
	if err != nil {
		return fmt.Errorf("store: inbox add %s: %w", ch, err)
	}
	return nil
}

// InboxRead hands out up to n entries of ch's inbox to consumer (a name
// unique to the process, stable across restarts if possible). Delivery is
// at least once: an entry not acknowledged with InboxAck within minIdle of
// being handed out (its consumer crashed, or failed to handle it) is handed
// out again, to whichever consumer reads next, this one included. Entries
// are not handed out twice before minIdle passes.
//
// It first takes back up to n entries pending for longer than minIdle
// under any consumer (XAUTOCLAIM) and returns those if there are any, with
// Tries counting every hand-out so far, this one included. Otherwise it
// reads new entries (XREADGROUP), Tries 1, waiting up to block for one to
// arrive; block <= 0 does not wait. minIdle <= 0 never takes entries back.
// With nothing to hand out it returns nil, nil. The stream and its
// consumer group are created on demand.
func (r *Redis) InboxRead(ctx context.Context, ch bot.Channel, consumer string, n int, block, minIdle time.Duration) ([]bot.InboxEntry, error) {
	if n <= 0 {
		return nil, nil
	}
	if consumer == "" {
		return nil, fmt.Errorf("store: inbox read %s: empty consumer", ch)
	}
	key := r.inboxKey(ch)
	var out []bot.InboxEntry
	err := r.withInboxGroup(ctx, key, func() (err error) {
		if minIdle > 0 {
			if out, err = r.inboxReclaim(ctx, key, consumer, n, minIdle); err != nil || len(out) > 0 {
				return err
			}
		}
		out, err = r.inboxNew(ctx, key, consumer, n, block)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: inbox read %s: %w", ch, err)
	}
	return out, nil
}

// withInboxGroup runs fn; when the consumer group (or the stream) does not
// exist, it creates both and runs fn once more.
func (r *Redis) withInboxGroup(ctx context.Context, key string, fn func() error) error {
	err := fn()
	if err == nil || !redis.HasErrorPrefix(err, "NOGROUP") {
		return err
	}
	// From id 0: entries added before the group existed are handed out too.
	err = r.client.XGroupCreateMkStream(ctx, key, inboxGroup, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create group: %w", err)
	}
	return fn()
}

// inboxReclaim takes over up to n entries pending for longer than minIdle
// and reads how often each was handed out. Entries deleted meanwhile are
// acknowledged and skipped.
func (r *Redis) inboxReclaim(ctx context.Context, key, consumer string, n int, minIdle time.Duration) ([]bot.InboxEntry, error) {
	var msgs []redis.XMessage
	var gone []string
	start := "0-0"
	for range inboxClaimRounds {
		got, next, deleted, err := r.client.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
			Stream: key, Group: inboxGroup, Consumer: consumer,
			MinIdle: minIdle, Start: start, Count: int64(n - len(msgs)),
		}).Result()
		if err != nil {
			return nil, fmt.Errorf("reclaim: %w", err)
		}
		gone = append(gone, deleted...)
		for _, m := range got {
			if _, ok := m.Values[inboxField]; !ok {
				gone = append(gone, m.ID) // deleted (Redis 6.2 returns it without values)
				continue
			}
			msgs = append(msgs, m)
		}
		if start = next; start == "0-0" || len(msgs) >= n {
			break
		}
	}
	if len(gone) > 0 {
		if err := r.client.XAck(ctx, key, inboxGroup, gone...).Err(); err != nil {
			return nil, fmt.Errorf("ack deleted: %w", err)
		}
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	// The delivery counts, which XAUTOCLAIM raised but does not return.
	pipe := r.client.Pipeline()
	pend := make([]*redis.XPendingExtCmd, len(msgs))
	for i, m := range msgs {
		pend[i] = pipe.XPendingExt(ctx, &redis.XPendingExtArgs{
			Stream: key, Group: inboxGroup, Start: m.ID, End: m.ID, Count: 1,
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("reclaim: delivery counts: %w", err)
	}
	out := make([]bot.InboxEntry, 0, len(msgs))
	for i, m := range msgs {
		p := pend[i].Val()
		if len(p) == 0 {
			continue // acknowledged meanwhile by a consumer that took it back first
		}
		out = append(out, inboxEntry(m, int(p[0].RetryCount)))
	}
	return out, nil
}

// inboxNew reads up to n entries never handed out, waiting up to block.
func (r *Redis) inboxNew(ctx context.Context, key, consumer string, n int, block time.Duration) ([]bot.InboxEntry, error) {
	args := &redis.XReadGroupArgs{
		Group: inboxGroup, Consumer: consumer, Streams: []string{key, ">"},
		Count: int64(n), Block: -1, // no BLOCK argument: don't wait
	}
	if block > 0 {
		// BLOCK is in whole milliseconds, and BLOCK 0 waits forever.
		args.Block = max(block, time.Millisecond)
	}
	streams, err := r.client.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []bot.InboxEntry
	for _, s := range streams {
		for _, m := range s.Messages {
			out = append(out, inboxEntry(m, 1))
		}
	}
	return out, nil
}

func inboxEntry(m redis.XMessage, tries int) bot.InboxEntry {
	data, _ := m.Values[inboxField].(string)
	return bot.InboxEntry{ID: m.ID, Data: []byte(data), Tries: max(tries, 1)}
}

// InboxAck acknowledges entries of ch's inbox that were handled (or given
// up on), in one round trip: XACK, then XDEL, atomically. They are never
// handed out again. Acknowledging an entry twice, or an unknown id, is not
// an error.
func (r *Redis) InboxAck(ctx context.Context, ch bot.Channel, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	key := r.inboxKey(ch)
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, key, inboxGroup, ids...)
		p.XDel(ctx, key, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: inbox ack %s: %w", ch, err)
	}
	return nil
}

// SetMenu remembers m as the numbered menu last sent to key, for reading
// the resident's answer (bot.Menu.Choose). It is kept as long as
// conversation state is (RedisOptions.StateTTL). A menu without choices
// forgets the one stored.
func (r *Redis) SetMenu(ctx context.Context, key bot.ConvKey, m bot.Menu) error {
	var err error
	if len(m.Choices) == 0 {
		err = r.client.Del(ctx, r.menuKey(key)).Err()
	} else {
		var b []byte
		if b, err = json.Marshal(m); err == nil {
			err = r.client.Set(ctx, r.menuKey(key), b, r.opts.StateTTL).Err()
		}
	}
	if err != nil {
		return fmt.Errorf("store: set menu %s: %w", key, err)
	}
	return nil
}

// Menu returns the numbered menu last sent to key: the zero Menu when
// there is none.
func (r *Redis) Menu(ctx context.Context, key bot.ConvKey) (bot.Menu, error) {
	b, err := r.client.Get(ctx, r.menuKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return bot.Menu{}, nil
	}
	if err != nil {
		return bot.Menu{}, fmt.Errorf("store: menu %s: %w", key, err)
	}
	var m bot.Menu
	if err := json.Unmarshal(b, &m); err != nil {
		return bot.Menu{}, fmt.Errorf("store: menu %s: decode: %w", key, err)
	}
	return m, nil
}

// sendingLua counts sends under way: ARGV[1] '1' adds one and renews the
// TTL (ARGV[2] ms); otherwise one is taken away, never below 0 (the key is
// dropped at 0). Returns the count. KEYS: counter.
const sendingLua = `
if ARGV[1] == '1' then
  local n = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return n
end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n <= 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
return redis.call('DECR', KEYS[1])
`

// sendingScript is immutable: it holds only the script text and its hash.
var sendingScript = redis.NewScript(sendingLua)

// Sending marks that a send to key is under way (on) or over (off), for
// telling this bot's messages from a person's when the platform echoes
// every message sent (Zalo OA): an echo that arrives while a send is under
// way, before MarkOwn, may be ours. Sends nest (a counter); a mark lasts
// SendingTTL after the last on, so one never cleared does not stay. Every
// on must be followed by an off. One round trip.
func (r *Redis) Sending(ctx context.Context, key bot.ConvKey, on bool) error {
	if err := sendingScript.Run(ctx, r.client, []string{r.sendingKey(key)},
		flag(on), SendingTTL.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("store: sending %s: %w", key, err)
	}
	return nil
}

// MarkOwn remembers that this bot sent message msgID to key, for OwnTTL
// (keeping a conversation's latest OwnCap ids). One round trip.
func (r *Redis) MarkOwn(ctx context.Context, key bot.ConvKey, msgID string) error {
	if msgID == "" {
		return fmt.Errorf("store: mark own %s: empty message id", key)
	}
	k := r.ownKey(key)
	now := time.Now()
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, k, redis.Z{Score: float64(now.UnixMilli()), Member: msgID})
		p.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(now.Add(-OwnTTL).UnixMilli(), 10))
		p.ZRemRangeByRank(ctx, k, 0, -OwnCap-1)
		p.PExpire(ctx, k, OwnTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: mark own %s %s: %w", key, msgID, err)
	}
	return nil
}

// Own reports whether message msgID of key was marked with MarkOwn in the
// last OwnTTL (own), and whether a send to key is under way now (sending:
// an echo of a message not marked yet may still be ours). One round trip.
func (r *Redis) Own(ctx context.Context, key bot.ConvKey, msgID string) (own, sending bool, err error) {
	pipe := r.client.Pipeline()
	score := pipe.ZScore(ctx, r.ownKey(key), msgID)
	count := pipe.Get(ctx, r.sendingKey(key))
	_, err = pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, false, fmt.Errorf("store: own %s %s: %w", key, msgID, err)
	}
	if s, err := score.Result(); err == nil {
		own = time.Since(time.UnixMilli(int64(s))) < OwnTTL
	} else if !errors.Is(err, redis.Nil) {
		return false, false, fmt.Errorf("store: own %s %s: %w", key, msgID, err)
	}
	if n, err := count.Int64(); err == nil {
		sending = n > 0
	} else if !errors.Is(err, redis.Nil) {
		return false, false, fmt.Errorf("store: own %s %s: %w", key, msgID, err)
	}
	return own, sending, nil
}
