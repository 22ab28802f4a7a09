package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/store/storetest"
)

func TestEvictionRiskFromInfo(t *testing.T) {
	info := func(maxmem, policy string) string {
		return "# Memory\r\nused_memory:1048576\r\nmaxmemory:" + maxmem + "\r\nmaxmemory_human:x\r\nmaxmemory_policy:" + policy + "\r\n"
	}
	tests := []struct {
		name, info string
		at         bool
		err        string
	}{
		{"no limit", info("0", "allkeys-lru"), false, ""},
		{"limit, no eviction", info("1073741824", "noeviction"), false, ""},
		{"limit, allkeys-lru", info("1073741824", "allkeys-lru"), true, ""},
		{"limit, volatile-ttl", info("104857600", "volatile-ttl"), true, ""},
		{"no policy", "# Memory\r\nmaxmemory:5\r\n", false, "no maxmemory or maxmemory_policy"},
		{"empty", "", false, "no maxmemory or maxmemory_policy"},
		{"odd number", info("lots", "noeviction"), false, `maxmemory "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			risk, at, err := evictionRisk(tt.info)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one saying %q", err, tt.err)
				}
				return
			}
			if err != nil || at != tt.at {
				t.Fatalf("at %v, err %v; want %v", at, err, tt.at)
			}
			if at && (risk.Policy == "" || risk.MaxMemory == 0) {
				t.Errorf("risk %+v lacks the policy or the limit", risk)
			}
		})
	}
}

// A server that may evict is reported, with its address and settings; one
// without a limit, or with noeviction, is not.
func TestEvictionsOfAServer(t *testing.T) {
	ctx := context.Background()
	srv := storetest.StartRedis(t, storetest.RedisOptions{})
	r, _, _ := newTestRedis(t, srv.URL(0), RedisOptions{})
	steps := []struct {
		maxmem, policy string
		want           string
	}{
		{"0", "allkeys-lru", "[]"},
		{"64mb", "noeviction", "[]"},
		{"64mb", "allkeys-lru", fmt.Sprintf("[{%s allkeys-lru 67108864}]", srv.Addr())},
		{"64mb", "volatile-lru", fmt.Sprintf("[{%s volatile-lru 67108864}]", srv.Addr())},
	}
	for _, s := range steps {
		if err := r.client.ConfigSet(ctx, "maxmemory", s.maxmem).Err(); err != nil {
			t.Fatal(err)
		}
		if err := r.client.ConfigSet(ctx, "maxmemory-policy", s.policy).Err(); err != nil {
			t.Fatal(err)
		}
		risks, err := r.Evictions(ctx)
		if err != nil {
			t.Fatalf("maxmemory %s, %s: %v", s.maxmem, s.policy, err)
		}
		if got := fmt.Sprint(risks); got != s.want {
			t.Errorf("maxmemory %s, %s: Evictions = %s, want %s", s.maxmem, s.policy, got, s.want)
		}
	}
}

// On a cluster every master is checked.
func TestEvictionsOfACluster(t *testing.T) {
	ctx := context.Background()
	r, client, _ := newTestRedis(t, clusterURL(t), RedisOptions{})
	cc := client.(*redis.ClusterClient)
	set := func(maxmem, policy string) {
		t.Helper()
		if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.ConfigSet(ctx, "maxmemory", maxmem).Err()
		}); err != nil {
			t.Fatal(err)
		}
		if err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return c.ConfigSet(ctx, "maxmemory-policy", policy).Err()
		}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { set("0", "noeviction") })
	set("1gb", "allkeys-lru")
	risks, err := r.Evictions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(risks) != 3 {
		t.Fatalf("Evictions = %v, want the cluster's 3 masters", risks)
	}
	for i, e := range risks {
		if e.Policy != "allkeys-lru" || e.MaxMemory != 1<<30 || e.Addr == "" || i > 0 && e.Addr <= risks[i-1].Addr {
			t.Errorf("risk %d = %+v", i, e)
		}
	}
	set("1gb", "noeviction")
	if risks, err := r.Evictions(ctx); err != nil || len(risks) != 0 {
		t.Errorf("with noeviction: %v, %v; want none", risks, err)
	}
}

// Through Sentinel the current master is checked.
func TestEvictionsThroughSentinel(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newTestRedis(t, sentinelURL(t), RedisOptions{})
	if risks, err := r.Evictions(ctx); err != nil || len(risks) != 0 {
		t.Fatalf("Evictions = %v, %v; want none on a master without a limit", risks, err)
	}
	t.Cleanup(func() { _ = r.client.ConfigSet(context.Background(), "maxmemory", "0").Err() })
	if err := r.client.ConfigSet(ctx, "maxmemory", "1gb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.client.ConfigSet(ctx, "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.client.ConfigSet(context.Background(), "maxmemory-policy", "noeviction").Err() })
	risks, err := r.Evictions(ctx)
	if err != nil || len(risks) != 1 || risks[0].Policy != "allkeys-lfu" {
		t.Fatalf("Evictions = %v, %v; want the master's allkeys-lfu", risks, err)
	}
}
