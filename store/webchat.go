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
// with the same non-empty id is among the latest ones. Returns {seq, added}.
// KEYS: list, counter. ARGV: id, data, cap, ttl ms, dedupe window.
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
return {seq, 1}
`

// appendHistoryScript is immutable: it holds only the script text and its hash.
var appendHistoryScript = redis.NewScript(appendHistoryLua)

func (r *Redis) historyKey(k bot.ConvKey) string        { return r.base(k) + "h" }
func (r *Redis) historyCounterKey(k bot.ConvKey) string { return r.base(k) + "hn" }

// AppendHistory appends msg to key's web chat history (a Redis list capped at
// the latest HistoryCap messages, kept HistoryTTL after the last append) and
// returns its sequence number. A message whose non-empty id was appended
// recently is not appended again: its earlier seq is returned with added
// false, so a retried delivery or a retried POST shows once. id must not
// contain a newline. One round trip.
func (r *Redis) AppendHistory(ctx context.Context, key bot.ConvKey, id string, msg []byte) (seq int64, added bool, err error) {
	if strings.ContainsRune(id, '\n') {
		return 0, false, fmt.Errorf("store: history %s: id contains a newline", key)
	}
	res, err := appendHistoryScript.Run(ctx, r.client,
		[]string{r.historyKey(key), r.historyCounterKey(key)},
		id, msg, HistoryCap, HistoryTTL.Milliseconds(), historyDedupeWindow).Int64Slice()
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
