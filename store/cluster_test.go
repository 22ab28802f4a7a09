package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/store/storetest"
)

// The package's Redis tests also run on a real three-master Redis Cluster
// (the "cluster" entry of redisServers). It is started once, by the first
// test that needs it, and stopped by TestMain (closeCluster) after the
// last. It needs redis-server and redis-cli (Debian packages redis-server
// and redis-tools): without them every cluster test fails.

// sharedCluster is the package's cluster; once guards starting it.
var sharedCluster struct {
	once sync.Once
	c    *storetest.Cluster
	dir  string
	err  error
}

// clusterURL returns the shared cluster's URL, starting the cluster on
// first use. Tests keep apart by key prefix (newTestRedis): a cluster has
// only DB 0.
func clusterURL(t testing.TB) string {
	t.Helper()
	sc := &sharedCluster
	sc.once.Do(func() {
		if sc.dir, sc.err = os.MkdirTemp("", "gocua-store-cluster-"); sc.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sc.c, sc.err = storetest.StartCluster(ctx, sc.dir)
	})
	if sc.err != nil {
		t.Fatalf("redis cluster: %v", sc.err)
	}
	return sc.c.URL()
}

// closeCluster stops the shared cluster if a test started it.
func closeCluster() error {
	sc := &sharedCluster
	var err error
	if sc.c != nil {
		err = sc.c.Close()
	}
	if sc.dir != "" {
		if rerr := os.RemoveAll(sc.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// OpenRedis opens a cluster client for a URL with addr= parameters, and
// each conversation's keys land in one slot while conversations spread
// over the masters.
func TestOpenRedisCluster(t *testing.T) {
	ctx := context.Background()
	url := clusterURL(t)
	if !IsClusterURL(url) {
		t.Fatalf("IsClusterURL(%q) = false", url)
	}
	prefix := fmt.Sprintf("t_open_%d", time.Now().UnixNano())
	r, err := OpenRedis(ctx, url, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cc, ok := r.client.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("OpenRedis(%q) made a %T, want *redis.ClusterClient", url, r.client)
	}
	masters := map[string]bool{}
	for i := range 12 {
		key := tgKey(fmt.Sprint(i))
		c, _, err := r.Load(ctx, key, "u1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Commit(ctx, c, "u1", []bot.Outbound{{ID: "m", Text: "x"}}); err != nil {
			t.Fatal(err)
		}
		slots := map[int64]bool{}
		for _, k := range []string{r.stateKey(key), r.markerKey(key, "u1"), r.outboxKey(key), r.leaseKey(key)} {
			slot, err := cc.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			slots[slot] = true
		}
		if len(slots) != 1 {
			t.Errorf("%s's keys are in %d slots, want 1", key, len(slots))
		}
		node, err := cc.MasterForKey(ctx, r.stateKey(key))
		if err != nil {
			t.Fatal(err)
		}
		masters[node.Options().Addr] = true
	}
	if len(masters) < 2 {
		t.Errorf("12 conversations are all on %v: not spread over the cluster", masters)
	}

	// one seed, repeated as addr= (a managed cluster's single endpoint):
	// the client finds the other masters
	seed := strings.TrimPrefix(url[:strings.Index(url, "?")], "redis://")
	one, err := OpenRedis(ctx, "redis://"+seed+"?addr="+seed, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	for i := range 12 {
		if c, seen, err := one.Load(ctx, tgKey(fmt.Sprint(i)), "u1"); err != nil || !seen || c.Version != 1 {
			t.Fatalf("through one seed, Load %d = version %d, seen %v, %v; want what r committed", i, c.Version, seen, err)
		}
	}
}

// A cluster URL that names a database, or is malformed, is refused with a
// reason before anything connects.
func TestOpenRedisClusterBadURL(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"redis://127.0.0.1:1/3?addr=127.0.0.1:2", "only database 0"},
		{"redis://127.0.0.1:1?addr=127.0.0.1", "addr"},
		{"redis://127.0.0.1:1?addr=127.0.0.1:2&db=1", "unexpected option: db"},
		{"redis://127.0.0.1:1?addr=127.0.0.1:2&max_retries=x", "max_retries"},
		{"http://127.0.0.1:1?addr=127.0.0.1:2", "scheme"},
	} {
		_, err := OpenRedis(context.Background(), c.url, RedisOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "cluster") {
			t.Errorf("OpenRedis(%q) = %v, want an error about the cluster URL naming %q", c.url, err, c.want)
		}
	}
	for _, u := range []string{"redis://127.0.0.1:6379/2", "rediss://u:p@h:6380", "redis://h?db=3"} {
		if IsClusterURL(u) {
			t.Errorf("IsClusterURL(%q) = true for a single-node URL", u)
		}
	}
	for _, u := range []string{"redis://h:7000?addr=h2:7001", "rediss://u:p@h:7000/0?addr=h2:7001&addr=h3:7002"} {
		if !IsClusterURL(u) {
			t.Errorf("IsClusterURL(%q) = false", u)
		}
		if err := clusterDBError(u); err != nil {
			t.Errorf("clusterDBError(%q) = %v", u, err)
		}
	}
}
