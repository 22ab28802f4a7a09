package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// The outbox (bot.Outbox) in Redis. Each conversation has:
//
//	<prefix>:{<channel>:<chat>}:o   list of committed, undelivered messages (JSON), in commit order
//	<prefix>:{<channel>:<chat>}:ol  the lease: the owner delivering them, with a TTL
//
// and each channel an index of the conversations appended to, sharded over
// indexShards sorted sets so that a Redis Cluster spreads them:
//
//	<prefix>:ob:{<channel>.<n>}     member chat id, score the last append (Unix ms)
//
// The commit script writes the list and the lease (one hash slot); the index
// is written in the same pipeline. Sweeps read the index instead of scanning
// the keyspace, which holds a dedupe marker per update.

// indexShards is how many sorted sets one channel's outbox index is spread over.
const indexShards = 16

func (r *Redis) indexKey(k bot.ConvKey) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(k.ChatID))
	return r.indexShardKey(k.Channel, int(h.Sum32()%indexShards))
}

func (r *Redis) indexShardKey(ch bot.Channel, shard int) string {
	return r.opts.Prefix + ":ob:{" + string(ch) + "." + strconv.Itoa(shard) + "}"
}

// claimLua returns {0} for an empty outbox (dropping the caller's lease),
// {1} when another owner holds the lease, else {2, message JSON...} after
// taking the lease.
// KEYS: outbox, lease. ARGV: owner, lease TTL ms.
const claimLua = `
local holder = redis.call('GET', KEYS[2])
if redis.call('LLEN', KEYS[1]) == 0 then
  if holder == ARGV[1] then redis.call('DEL', KEYS[2]) end
  return {0}
end
if holder and holder ~= ARGV[1] then return {1} end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
local items = redis.call('LRANGE', KEYS[1], 0, -1)
table.insert(items, 1, 2)
return items
`

// doneLua removes the outbox element whose "id" is ARGV[1] — the head in the
// normal case, else the first match further down — and returns how many
// remain; with none left it drops the lease if ARGV[2] holds it. An element
// that starts with ARGV[3], the text an Outbound with that id encodes to
// first (see donePrefix), matches without being decoded: decoding every
// delivered message in Lua took a seventh of Redis's CPU per update
// (cmd/gocua-load, Redis's command statistics). An element that does not
// (written by hand or by another encoder) is decoded and matched by its id.
// KEYS: outbox, lease. ARGV: id, owner, prefix.
const doneLua = `
local prefix = ARGV[3] or ''
local function matches(raw)
  if prefix ~= '' and string.sub(raw, 1, #prefix) == prefix then return true end
  local ok, m = pcall(cjson.decode, raw)
  return ok and type(m) == 'table' and m.id == ARGV[1]
end
local head = redis.call('LINDEX', KEYS[1], 0)
if head then
  if matches(head) then
    redis.call('LPOP', KEYS[1])
  else
    local items = redis.call('LRANGE', KEYS[1], 1, -1)
    for i = 1, #items do
      if matches(items[i]) then
        redis.call('LREM', KEYS[1], 1, items[i])
        break
      end
    end
  end
end
local n = redis.call('LLEN', KEYS[1])
if n == 0 and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return n
`

// donePrefix is how the JSON of an Outbound with id starts: json.Marshal
// writes the struct's fields in order, ID first, and the closing quote
// keeps "u1/1" from matching "u1/10".
func donePrefix(id string) string {
	b, _ := json.Marshal(id) // a string always encodes (invalid UTF-8 as U+FFFD, as in the Outbound)
	return `{"id":` + string(b)
}

// renewLua extends ARGV[1]'s lease, or takes it back if it lapsed and
// nobody else took it. Returns 1 if ARGV[1] holds it now.
// KEYS: lease. ARGV: owner, lease TTL ms.
const renewLua = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

