package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/store/storetest"
)

// sentinel is the shared master and sentinel (see sharedServer).
var sentinel *storetest.Sentinel

// sentinelURL returns the shared sentinel's failover URL, starting it and
// its master on first use.
func sentinelURL(t testing.TB) string {
	return sharedSentinel.get(t, "sentinel", func(ctx context.Context, dir string) (string, func() error, error) {
		s, err := storetest.StartSentinel(ctx, dir)
		if err != nil {
			return "", nil, err
		}
		sentinel = s
		return s.URL(), s.Close, nil
	})
}

// OpenRedis reaches the master a Sentinel names for a URL with
// master_name=: what it commits is on that master.
func TestOpenRedisSentinel(t *testing.T) {
	ctx := context.Background()
	url := sentinelURL(t)
	if !IsSentinelURL(url) || IsClusterURL(url+"&addr="+sentinel.SentinelAddr) {
		t.Fatalf("%q: not told apart from a cluster URL", url)
	}
	prefix := fmt.Sprintf("t_sentinel_%d", time.Now().UnixNano())
	r, err := OpenRedis(ctx, url, RedisOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	key := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "42"}
	if _, err := r.Commit(ctx, bot.Conversation{Key: key}, "u1", nil); err != nil {
		t.Fatal(err)
	}
	master := redis.NewClient(&redis.Options{Addr: sentinel.MasterAddr})
	defer master.Close()
	if n, err := master.Exists(ctx, r.stateKey(key)).Result(); err != nil || n != 1 {
		t.Fatalf("state on the master: %d, %v", n, err)
	}
	if _, err := OpenRedis(ctx, "redis://"+sentinel.SentinelAddr+"?master_name=nobody", RedisOptions{}); err == nil {
		t.Fatal("a master the sentinel does not know was opened")
	}
}
