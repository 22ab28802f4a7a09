package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file holds what replicas coordinate through Redis beyond a
// conversation: shared rate limits (the only way several replicas can keep a
// platform's limits together), leader locks for work one replica at a time
// does, once-markers and small named values.

// allowLua is GCRA (the generic cell rate algorithm): KEYS[1] holds the
// theoretical arrival time in µs of the server's clock. ARGV: emission
// interval µs, burst. Returns {1, 0} when allowed, {0, wait µs} otherwise.
const allowLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - interval * burst
if allow_at > now then return {0, allow_at - now} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
`

// lockLua takes or renews a lock for ARGV[1]: 1 when ARGV[1] holds it now.
// KEYS: lock. ARGV: owner, TTL ms.
const lockLua = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`

var (
	allowScript = redis.NewScript(allowLua)
	lockScript  = redis.NewScript(lockLua)
)

// Allow takes one message from the limit named name — n messages per per,
// at most burst at once — shared by every process on this Redis (its clock
// decides). It returns whether the message may go now and, if not, how long
// until it may. In any window of length per at most n+burst-1 messages pass:
// keep n+burst-1 at the platform's limit.
func (r *Redis) Allow(ctx context.Context, name string, n int, per time.Duration, burst int) (bool, time.Duration, error) {
	if n <= 0 || per <= 0 {
		return false, 0, fmt.Errorf("store: limit %s: %d per %s is not a rate", name, n, per)
	}
	interval := max(per.Microseconds()/int64(n), 1)
	res, err := allowScript.Run(ctx, r.client, []string{r.opts.Prefix + ":rl:{" + name + "}"}, interval, max(burst, 1)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("store: limit %s: %w", name, err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("store: limit %s: unexpected reply", name)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Microsecond, nil
}

// Lock takes or renews the lock named name for this process (its Owner)
// for ttl: true when this process holds it now. A process that stops
// renewing loses it after ttl.
func (r *Redis) Lock(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	n, err := lockScript.Run(ctx, r.client, []string{r.opts.Prefix + ":lock:{" + name + "}"}, r.opts.Owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("store: lock %s: %w", name, err)
	}
	return n == 1, nil
}

// Unlock drops the lock named name if this process holds it.
func (r *Redis) Unlock(ctx context.Context, name string) error {
	if err := r.unlock.Run(ctx, r.client, []string{r.opts.Prefix + ":lock:{" + name + "}"}, r.opts.Owner).Err(); err != nil {
		return fmt.Errorf("store: unlock %s: %w", name, err)
	}
	return nil
}

// Once reports whether marker is new (and sets it for ttl): of many
// processes calling it, exactly one gets true.
func (r *Redis) Once(ctx context.Context, marker string, ttl time.Duration) (bool, error) {
	ok, err := r.client.SetNX(ctx, r.opts.Prefix+":once:{"+marker+"}", "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("store: once %s: %w", marker, err)
	}
	return ok, nil
}

// Value returns the small named value set by SetValue ("" if none).
func (r *Redis) Value(ctx context.Context, name string) (string, error) {
	v, err := r.client.Get(ctx, r.opts.Prefix+":val:{"+name+"}").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: value %s: %w", name, err)
	}
	return v, nil
}

// SetValue stores a small named value for ttl (0: no expiry).
func (r *Redis) SetValue(ctx context.Context, name, value string, ttl time.Duration) error {
	if err := r.client.Set(ctx, r.opts.Prefix+":val:{"+name+"}", value, ttl).Err(); err != nil {
		return fmt.Errorf("store: set value %s: %w", name, err)
	}
	return nil
}

// Announce says that the process nonce runs under this store's owner name
// (RedisOptions.Owner) for the next ttl, and returns the nonce that said so
// before ("" if none, or it lapsed). A process that announces itself every
// beat and then finds another nonce than its own has a twin: another live
// process under its name, taking its outbox leases. One round trip.
func (r *Redis) Announce(ctx context.Context, nonce string, ttl time.Duration) (string, error) {
	prev, err := r.client.SetArgs(ctx, r.opts.Prefix+":replica:"+r.opts.Owner, nonce, redis.SetArgs{TTL: ttl, Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: announce %s: %w", r.opts.Owner, err)
	}
	return prev, nil
}
