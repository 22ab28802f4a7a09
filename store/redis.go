package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
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
	DefaultLeaseTTL    = 30 * time.Second
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
	// Owner names this process in outbox leases (see bot.Outbox). It must
	// differ between processes running at the same time and should stay the
	// same when one restarts, so that it takes its own undelivered messages
	// back at once (default: host name and process id, which differ at
	// every start: a restarted process then waits for its old leases to
	// expire).
	Owner string
	// LeaseTTL is how long an outbox lease lasts unless renewed (default 30 s).
	LeaseTTL time.Duration
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
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = host + "/" + strconv.Itoa(os.Getpid())
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	return o
}

// Redis keeps conversation state, update dedupe markers and the outbox. It
// implements bot.Conversations and bot.Outbox. It is safe for concurrent use.
type Redis struct {
	client redis.UniversalClient
	opts   RedisOptions

	commit *redis.Script
	done   *redis.Script
	claim  *redis.Script
	renew  *redis.Script
	unlock *redis.Script
	forget *redis.Script
	append *redis.Script
}

var (
	_ bot.Conversations = (*Redis)(nil)
	_ bot.Outbox        = (*Redis)(nil)
)

// commitLua returns {new version, lease}, or {-1} for a duplicate update,
// {-2} for a version conflict. Appending to the outbox takes its lease unless
// another owner holds it; lease is 0 when another owner holds it, 1 when this
// process does, 2 when this process took a free lease on an outbox that
// already held older messages (a backlog nobody was delivering) or holds the
// lease on an outbox another owner appended to meanwhile (its sender does
// not hold those messages: it must claim them, or they would go out after
// this commit's). An append while another owner holds the lease sets the
// foreign flag; an append under this owner's lease clears it. The marker
// is set first, as the dedupe check (SET NX), and taken back on a version
// conflict; the messages go in with pushLua: two commands fewer a commit,
// and one push for all its messages. The marker's value is "1", or the
// update's durable record when the core writes that after the commit
// (bot.Conversation.Record): a re-delivery then finds it there.
// KEYS: state, marker, outbox, lease, foreign flag.
// ARGV: expected version, state JSON, state TTL ms, dedupe TTL ms, outbox TTL ms,
// use marker (1/0), owner, lease TTL ms, marker value, outbound JSON...
const commitLua = pushLua + `
local dedupe = ARGV[6] == '1'
if dedupe and not redis.call('SET', KEYS[2], ARGV[9], 'NX', 'PX', ARGV[4]) then return {-1} end
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then
  if dedupe then redis.call('DEL', KEYS[2]) end
  return {-2}
end
v = v + 1
redis.call('HSET', KEYS[1], 'v', v, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local mine = 0
if #ARGV > 9 then
  local before = push(KEYS[3], 10)
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
  local holder = redis.call('GET', KEYS[4])
  if not holder or holder == ARGV[7] then
    redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[8])
    mine = 1
    local foreign = redis.call('DEL', KEYS[5]) == 1
    if before > 0 and (not holder or foreign) then mine = 2 end
  else
    redis.call('SET', KEYS[5], '1', 'PX', ARGV[5])
  end
end
return {v, mine}
`

// pushLua defines push(key, from), for the scripts that append to an
// outbox: it pushes ARGV[from] and every later argument onto the list key,
// a thousand per RPUSH (Lua's unpack stops near 8,000 values), and returns
// the list's length before, from the last RPUSH's reply.
const pushLua = `
local function push(key, from)
  local len = 0
  for i = from, #ARGV, 1000 do len = redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
  return len - (#ARGV - from + 1)
end
`

// OpenRedis connects to the Redis server at url (redis:// or rediss://, as
// accepted by redis.ParseURL), checks it answers and loads the scripts. A
// URL with addr= parameters is a Redis Cluster (see [IsClusterURL]): it is
// read by redis.ParseClusterURL and opened as a *redis.ClusterClient. A URL
// with master_name= names a master through Sentinel ([IsSentinelURL],
// redis.ParseFailoverURL).
func OpenRedis(ctx context.Context, url string, opts RedisOptions) (*Redis, error) {
	client, err := newRedisClient(url)
	if err != nil {
		return nil, err
	}
	r, err := NewRedis(ctx, client, opts)
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	return r, nil
}

