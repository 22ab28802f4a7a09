package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/dashboard"
)

// explainDB wraps QueryContext to print EXPLAIN ANALYZE.
func TestZZExplain(t *testing.T) {
	ctx := context.Background()
	p, err := OpenPostgres(ctx, "postgres://postgres@127.0.0.1:5432/dash_explore", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	explainHook = func(q string, args []any) {
		rows, err := p.db.QueryContext(ctx, "EXPLAIN (ANALYZE, TIMING OFF, BUFFERS) "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var l string
			rows.Scan(&l)
			fmt.Fprintln(os.Stderr, l)
		}
	}
	defer func() { explainHook = nil }()
	d := p.Dashboard()
	month := dashboard.Query{From: dashBenchT0, To: dashBenchT0.AddDate(0, 0, 30), Location: time.FixedZone("ICT", 7*3600)}
	switch os.Getenv("WHAT") {
	case "funnel":
		_, err = d.Funnel(ctx, dashboard.FunnelQuery{Query: month, Flow: "flow_3"})
	case "overview":
		_, err = d.Overview(ctx, month)
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = sql.ErrNoRows
}
