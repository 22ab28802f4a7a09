package store

import (
	"context"
	"errors"
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
// (the "cluster" entry of redisServers) and on a master reached through
// Redis Sentinel (the "sentinel" entry, see sentinel_test.go). Each is
// started once, by the first test that needs it, and stopped by TestMain
// (closeShared) after the last. They need redis-server and redis-cli
// (Debian packages redis-server and redis-tools): without them those tests
// fail.

// sharedServer is a server the package's tests share; once guards starting it.
type sharedServer struct {
	once sync.Once
	dir  string
	url  string
	stop func() error
	err  error
}

var sharedCluster, sharedSentinel sharedServer

// get returns the server's URL, starting it with start (in a temporary
// directory of its own) on first use.
func (s *sharedServer) get(t testing.TB, name string, start func(ctx context.Context, dir string) (url string, stop func() error, err error)) string {
	t.Helper()
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "gocua-store-"+name+"-"); s.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s.url, s.stop, s.err = start(ctx, s.dir)
	})
	if s.err != nil {
		t.Fatalf("redis %s: %v", name, s.err)
	}
	return s.url
}

// close stops the server if a test started it.
func (s *sharedServer) close() error {
	var err error
	if s.stop != nil {
		err = s.stop()
	}
	if s.dir != "" {
		if rerr := os.RemoveAll(s.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// closeShared stops the shared servers the tests started.
func closeShared() error { return errors.Join(sharedCluster.close(), sharedSentinel.close()) }

// clusterURL returns the shared cluster's URL, starting the cluster on
// first use. Tests keep apart by key prefix (newTestRedis): a cluster has
// only DB 0.
func clusterURL(t testing.TB) string {
	return sharedCluster.get(t, "cluster", func(ctx context.Context, dir string) (string, func() error, error) {
		c, err := storetest.StartCluster(ctx, dir)
		if err != nil {
			return "", nil, err
		}
		return c.URL(), c.Close, nil
	})
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
