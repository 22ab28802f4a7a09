package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/store/storetest"
)

// The package's Redis tests also run on a master reached through Redis
// Sentinel (the "sentinel" entry of redisServers), started once by the
// first test that needs it and stopped by TestMain (closeSentinel).

var sharedSentinel struct {
	once sync.Once
	s    *storetest.Sentinel
	dir  string
	err  error
}

// sentinelURL returns the shared sentinel's failover URL, starting it on
// first use.
func sentinelURL(t testing.TB) string {
	t.Helper()
	ss := &sharedSentinel
	ss.once.Do(func() {
		if ss.dir, ss.err = os.MkdirTemp("", "gocua-store-sentinel-"); ss.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		ss.s, ss.err = storetest.StartSentinel(ctx, ss.dir)
	})
	if ss.err != nil {
		t.Fatalf("redis sentinel: %v", ss.err)
	}
	return ss.s.URL()
}

// closeSentinel stops the shared sentinel and its master if a test started them.
func closeSentinel() error {
	ss := &sharedSentinel
	var err error
	if ss.s != nil {
		err = ss.s.Close()
	}
	if ss.dir != "" {
		if rerr := os.RemoveAll(ss.dir); err == nil {
			err = rerr
		}
	}
	return err
}

// OpenRedis reaches the master a Sentinel names for a URL with
// master_name=: what it commits is on that master.
func TestOpenRedisSentinel(t *testing.T) {
	ctx := context.Background()
	url := sentinelURL(t)
	if !IsSentinelURL(url) || IsClusterURL(url+"&addr="+sharedSentinel.s.SentinelAddr) {
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
	master := redis.NewClient(&redis.Options{Addr: sharedSentinel.s.MasterAddr})
	defer master.Close()
	if n, err := master.Exists(ctx, r.stateKey(key)).Result(); err != nil || n != 1 {
		t.Fatalf("state on the master: %d, %v", n, err)
	}
	if _, err := OpenRedis(ctx, "redis://"+sharedSentinel.s.SentinelAddr+"?master_name=nobody", RedisOptions{}); err == nil {
		t.Fatal("a master the sentinel does not know was opened")
	}
}
