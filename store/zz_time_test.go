package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/dashboard"
)

func TestZZTime(t *testing.T) {
	ctx := context.Background()
	p, err := OpenPostgres(ctx, "postgres://postgres@127.0.0.1:5432/dash_explore", discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	d := p.Dashboard()
	month := dashboard.Query{From: dashBenchT0, To: dashBenchT0.AddDate(0, 0, 30), Location: time.FixedZone("ICT", 7*3600)}
	area := month
	area.Area = "p_5"
	for name, f := range map[string]func() error{
		"funnel":     func() error { _, err := d.Funnel(ctx, dashboard.FunnelQuery{Query: month, Flow: "flow_3"}); return err },
		"funnelArea": func() error { _, err := d.Funnel(ctx, dashboard.FunnelQuery{Query: area, Flow: "flow_3"}); return err },
		"overview":   func() error { _, err := d.Overview(ctx, month); return err },
	} {
		var ds []time.Duration
		for range 7 {
			s := time.Now()
			if err := f(); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(s))
		}
		slices.Sort(ds)
		t.Logf("%s: min %v median %v max %v", name, ds[0], ds[3], ds[6])
	}
}
