package store

import (
	"context"
	"fmt"
)

// waitingTicketsSQL counts the handoff queue; the same text serves both dialects.
const waitingTicketsSQL = `SELECT count(*) FROM tickets WHERE status = 'waiting'`

// WaitingTickets counts the tickets waiting for a volunteer.
func (p *Postgres) WaitingTickets(ctx context.Context) (int64, error) {
	var n int64
	if err := p.pool.QueryRow(ctx, waitingTicketsSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count waiting tickets: %w", err)
	}
	return n, nil
}

// WaitingTickets counts the tickets waiting for a volunteer.
func (s *SQLite) WaitingTickets(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, waitingTicketsSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count waiting tickets: %w", err)
	}
	return n, nil
}
