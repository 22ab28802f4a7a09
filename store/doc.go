// Package store is the only place in gocua that speaks SQL or Redis. It
// implements the storage ports declared by package bot:
//
//   - [Redis] implements bot.Conversations and bot.Outbox with go-redis v9.
//   - [Postgres] implements bot.Records with pgx v5 and applies the embedded
//     goose migrations (migrations/postgres) under a PostgreSQL advisory lock.
//   - [SQLite] implements bot.Records, with the same guarantees, on an
//     embedded SQLite file (modernc.org/sqlite: pure Go, no cgo) and applies
//     its own embedded migrations (migrations/sqlite).
//   - [EmbeddedRedis] is an in-process Redis server (miniredis) that [Redis]
//     talks to through the same go-redis code, via [EmbeddedRedis.URL].
//
// # Embedded default
//
// With no database URL and no Redis URL, gocua runs on [SQLite] and
// [EmbeddedRedis]. What persists where:
//
//   - The SQLite file keeps everything [Postgres] would: residents, tickets
//     and transcripts, flow events. It survives restarts (WAL mode,
//     synchronous=NORMAL: a committed record survives a crash of the
//     process; the last moments may be lost on a power cut).
//   - The embedded Redis keeps its data in memory only: conversation state
//     (where each resident is in a flow), update dedupe markers and the
//     outbox of undelivered messages are lost when the process stops. After
//     a restart residents start their flows afresh; messages not yet
//     delivered at shutdown are not sent. Keys expire with the wall clock
//     as on a real server.
//
// The embedded stores serve one process: SQLite writes go through one
// connection (so concurrent Records never fail with SQLITE_BUSY), and
// nothing coordinates replicas. Production sets both URLs.
//
// # One contract, two back ends
//
// The query text shared by PostgreSQL and SQLite lives once, in records.go;
// both drivers accept $1-style placeholders. The dialects differ only where
// the data shapes do: PostgreSQL sends Record as one pgx batch using arrays
// and data-modifying CTEs; SQLite runs the same steps as statements in one
// transaction, stores times as fixed-width UTC text
// ("2026-03-07T07:30:00.000000Z", so text order is time order), booleans as
// 0/1, ticket vars as JSON text, and the updates that joined a waiting ticket
// as rows of ticket_handoffs instead of an array. The store tests run one
// suite (contract_test.go) against both durable stores, and the Redis suite
// against the real server, the embedded one and a real three-master Redis
// Cluster (cluster_test.go, store/storetest.StartCluster).
//
// # Redis key layout
//
// Every key of one conversation shares a hash tag, the conversation key inside
// braces, so all of them live in one Redis Cluster slot and every Lua script
// touches a single slot:
//
//	<prefix>:{telegram:123}:s            HASH  v = version, d = JSON of bot.Conversation
//	<prefix>:{telegram:123}:u:<update>   STRING dedupe marker of a committed update
//	<prefix>:{telegram:123}:o            LIST  outbox: JSON of bot.Outbound, oldest first
//	<prefix>:{zalo-bot:ab12}:m           STRING the last numbered menu sent (bot.Menu JSON)
//	<prefix>:{zalo-oa:2468}:snd          STRING sends to the chat under way (60 s TTL)
//	<prefix>:{zalo-oa:2468}:own          ZSET  ids of messages gocua sent (24 h, at most 1000)
//
// Keys of a channel rather than a conversation carry the channel as their
// tag, e.g. the Zalo OA inbox, a stream read by the consumer group "gocua"
// (at-least-once: an entry not acked is handed out again after minIdle):
//
//	<prefix>:inbox:{zalo-oa}             STREAM inbound events queued before the webhook answered
//
// The default prefix is "gocua".
//
// # Redis guarantees
//
//   - Load is one round trip (a Lua script) returning the state, its version
//     and whether the update was already committed.
//   - Commit is one round trip (a Lua script): it fails with bot.ErrDuplicate
//     when the update's marker exists and with bot.ErrConflict when the stored
//     version moved; otherwise it writes the state with version+1 and a fresh
//     idle TTL, sets the marker (kept for the dedupe TTL, 48 h by default) and
//     appends the outbound messages to the outbox, all atomically.
//   - The outbox gets a TTL of four dedupe TTLs on every append so an
//     abandoned list never leaks; Done removes one delivered message by id.
//   - Scripts are loaded with SCRIPT LOAD when the store is created, so the
//     steady state is EVALSHA only; after a server restart go-redis falls back
//     to EVAL once.
//
// # Durable store guarantees
//
// These hold for [Postgres]; [SQLite] keeps the same ones by running the same
// steps in one transaction on its single writer connection.
//
//   - Record writes everything one update did in one implicit transaction sent
//     as a single pgx batch (one round trip in the steady state). It is
//     idempotent: the resident upsert converges, flow events and transcript
//     lines carry unique keys (conversation, update, sequence) inserted with
//     ON CONFLICT DO NOTHING, and a handoff returns the ticket that the same
//     update created or joined before.
//   - Records of one resident serialize on the resident's row, which the
//     first statement of the batch upserts and locks until commit.
//   - A resident has at most one waiting ticket, enforced by a partial unique
//     index; a second handoff joins the waiting ticket.
//   - PostgreSQL text cannot hold NUL bytes or invalid UTF-8: NUL bytes are
//     stripped and invalid sequences replaced before storing (SQLite stores
//     the same cleaned text, so both back ends read back the same).
//   - Migrate may run from several replicas at once: goose holds a session
//     advisory lock, so exactly one applies each migration.
package store