// RouteRedisLogs sends what go-redis itself logs (a Sentinel failover, a
// connection it dropped, a cluster's topology reload) to log, at Warn,
// instead of the standard library's logger on stderr, so it comes out in
// gocua's log format with the rest. go-redis has one logger for the whole
// process: the last call wins.
func RouteRedisLogs(log *slog.Logger) { redis.SetLogger(redisLog{log}) }

// redisLog adapts an slog.Logger to go-redis's logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// IsClusterURL reports whether raw names a Redis Cluster rather than one
// server: it has at least one addr= query parameter, go-redis's cluster URL
// form (redis.ParseClusterURL), e.g.
// redis://user:pass@10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000.
// The host and every addr are seed nodes; the client learns the others
// from the cluster. A single-node URL cannot have addr= (redis.ParseURL
// rejects it), so the rule tells the two apart without a second setting.
func IsClusterURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Query().Has("addr") && !u.Query().Has("master_name")
}

// IsSentinelURL reports whether raw names a Redis master through Redis
// Sentinel: it has a master_name= parameter, go-redis's failover URL form
// (redis.ParseFailoverURL), e.g.
// redis://10.0.0.1:26379/0?master_name=gocua&password=pass&addr=10.0.0.2:26379
// (the user and password before the host are the sentinels').
// The host and every addr are sentinels; the client asks them for the
// current master and follows a failover.
func IsSentinelURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Query().Has("master_name")
}

// clusterDBError says why a cluster URL may not name a database: Redis
// Cluster has only DB 0. It returns nil for a path that names none ("" or
// "/") or DB 0.
func clusterDBError(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // redis.ParseClusterURL reports it
	}
	if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
		return fmt.Errorf("a Redis Cluster has only database 0: remove /%s from the URL", p)
	}
	return nil
}

// errReplicaReads refuses the URL options that send reads to replicas
// (read_only, route_by_latency, route_randomly, replica_only): Load reads
// the state and the dedupe marker with plain commands, which those would
// send to a replica that may not have the last commit yet — a re-delivered
// update would then look new, and be handled again before its commit is
// refused. (go-redis's failover client also panics on the two route_
// options.)
var errReplicaReads = errors.New("reads from replicas (read_only, route_by_latency, route_randomly, replica_only) are not supported: every command must go to the master")

// newRedisClient opens a client for url: a failover client for a Sentinel
// URL, a *redis.ClusterClient for a cluster URL, else a *redis.Client.
func newRedisClient(raw string) (redis.UniversalClient, error) {
	if IsSentinelURL(raw) {
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("store: parse redis sentinel url: %w", err)
		}
		if o.ReplicaOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, fmt.Errorf("store: redis sentinel url: %w", errReplicaReads)
		}
		o.ContextTimeoutEnabled = true
		o.PoolSize = cmp.Or(o.PoolSize, defaultRedisPool())
		smallBuffers(&o.ReadBufferSize, &o.WriteBufferSize, &o.PipelineReadBufferSize, &o.PipelineWriteBufferSize)
		return redis.NewFailoverClient(o), nil
	}
	if !IsClusterURL(raw) {
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("store: parse redis url: %w", err)
		}
		// Let ctx deadlines bound socket I/O, not only Read/WriteTimeout.
		o.ContextTimeoutEnabled = true
		o.PoolSize = cmp.Or(o.PoolSize, defaultRedisPool())
		smallBuffers(&o.ReadBufferSize, &o.WriteBufferSize, &o.PipelineReadBufferSize, &o.PipelineWriteBufferSize)
		return redis.NewClient(o), nil
	}
	if err := clusterDBError(raw); err != nil {
		return nil, fmt.Errorf("store: parse redis cluster url: %w", err)
	}
	o, err := redis.ParseClusterURL(raw)
	if err != nil {
		return nil, fmt.Errorf("store: parse redis cluster url: %w", err)
	}
	if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
		return nil, fmt.Errorf("store: redis cluster url: %w", errReplicaReads)
	}
	o.ContextTimeoutEnabled = true
	o.PoolSize = cmp.Or(o.PoolSize, defaultRedisPool())
	smallBuffers(&o.ReadBufferSize, &o.WriteBufferSize, &o.PipelineReadBufferSize, &o.PipelineWriteBufferSize)
	return redis.NewClusterClient(o), nil
}

