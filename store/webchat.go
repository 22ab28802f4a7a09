package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// Web chat history limits.
const (
	// HistoryCap is how many of a visitor's latest messages are kept.
	HistoryCap = 200
	// HistoryTTL is how long an idle visitor's history is kept.
	HistoryTTL = 30 * 24 * time.Hour
	// historyDedupeWindow is how many of the latest messages AppendHistory
	// searches for an id already appended (retries come soon after).
	historyDedupeWindow = 50
)

// HistoryItem is one message of a web chat visitor's history.
type HistoryItem = bot.HistoryItem

// appendHistoryLua appends one entry "<seq>\n<id>\n<data>" unless an entry
// with the same non-empty id is among the latest ones, and then publishes
// the visitor on the wake-up channel. Returns {seq, added}.
// KEYS: list, counter. ARGV: id, data, cap, ttl ms, dedupe window, wake-up
// channel, visitor.
const appendHistoryLua = `
if ARGV[1] ~= '' then
  local recent = redis.call('LRANGE', KEYS[1], -tonumber(ARGV[5]), -1)
  for i = #recent, 1, -1 do
    local seq, id = string.match(recent[i], '^(%d+)\n([^\n]*)\n')
    if id == ARGV[1] then return {tonumber(seq), 0} end
  end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('RPUSH', KEYS[1], seq .. '\n' .. ARGV[1] .. '\n' .. ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[3]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return {seq, 1}
`

// appendHistoryScript is immutable: it holds only the script text and its hash.
var appendHistoryScript = redis.NewScript(appendHistoryLua)

func (r *Redis) historyKey(k bot.ConvKey) string        { return r.base(k) + "h" }
func (r *Redis) historyCounterKey(k bot.ConvKey) string { return r.base(k) + "hn" }

// historyWakeChannel is the pub/sub channel on which AppendHistory names
// the visitor whose history grew (a channel is not a key: it has no slot,
// and a Redis Cluster carries it to every node).
func (r *Redis) historyWakeChannel() string { return r.opts.Prefix + ":web:wake" }

// AppendHistory appends msg to key's web chat history (a Redis list capped at
// the latest HistoryCap messages, kept HistoryTTL after the last append) and
// returns its sequence number. A message whose non-empty id was appended
// recently is not appended again: its earlier seq is returned with added
// false, so a retried delivery or a retried POST shows once. id must not
// contain a newline. An appended message wakes every replica's streams of
// the visitor (WatchHistory). One round trip.
func (r *Redis) AppendHistory(ctx context.Context, key bot.ConvKey, id string, msg []byte) (seq int64, added bool, err error) {
	if strings.ContainsRune(id, '\n') {
		return 0, false, fmt.Errorf("store: history %s: id contains a newline", key)
	}
	res, err := appendHistoryScript.Run(ctx, r.client,
		[]string{r.historyKey(key), r.historyCounterKey(key)},
		id, msg, HistoryCap, HistoryTTL.Milliseconds(), historyDedupeWindow, r.historyWakeChannel(), key.ChatID).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("store: history %s append: %w", key, err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("store: history %s append: unexpected reply of %d items", key, len(res))
	}
	return res[0], res[1] == 1, nil
}

// History returns key's stored web chat messages with a sequence number above
// since, oldest first. One round trip.
func (r *Redis) History(ctx context.Context, key bot.ConvKey, since int64) ([]HistoryItem, error) {
	raw, err := r.client.LRange(ctx, r.historyKey(key), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: history %s: %w", key, err)
	}
	var items []HistoryItem
	for _, e := range raw {
		seqStr, rest, ok1 := strings.Cut(e, "\n")
		id, data, ok2 := strings.Cut(rest, "\n")
		seq, err := strconv.ParseInt(seqStr, 10, 64)
		if !ok1 || !ok2 || err != nil {
			return nil, fmt.Errorf("store: history %s: malformed entry", key)
		}
		if seq > since {
			items = append(items, HistoryItem{Seq: seq, ID: id, Data: []byte(data)})
		}
	}
	return items, nil
}

// WatchHistory calls fn with the visitor (ConvKey.ChatID) of every message
// AppendHistory appends on any replica, until ctx ends (then it returns
// nil) or the subscription fails. It returns once subscribed only through
// ready (closed then; nil: not told). Wake-ups published while it is not
// subscribed — before, or while go-redis reconnects — are lost: a stream
// finds their messages at its next read of the history.
func (r *Redis) WatchHistory(ctx context.Context, ready chan<- struct{}, fn func(visitor string)) error {
	ps := r.client.Subscribe(ctx, r.historyWakeChannel())
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("store: watch history: %w", err)
	}
	if ready != nil {
		close(ready)
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return fmt.Errorf("store: watch history: subscription closed")
			}
			fn(m.Payload)
		}
	}
}
