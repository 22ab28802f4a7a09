package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// Defaults for [RedisOptions].
const (
	DefaultStateTTL    = 30 * 24 * time.Hour
	DefaultDedupeTTL   = 48 * time.Hour
	DefaultRedisPrefix = "gocua"
)

// RedisOptions configure a [Redis] store. Zero fields take their defaults.
type RedisOptions struct {
	// StateTTL is how long an idle conversation's state is kept (default 30 days).
	StateTTL time.Duration
	// DedupeTTL is how long a committed update id is remembered (default 48 h;
	// Telegram re-delivers for up to 24 h).
	DedupeTTL time.Duration
	// Prefix starts every key (default "gocua").
	Prefix string
}

func (o RedisOptions) withDefaults() RedisOptions {
	if o.StateTTL <= 0 {
		o.StateTTL = DefaultStateTTL
	}
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = DefaultDedupeTTL
	}
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	return o
}

// Redis keeps conversation state, update dedupe markers and the outbox. It
// implements bot.Conversations and bot.Outbox. It is safe for concurrent use.
type Redis struct {
	client redis.UniversalClient
	opts   RedisOptions

	load   *redis.Script
	commit *redis.Script
	done   *redis.Script
}

var (
	_ bot.Conversations = (*Redis)(nil)
	_ bot.Outbox        = (*Redis)(nil)
)

// loadLua returns {version or false, state JSON or false, marker exists 0/1}.
// KEYS: state, marker.
const loadLua = `
local s = redis.call('HMGET', KEYS[1], 'v', 'd')
local seen = 0
if ARGV[1] == '1' then seen = redis.call('EXISTS', KEYS[2]) end
return {s[1], s[2], seen}
`

// commitLua returns the new version, -1 for a duplicate update, -2 for a
// version conflict.
// KEYS: state, marker, outbox.
// ARGV: expected version, state JSON, state TTL ms, dedupe TTL ms, outbox TTL ms,
// use marker (1/0), outbound JSON...
const commitLua = `
local dedupe = ARGV[6] == '1'
if dedupe and redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -2 end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if dedupe then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end
if #ARGV > 6 then
  for i = 7, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return v
`

// doneLua removes the outbox element whose "id" is ARGV[1]: the head in the
// normal case, else the first match further down. Returns 1 if removed.
// KEYS: outbox.
const doneLua = `
local function matches(raw)
  local ok, m = pcall(cjson.decode, raw)
  return ok and type(m) == 'table' and m.id == ARGV[1]
end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then return 0 end
if matches(head) then
  redis.call('LPOP', KEYS[1])
  return 1
end
local items = redis.call('LRANGE', KEYS[1], 1, -1)
for i = 1, #items do
  if matches(items[i]) then
    redis.call('LREM', KEYS[1], 1, items[i])
    return 1
  end
end
return 0
`

// OpenRedis connects to the Redis server at url (redis:// or rediss://, as
// accepted by redis.ParseURL), checks it answers and loads the scripts.
func OpenRedis(ctx context.Context, url string, opts RedisOptions) (*Redis, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse redis url: %w", err)
	}
	// Let ctx deadlines bound socket I/O, not only Read/WriteTimeout.
	o.ContextTimeoutEnabled = true
	client := redis.NewClient(o)
	r, err := NewRedis(ctx, client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return r, nil
}

// NewRedis wraps an existing client (a *redis.Client, *redis.ClusterClient or
// failover client) and loads the Lua scripts with SCRIPT LOAD so that every
// later Load and Commit is a single EVALSHA. Close closes client.
func NewRedis(ctx context.Context, client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	r := &Redis{
		client: client,
		opts:   opts.withDefaults(),
		load:   redis.NewScript(loadLua),
		commit: redis.NewScript(commitLua),
		done:   redis.NewScript(doneLua),
	}
	for _, s := range []*redis.Script{r.load, r.commit, r.done} {
		if err := s.Load(ctx, client).Err(); err != nil {
			return nil, fmt.Errorf("store: redis script load: %w", err)
		}
	}
	return r, nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("store: redis ping: %w", err)
	}
	return nil
}

// AddHook adds a go-redis hook to the client (metrics, round-trip counting in benchmarks).
func (r *Redis) AddHook(h redis.Hook) { r.client.AddHook(h) }

// Close closes the underlying client.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("store: redis close: %w", err)
	}
	return nil
}

// base returns the key prefix shared by all keys of one conversation,
// e.g. "gocua:{telegram:123}:".
func (r *Redis) base(k bot.ConvKey) string {
	return r.opts.Prefix + ":{" + k.String() + "}:"
}

func (r *Redis) stateKey(k bot.ConvKey) string  { return r.base(k) + "s" }
func (r *Redis) outboxKey(k bot.ConvKey) string { return r.base(k) + "o" }
func (r *Redis) markerKey(k bot.ConvKey, updateID string) string {
	return r.base(k) + "u:" + updateID
}