// redisBufferSize is each Redis connection's read and write buffer (for
// the pipeline connections, unless the URL sets pipeline_read_buffer_size
// or pipeline_write_buffer_size). go-redis's defaults
// are 32 KiB each, 128 KiB on its pipeline connections: with 64
// connections per node they held about 7 MiB of gocua's heap under load
// (cmd/gocua-load's heap profile), while gocua's commands and replies are
// a conversation's state or a message, a few KiB; a larger one is still
// read and written whole, through the buffer in pieces.
const redisBufferSize = 8 << 10

// smallBuffers sets each buffer size left at 0 to redisBufferSize.
func smallBuffers(sizes ...*int) {
	for _, s := range sizes {
		*s = cmp.Or(*s, redisBufferSize)
	}
}

// defaultRedisPool is the connection pool (per node) when the URL sets no
// pool_size: go-redis's 10 per CPU, but at least 64, since an update holds
// a connection for each of its round trips and up to bot.Config.MaxInFlight
// (512) updates are handled at once; below that webhooks queue for a
// connection (cmd/gocua-load showed it at 1,000 updates/s on 2 CPUs).
func defaultRedisPool() int { return max(64, 10*runtime.GOMAXPROCS(0)) }

// NewRedis wraps an existing client (a *redis.Client, *redis.ClusterClient or
// failover client) and loads the Lua scripts with SCRIPT LOAD so that every
// later Commit is a single EVALSHA. Close closes client.
func NewRedis(ctx context.Context, client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	r := &Redis{
		client: client,
		opts:   opts.withDefaults(),
		commit: redis.NewScript(commitLua),
		done:   redis.NewScript(doneLua),
		claim:  redis.NewScript(claimLua),
		renew:  redis.NewScript(renewLua),
		unlock: redis.NewScript(unlockLua),
		forget: redis.NewScript(forgetLua),
		append: redis.NewScript(appendLua),
	}
	// paceScript too: CommitPaced sends it by its hash only
	for _, s := range []*redis.Script{r.commit, r.done, r.claim, r.renew, r.unlock, r.forget, r.append, paceScript} {
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
func (r *Redis) leaseKey(k bot.ConvKey) string  { return r.base(k) + "ol" }

// foreignKey is set while the outbox holds messages appended under another
// owner's lease (see commitLua).
func (r *Redis) foreignKey(k bot.ConvKey) string { return r.base(k) + "of" }
func (r *Redis) markerKey(k bot.ConvKey, updateID string) string {
	return r.base(k) + "u:" + updateID
}

// Load returns key's conversation (Version 0 when none is stored) and whether
// updateID was already committed; when it was, c.Record is the record its
// commit kept in the marker (see markedRecord). An empty updateID is never
// seen. One round trip: HMGET of the state, then GET of the marker, in one
// pipeline — plain commands, not a script (a script cost Redis more than
// both commands: cmd/gocua-load, docs/benchmarks.md). The two need not run
// as one: a commit writes the marker and the state together, and the GET
// runs after the HMGET, so a marker still absent means the state read was
// from before any commit of this update; a marker present makes the update
// a duplicate, whose state is not used. Both reads go to the master, which
// holds every commit: URLs that route reads to replicas are refused
// (errReplicaReads).
func (r *Redis) Load(ctx context.Context, key bot.ConvKey, updateID string) (bot.Conversation, bool, error) {
	c := bot.Conversation{Key: key}
	pipe := r.client.Pipeline()
	state := pipe.HMGet(ctx, r.stateKey(key), "v", "d")
	var mark *redis.StringCmd
	if updateID != "" {
		mark = pipe.Get(ctx, r.markerKey(key, updateID))
	}
	_, _ = pipe.Exec(ctx) // errors are read from each command
	res, err := state.Result()
	if err != nil {
		return c, false, fmt.Errorf("store: load %s: %w", key, err)
	}
	var marker string
	seen := false
	if mark != nil {
		switch marker, err = mark.Result(); {
		case err == nil:
			seen = true
		case !errors.Is(err, redis.Nil):
			return c, false, fmt.Errorf("store: load %s: %w", key, err)
		}
	}
	if len(res) != 2 {
		return c, false, fmt.Errorf("store: load %s: unexpected reply of %d items", key, len(res))
	}
	if data, _ := res[1].(string); data != "" {
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return bot.Conversation{Key: key}, false, fmt.Errorf("store: load %s: decode state: %w", key, err)
		}
		if v, ok := res[0].(string); ok {
			if c.Version, err = strconv.ParseInt(v, 10, 64); err != nil {
				return bot.Conversation{Key: key}, false, fmt.Errorf("store: load %s: version: %w", key, err)
			}
		}
		c.Key = key
	}
	if seen && marker != "1" {
		rec, err := decodeMarked(key, updateID, marker)
		if err != nil {
			return bot.Conversation{Key: key}, false, fmt.Errorf("store: load %s update %s: %w", key, updateID, err)
		}
		c.Record = &rec
	}
	return c, seen, nil
}

// Commit stores c if the stored version still equals c.Version and updateID
// was not committed before, marks updateID as seen and appends out to c's
// outbox, taking the outbox's lease unless another owner holds it,
// atomically. With messages to append it also marks the conversation in its
// channel's outbox index (for Stale), in the same round trip. An Outbound
// without a Key gets c.Key. Messages are kept in c.Key's outbox whatever their
// Key, so Done must be given c.Key. An empty updateID disables the dedupe
// check. It returns bot.ErrConflict or bot.ErrDuplicate when nothing was
// written.
func (r *Redis) Commit(ctx context.Context, c bot.Conversation, updateID string, out []bot.Outbound) (bot.Committed, error) {
	keys, args, err := r.commitCall(c, updateID, out)
	if err != nil {
		return bot.Committed{}, err
	}
	var res []int64
	if len(out) == 0 {
		res, err = r.commit.Run(ctx, r.client, keys, args...).Int64Slice()
	} else {
		res, err = r.commitIndexed(ctx, c.Key, keys, args)
	}
	if err != nil {
		return bot.Committed{}, fmt.Errorf("store: commit %s: %w", c.Key, err)
	}
	return committed(c, updateID, res)
}

// CommitPaced is Commit with the pacing check p (see Pace) for the first
// of out sent in the same round trip: paid reports that the check passed
// and its budget is spent, so the message may go at once without asking
// again. The check runs whether or not the commit succeeds (a pipeline,
// not one script: on a cluster the pacing keys live in another slot), so a
// commit that fails may waste one send of budget, which only ever slows
// sending down. A pacing check that fails (the server lost its scripts, as
// the commit then retried with its source) or says wait reports paid false
// and spends nothing. See bot.PacedCommitter.
func (r *Redis) CommitPaced(ctx context.Context, c bot.Conversation, updateID string, out []bot.Outbound, p bot.Pace) (bot.Committed, bool, error) {
	pkeys, pargs, err := r.paceCall(p)
	if err != nil || len(out) == 0 {
		res, err := r.Commit(ctx, c, updateID, out)
		return res, false, err
	}
	keys, args, err := r.commitCall(c, updateID, out)
	if err != nil {
		return bot.Committed{}, false, err
	}
	var pace *redis.Cmd
	res, err := r.runIndexed(ctx, c.Key, r.commit, keys, args, func(p redis.Pipeliner) {
		pace = paceScript.EvalSha(ctx, p, pkeys, pargs...)
	})
	if err != nil {
		return bot.Committed{}, false, fmt.Errorf("store: commit %s: %w", c.Key, err)
	}
	done, err := committed(c, updateID, res)
	wait, perr := pace.Int64()
	return done, err == nil && perr == nil && wait <= 0, err
}

// commitCall is the keys and arguments of commitLua.
func (r *Redis) commitCall(c bot.Conversation, updateID string, out []bot.Outbound) ([]string, []any, error) {
	state, err := json.Marshal(c)
	if err != nil {
		return nil, nil, fmt.Errorf("store: commit %s: encode state: %w", c.Key, err)
	}
	marker := []byte("1")
	if c.Record != nil && updateID != "" {
		if marker, err = encodeMarked(*c.Record); err != nil {
			return nil, nil, fmt.Errorf("store: commit %s: encode record: %w", c.Key, err)
		}
	}
	args := make([]any, 0, 9+len(out))
	args = append(args,
		c.Version,
		state,
		r.opts.StateTTL.Milliseconds(),
		r.opts.DedupeTTL.Milliseconds(),
		(4 * r.opts.DedupeTTL).Milliseconds(),
		flag(updateID != ""),
		r.opts.Owner,
		r.opts.LeaseTTL.Milliseconds(),
		marker,
	)
	for _, o := range out {
		if o.Key == (bot.ConvKey{}) {
			o.Key = c.Key
		}
		b, err := json.Marshal(o)
		if err != nil {
			return nil, nil, fmt.Errorf("store: commit %s: encode outbound %s: %w", c.Key, o.ID, err)
		}
		args = append(args, b)
	}
	keys := []string{r.stateKey(c.Key), r.markerKey(c.Key, updateID), r.outboxKey(c.Key), r.leaseKey(c.Key), r.foreignKey(c.Key)}
	return keys, args, nil
}

// committed reads commitLua's reply.
func committed(c bot.Conversation, updateID string, res []int64) (bot.Committed, error) {
	switch {
	case len(res) == 1 && res[0] == -1:
		return bot.Committed{}, fmt.Errorf("store: commit %s update %s: %w", c.Key, updateID, bot.ErrDuplicate)
	case len(res) == 1 && res[0] == -2:
		return bot.Committed{}, fmt.Errorf("store: commit %s version %d: %w", c.Key, c.Version, bot.ErrConflict)
	case len(res) != 2:
		return bot.Committed{}, fmt.Errorf("store: commit %s: unexpected reply of %d items", c.Key, len(res))
	}
	return bot.Committed{Version: res[0], Leased: res[1] > 0, Backlog: res[1] == 2}, nil
}

// commitIndexed runs the commit script and the outbox index update in one
// pipeline (one round trip on a single server; on a cluster the two go to
// their own nodes). The index entry may be written although the commit then
// fails: Stale lists it, Claim finds the outbox empty and Forget drops it.
func (r *Redis) commitIndexed(ctx context.Context, key bot.ConvKey, keys []string, args []any) ([]int64, error) {
	return r.runIndexed(ctx, key, r.commit, keys, args)
}

// runIndexed runs script with the outbox index update for key in one
// pipeline, sending the script's source if the server lost it. also, when
// set, adds commands of its own to the first attempt's pipeline.
func (r *Redis) runIndexed(ctx context.Context, key bot.ConvKey, script *redis.Script, keys []string, args []any, also ...func(redis.Pipeliner)) ([]int64, error) {
	run := func(eval func(redis.Pipeliner) *redis.Cmd, also []func(redis.Pipeliner)) ([]int64, error) {
		pipe := r.client.Pipeline()
		pipe.ZAdd(ctx, r.indexKey(key), redis.Z{Score: float64(time.Now().UnixMilli()), Member: key.ChatID})
		cmd := eval(pipe)
		for _, f := range also {
			f(pipe)
		}
		_, _ = pipe.Exec(ctx) // errors are read from each command
		return cmd.Int64Slice()
	}
	res, err := run(func(p redis.Pipeliner) *redis.Cmd { return script.EvalSha(ctx, p, keys, args...) }, also)
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// the server lost its scripts (restarted or flushed): send the source
		res, err = run(func(p redis.Pipeliner) *redis.Cmd { return script.Eval(ctx, p, keys, args...) }, nil)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// flag encodes a bool as a script argument.
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
