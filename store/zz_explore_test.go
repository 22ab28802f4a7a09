package store

import (
	"context"
	"strings"
	"testing"

	"github.com/gocua/gocua/store/storetest"
)

func TestZZExploreSeed(t *testing.T) {
	ctx := context.Background()
	u, err := storetest.CreateDatabase(ctx, "dash_explore")
	if err != nil {
		t.Fatal(err)
	}
	p := openTestPostgres(t, u)
	for _, q := range dashBenchSeed {
		var args []any
		if strings.Contains(q, "$1") {
			args = append(args, dashBenchT0)
		}
		if _, err := p.db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	t.Log(u)
}