// Load returns key's conversation (Version 0 when none is stored) and whether
// updateID was already committed. An empty updateID is never seen. One round
// trip.
func (r *Redis) Load(ctx context.Context, key bot.ConvKey, updateID string) (bot.Conversation, bool, error) {
	c := bot.Conversation{Key: key}
	res, err := r.load.Run(ctx, r.client,
		[]string{r.stateKey(key), r.markerKey(key, updateID)},
		flag(updateID != "")).Slice()
	if err != nil {
		return c, false, fmt.Errorf("store: load %s: %w", key, err)
	}
	if len(res) != 3 {
		return c, false, fmt.Errorf("store: load %s: unexpected reply of %d items", key, len(res))
	}
	seen, _ := res[2].(int64)
	data, _ := res[1].(string)
	if data == "" {
		return c, seen == 1, nil
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return bot.Conversation{Key: key}, false, fmt.Errorf("store: load %s: decode state: %w", key, err)
	}
	if v, ok := res[0].(string); ok {
		if c.Version, err = strconv.ParseInt(v, 10, 64); err != nil {
			return bot.Conversation{Key: key}, false, fmt.Errorf("store: load %s: version: %w", key, err)
		}
	}
	c.Key = key
	return c, seen == 1, nil
}

// Commit stores c if the stored version still equals c.Version and updateID
// was not committed before, marks updateID as seen and appends out to c's
// outbox, atomically and in one round trip. An Outbound without a Key gets
// c.Key. Messages are kept in c.Key's outbox whatever their Key, so Done must
// be given c.Key. An empty updateID disables the dedupe check. It returns the
// new version, bot.ErrConflict or bot.ErrDuplicate.
func (r *Redis) Commit(ctx context.Context, c bot.Conversation, updateID string, out []bot.Outbound) (int64, error) {
	state, err := json.Marshal(c)
	if err != nil {
		return 0, fmt.Errorf("store: commit %s: encode state: %w", c.Key, err)
	}
	args := make([]any, 0, 6+len(out))
	args = append(args,
		c.Version,
		state,
		r.opts.StateTTL.Milliseconds(),
		r.opts.DedupeTTL.Milliseconds(),
		(4 * r.opts.DedupeTTL).Milliseconds(),
		flag(updateID != ""),
	)
	for _, o := range out {
		if o.Key == (bot.ConvKey{}) {
			o.Key = c.Key
		}
		b, err := json.Marshal(o)
		if err != nil {
			return 0, fmt.Errorf("store: commit %s: encode outbound %s: %w", c.Key, o.ID, err)
		}
		args = append(args, b)
	}
	v, err := r.commit.Run(ctx, r.client,
		[]string{r.stateKey(c.Key), r.markerKey(c.Key, updateID), r.outboxKey(c.Key)},
		args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("store: commit %s: %w", c.Key, err)
	}
	switch v {
	case -1:
		return 0, fmt.Errorf("store: commit %s update %s: %w", c.Key, updateID, bot.ErrDuplicate)
	case -2:
		return 0, fmt.Errorf("store: commit %s version %d: %w", c.Key, c.Version, bot.ErrConflict)
	}
	return v, nil
}

// Done removes the message with this id from key's outbox. Removing a message
// that is not there (already removed) is not an error. One round trip.
func (r *Redis) Done(ctx context.Context, key bot.ConvKey, id string) error {
	if err := r.done.Run(ctx, r.client, []string{r.outboxKey(key)}, id).Err(); err != nil {
		return fmt.Errorf("store: outbox done %s %s: %w", key, id, err)
	}
	return nil
}

// Pending calls fn for every message of every outbox, each outbox in order.
// It stops at fn's first error and returns it. On a Redis Cluster it scans
// every master.
func (r *Redis) Pending(ctx context.Context, fn func(bot.Outbound) error) error {
	pattern := escapeGlob(r.opts.Prefix) + ":{*}:o"
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return pendingOn(ctx, node, pattern, fn)
		})
	}
	return pendingOn(ctx, r.client, pattern, fn)
}

// pendingOn scans one node for outbox lists and replays them.
func pendingOn(ctx context.Context, c redis.Cmdable, pattern string, fn func(bot.Outbound) error) error {
	seen := make(map[string]bool)
	var keys []string
	var cursor uint64
	for {
		batch, next, err := c.ScanType(ctx, cursor, pattern, 512, "list").Result()
		if err != nil {
			return fmt.Errorf("store: outbox scan: %w", err)
		}
		for _, k := range batch {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	for _, k := range keys {
		items, err := c.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			return fmt.Errorf("store: outbox read %s: %w", k, err)
		}
		for _, raw := range items {
			var o bot.Outbound
			if err := json.Unmarshal([]byte(raw), &o); err != nil {
				return fmt.Errorf("store: outbox decode %s: %w", k, err)
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// flag encodes a bool as a script argument.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// escapeGlob escapes the characters SCAN MATCH treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
