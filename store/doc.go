// Package store is the only place in gocua that speaks SQL or Redis. It
// implements the storage ports declared by package bot:
//
//   - [Redis] implements bot.Conversations and bot.Outbox with go-redis v9.
//   - [Postgres] implements bot.Records with pgx v5 and applies the embedded
//     goose migrations under a PostgreSQL advisory lock.
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
// # PostgreSQL guarantees
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
//     stripped and invalid sequences replaced before storing.
//   - Migrate may run from several replicas at once: goose holds a session
//     advisory lock, so exactly one applies each migration.
package store