// unlockLua drops the lease if ARGV[1] holds it.
// KEYS: lease. ARGV: owner.
const unlockLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// forgetLua removes an index member, or with ARGV[3] moves it to score
// ARGV[3], if its score is still ARGV[2] (nothing was committed for it since
// it was listed).
// KEYS: index. ARGV: member, score, new score or ”.
const forgetLua = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end
if ARGV[3] == '' then return redis.call('ZREM', KEYS[1], ARGV[1]) end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`

// StaleOutbox is one entry of a channel's outbox index.
type StaleOutbox struct {
	Key  bot.ConvKey
	Mark int64 // its score: when the conversation was last appended to (Unix ms)
}

// Owner returns the name this store gives the process in outbox leases.
func (r *Redis) Owner() string { return r.opts.Owner }

// Claim takes key's outbox for this process and returns its messages,
// unless another live owner holds the lease (held true). One round trip.
func (r *Redis) Claim(ctx context.Context, key bot.ConvKey) ([]bot.Outbound, bool, error) {
	res, err := r.claim.Run(ctx, r.client, []string{r.outboxKey(key), r.leaseKey(key)},
		r.opts.Owner, r.opts.LeaseTTL.Milliseconds()).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("store: outbox claim %s: %w", key, err)
	}
	return decodeClaim(key, res)
}

// decodeClaim reads claimLua's reply.
func decodeClaim(key bot.ConvKey, res []any) ([]bot.Outbound, bool, error) {
	if len(res) == 0 {
		return nil, false, fmt.Errorf("store: outbox claim %s: empty reply", key)
	}
	switch status, _ := res[0].(int64); status {
	case 0:
		return nil, false, nil
	case 1:
		return nil, true, nil
	case 2:
	default:
		return nil, false, fmt.Errorf("store: outbox claim %s: unexpected status %v", key, res[0])
	}
	msgs := make([]bot.Outbound, 0, len(res)-1)
	for _, item := range res[1:] {
		raw, _ := item.(string)
		var o bot.Outbound
		if err := json.Unmarshal([]byte(raw), &o); err != nil {
			return nil, false, fmt.Errorf("store: outbox claim %s: decode: %w", key, err)
		}
		msgs = append(msgs, o)
	}
	return msgs, false, nil
}

// Done removes the message with this id from key's outbox and returns how
// many remain. Removing a message that is not there (already removed) is not
// an error. With none left this process's lease is dropped. One round trip.
func (r *Redis) Done(ctx context.Context, key bot.ConvKey, id string) (int, error) {
	n, err := r.done.Run(ctx, r.client, []string{r.outboxKey(key), r.leaseKey(key)}, id, r.opts.Owner, donePrefix(id)).Int()
	if err != nil {
		return 0, fmt.Errorf("store: outbox done %s %s: %w", key, id, err)
	}
	return n, nil
}

// DoneAll is Done for many messages, of any conversations, in one
// pipeline (on a cluster, one per node, in parallel).
func (r *Redis) DoneAll(ctx context.Context, msgs []bot.Delivered) ([]int, error) {
	cmds := make([]*redis.Cmd, len(msgs))
	err := r.pipelineScripts(ctx, func(p redis.Pipeliner) {
		for i, m := range msgs {
			cmds[i] = r.done.EvalSha(ctx, p, []string{r.outboxKey(m.Key), r.leaseKey(m.Key)}, m.ID, r.opts.Owner, donePrefix(m.ID))
		}
	}, func() []*redis.Cmd { return cmds })
	if err != nil {
		return nil, fmt.Errorf("store: outbox done, %d messages: %w", len(msgs), err)
	}
	out := make([]int, len(msgs))
	for i, c := range cmds {
		n, err := c.Int()
		if err != nil {
			return nil, fmt.Errorf("store: outbox done %s %s: %w", msgs[i].Key, msgs[i].ID, err)
		}
		out[i] = n
	}
	return out, nil
}

// Stale lists up to limit conversations of channel ch whose outbox was last
// appended to before before, oldest first within each index shard.
func (r *Redis) Stale(ctx context.Context, ch bot.Channel, before time.Time, limit int) ([]StaleOutbox, error) {
	if limit <= 0 {
		return nil, nil
	}
	per := max(1, (limit+indexShards-1)/indexShards)
	pipe := r.client.Pipeline()
	cmds := make([]*redis.ZSliceCmd, indexShards)
	for i := range cmds {
		cmds[i] = pipe.ZRangeByScoreWithScores(ctx, r.indexShardKey(ch, i), &redis.ZRangeBy{
			Min: "-inf", Max: "(" + strconv.FormatInt(before.UnixMilli(), 10), Count: int64(per),
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: outbox index %s: %w", ch, err)
	}
	var out []StaleOutbox
	for _, cmd := range cmds {
		for _, z := range cmd.Val() {
			chat, _ := z.Member.(string)
			out = append(out, StaleOutbox{Key: bot.ConvKey{Channel: ch, ChatID: chat}, Mark: int64(z.Score)})
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Forget drops s from its channel's outbox index unless the conversation
// was appended to after Stale listed it.
func (r *Redis) Forget(ctx context.Context, s StaleOutbox) error {
	if err := r.forget.Run(ctx, r.client, []string{r.indexKey(s.Key)}, s.Key.ChatID, s.Mark, "").Err(); err != nil {
		return fmt.Errorf("store: outbox index forget %s: %w", s.Key, err)
	}
	return nil
}

// TakeStale sweeps up to limit of channel ch's outboxes last appended to
// before before (see bot.Outbox): one pipeline lists them, one claims them
// all, one forgets the empty ones and moves the held ones to the back. Three
// round trips however many it looks at.
func (r *Redis) TakeStale(ctx context.Context, ch bot.Channel, before time.Time, limit int) ([]bot.Outbound, int, error) {
	stale, err := r.Stale(ctx, ch, before, limit)
	if err != nil || len(stale) == 0 {
		return nil, 0, err
	}
	claims := make([]*redis.Cmd, len(stale))
	err = r.pipelineScripts(ctx, func(p redis.Pipeliner) {
		for i, st := range stale {
			claims[i] = r.claim.EvalSha(ctx, p, []string{r.outboxKey(st.Key), r.leaseKey(st.Key)},
				r.opts.Owner, r.opts.LeaseTTL.Milliseconds())
		}
	}, func() []*redis.Cmd { return claims })
	if err != nil {
		return nil, 0, fmt.Errorf("store: outbox sweep %s: %w", ch, err)
	}
	var msgs []bot.Outbound
	to := make([]string, len(stale)) // each entry's new score: now (looked at again later) or "" (forgotten)
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	for i, st := range stale {
		res, _ := claims[i].Slice()
		got, _, err := decodeClaim(st.Key, res)
		if err != nil {
			to[i] = "-" // left as it is: the next sweep tries again
			continue
		}
		msgs = append(msgs, got...)
		to[i] = now // held here or elsewhere
		if len(res) == 1 && res[0] == int64(0) {
			to[i] = "" // empty
		}
	}
	moves := make([]*redis.Cmd, len(stale))
	err = r.pipelineScripts(ctx, func(p redis.Pipeliner) {
		for i, st := range stale {
			if to[i] != "-" {
				moves[i] = r.forget.EvalSha(ctx, p, []string{r.indexKey(st.Key)}, st.Key.ChatID, st.Mark, to[i])
			}
		}
	}, func() []*redis.Cmd { return moves })
	if err != nil {
		return nil, 0, fmt.Errorf("store: outbox sweep %s: %w", ch, err)
	}
	return msgs, len(stale), nil
}

// pipelineScripts runs the EVALSHAs queue adds in one pipeline; when the
// server has lost the scripts (restarted, flushed) it loads them and runs
// the pipeline once more. cmds returns the commands queue made.
func (r *Redis) pipelineScripts(ctx context.Context, queue func(redis.Pipeliner), cmds func() []*redis.Cmd) error {
	for attempt := 0; ; attempt++ {
		pipe := r.client.Pipeline()
		queue(pipe)
		_, _ = pipe.Exec(ctx) // errors are read from each command
		noscript := false
		for _, c := range cmds() {
			if c == nil {
				continue
			}
			if err := c.Err(); err != nil {
				if !redis.HasErrorPrefix(err, "NOSCRIPT") {
					return err
				}
				noscript = true
			}
		}
		if !noscript || attempt > 0 {
			if noscript {
				return errors.New("scripts missing on the server")
			}
			return nil
		}
		for _, s := range []*redis.Script{r.claim, r.forget, r.done} {
			if err := s.Load(ctx, r.client).Err(); err != nil {
				return err
			}
		}
	}
}

// Renew extends this process's leases on keys, in one pipeline. (The
// scripts are sent whole: a pipeline cannot fall back from EVALSHA, and
// renewals are rare.)
func (r *Redis) Renew(ctx context.Context, keys []bot.ConvKey) error {
	return r.eachLease(ctx, "renew", keys, func(p redis.Pipeliner, k bot.ConvKey) {
		r.renew.Eval(ctx, p, []string{r.leaseKey(k)}, r.opts.Owner, r.opts.LeaseTTL.Milliseconds())
	})
}

// Release drops this process's leases on keys, in one pipeline.
func (r *Redis) Release(ctx context.Context, keys []bot.ConvKey) error {
	return r.eachLease(ctx, "release", keys, func(p redis.Pipeliner, k bot.ConvKey) {
		r.unlock.Eval(ctx, p, []string{r.leaseKey(k)}, r.opts.Owner)
	})
}

func (r *Redis) eachLease(ctx context.Context, what string, keys []bot.ConvKey, queue func(redis.Pipeliner, bot.ConvKey)) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := r.client.Pipeline()
	for _, k := range keys {
		queue(pipe, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: outbox %s %d leases: %w", what, len(keys), err)
	}
	return nil
}

// appendLua appends to an outbox once per marker: {-1} when the marker was
// set before, else {lease} as commitLua reports it (foreign flag included).
// KEYS: marker, outbox, lease, foreign flag. ARGV: dedupe TTL ms, outbox TTL
// ms, owner, lease TTL ms, outbound JSON... (pushed with pushLua)
const appendLua = pushLua + `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) == false then return {-1} end
local before = push(KEYS[2], 5)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local holder = redis.call('GET', KEYS[3])
if not holder or holder == ARGV[3] then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
  local foreign = redis.call('DEL', KEYS[4]) == 1
  if before > 0 and (not holder or foreign) then return {2} end
  return {1}
