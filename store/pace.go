package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
)

// Shared pacing: one Redis script per send keeps a channel's limits for
// every replica together (bot.Pacer). A channel's keys share one hash tag,
// so the script works on Redis Cluster: the channel-wide budget, the bulk
// lane's pause and every chat's budget.

var _ bot.Pacer = (*Redis)(nil)

// paceLua is GCRA (see allowLua) on two budgets at once: the channel's and,
// when ARGV[5] is 1, the chat's. A send passes only if both allow it, and
// then spends from both. How far a send may run ahead of the channel's
// rate is its lane's burst: replies get a larger one than bulk, so while
// replies come they go first and bulk fills what they leave. Bulk sends
// also wait out the lane's pause (KEYS[2], until µs). KEYS: channel budget, bulk pause,
// chat budget. ARGV: channel interval µs, channel tolerance µs, chat
// interval µs, chat tolerance µs, check chat (0/1), bulk (0/1). Returns the
// wait in µs (0: go now).
const paceLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
if ARGV[6] == '1' then
  local until_ = tonumber(redis.call('GET', KEYS[2]) or '0')
  if until_ > now then return until_ - now end
end
local gi, gtol = tonumber(ARGV[1]), tonumber(ARGV[2])
local gtat = tonumber(redis.call('GET', KEYS[1]) or '0')
if gtat < now then gtat = now end
local wait = gtat - now - gtol
local ctat = 0
if ARGV[5] == '1' then
  local ci, ctol = tonumber(ARGV[3]), tonumber(ARGV[4])
  ctat = tonumber(redis.call('GET', KEYS[3]) or '0')
  if ctat < now then ctat = now end
  local cw = ctat - now - ctol
  if cw > wait then wait = cw end
  if wait > 0 then return wait end
  ctat = ctat + ci
  redis.call('SET', KEYS[3], tostring(ctat), 'PX', math.ceil((ctat - now) / 1000) + 1)
end
if wait > 0 then return wait end
gtat = gtat + gi
redis.call('SET', KEYS[1], tostring(gtat), 'PX', math.ceil((gtat - now) / 1000) + 1)
return 0
`

// pauseLua moves the bulk lane's pause (KEYS[1]) to now + ARGV[1] µs
// unless it already lasts longer.
const pauseLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local until_ = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur >= until_ then return 0 end
redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil((until_ - now) / 1000) + 1)
return 1
`

var (
	paceScript  = redis.NewScript(paceLua)
	pauseScript = redis.NewScript(pauseLua)
)

func (r *Redis) paceKey(ch bot.Channel, what string) string {
	return r.opts.Prefix + ":pace:{" + string(ch) + "}:" + what
}

func interval(perSecond float64) int64 {
	return max(int64(math.Round(1e6/perSecond)), 1)
}

// Pace asks whether one message may be sent now under the limits shared by
// every replica; when not, it says how long to wait. See bot.Pacer.
func (r *Redis) Pace(ctx context.Context, p bot.Pace) (time.Duration, error) {
	keys, args, err := r.paceCall(p)
	if err != nil {
		return 0, err
	}
	us, err := paceScript.Run(ctx, r.client, keys, args...).Int64()
	if err != nil {
		return 0, fmt.Errorf("store: pace %s: %w", p.Channel, err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// paceCall is the keys and arguments of paceLua for p.
func (r *Redis) paceCall(p bot.Pace) ([]string, []any, error) {
	if p.Rate <= 0 || (p.Chat != "" && p.PerChat <= 0) {
		return nil, nil, fmt.Errorf("store: pace %s: rate %g, per chat %g", p.Channel, p.Rate, p.PerChat)
	}
	gi := interval(p.Rate)
	gtol := int64(max(p.Burst-1, 0)) * gi
	bulk := "0"
	if p.Lane == bot.LaneBulk {
		bulk = "1"
	}
	var ci, ctol int64
	checkChat, chatKey := "0", r.paceKey(p.Channel, "c:")
	if p.Chat != "" {
		ci = interval(p.PerChat)
		ctol = int64(max(p.ChatBurst-1, 0)) * ci
		checkChat, chatKey = "1", r.paceKey(p.Channel, "c:"+p.Chat)
	}
	keys := []string{r.paceKey(p.Channel, "all"), r.paceKey(p.Channel, "pause"), chatKey}
	return keys, []any{gi, gtol, ci, ctol, checkChat, bulk}, nil
}

// PauseBulk stops every replica's bulk sends on ch for d (unless they are
// paused for longer already): the platform asked to slow down.
func (r *Redis) PauseBulk(ctx context.Context, ch bot.Channel, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if err := pauseScript.Run(ctx, r.client, []string{r.paceKey(ch, "pause")}, d.Microseconds()).Err(); err != nil {
		return fmt.Errorf("store: pause bulk %s: %w", ch, err)
	}
	return nil
}
