package store

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// EmbeddedRedis is an in-process Redis server (miniredis) listening on a
// loopback port, for running gocua without a Redis server. The same go-redis
// code talks to it: pass URL to [OpenRedis]. It keeps everything in memory:
// conversation state, dedupe markers and the outbox are lost when the
// process exits. Keys expire with the wall clock, as on a real server.
type EmbeddedRedis struct {
	m *miniredis.Miniredis
}

// StartEmbeddedRedis starts an in-process Redis server on 127.0.0.1 at a
// free port. Close stops it.
func StartEmbeddedRedis(ctx context.Context) (*EmbeddedRedis, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: embedded redis: %w", err)
	}
	m := miniredis.NewMiniRedis()
	// Without this miniredis only expires keys on FastForward.
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("store: embedded redis: %w", err)
	}
	return &EmbeddedRedis{m: m}, nil
}

// URL returns the server's address as a redis:// URL for [OpenRedis].
func (e *EmbeddedRedis) URL() string { return "redis://" + e.m.Addr() + "/0" }

// Close stops the server and drops its data. Clients still connected get
// errors.
func (e *EmbeddedRedis) Close() { e.m.Close() }