end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
return {0}
`

// Append adds out to key's outbox without touching its conversation state,
// once per marker: the same marker appended again (a re-run of the update
// that relays a message, a timer firing on two replicas) returns
// bot.ErrDuplicate and appends nothing. The lease is taken as Commit takes
// it; the channel's outbox index is updated in the same round trip. Every
// message must have key as its Key.
func (r *Redis) Append(ctx context.Context, key bot.ConvKey, marker string, out []bot.Outbound) (bot.Committed, error) {
	if len(out) == 0 || marker == "" {
		return bot.Committed{}, fmt.Errorf("store: append to %s: no messages or no marker", key)
	}
	args := make([]any, 0, 4+len(out))
	args = append(args, r.opts.DedupeTTL.Milliseconds(), (4 * r.opts.DedupeTTL).Milliseconds(),
		r.opts.Owner, r.opts.LeaseTTL.Milliseconds())
	for _, o := range out {
		if o.Key != key {
			return bot.Committed{}, fmt.Errorf("store: append to %s: message %s is for %s", key, o.ID, o.Key)
		}
		b, err := json.Marshal(o)
		if err != nil {
			return bot.Committed{}, fmt.Errorf("store: append to %s: encode outbound %s: %w", key, o.ID, err)
		}
		args = append(args, b)
	}
	keys := []string{r.base(key) + "a:" + marker, r.outboxKey(key), r.leaseKey(key), r.foreignKey(key)}
	res, err := r.runIndexed(ctx, key, r.append, keys, args)
	if err != nil {
		return bot.Committed{}, fmt.Errorf("store: append to %s: %w", key, err)
	}
	switch {
	case len(res) != 1:
		return bot.Committed{}, fmt.Errorf("store: append to %s: unexpected reply of %d items", key, len(res))
	case res[0] == -1:
		return bot.Committed{}, fmt.Errorf("store: append %s to %s: %w", marker, key, bot.ErrDuplicate)
	}
	return bot.Committed{Leased: res[0] > 0, Backlog: res[0] == 2}, nil
}

// Mark records that updateID of key was handled, for a conversation that
// keeps no state (the volunteers' group): true the first time, false when
// it was marked or committed before. It shares Commit's dedupe markers.
func (r *Redis) Mark(ctx context.Context, key bot.ConvKey, updateID string) (bool, error) {
	ok, err := r.client.SetNX(ctx, r.markerKey(key, updateID), "1", r.opts.DedupeTTL).Result()
	if err != nil {
		return false, fmt.Errorf("store: mark %s update %s: %w", key, updateID, err)
	}
	return ok, nil
}
