package storetest

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// NewCluster starts three masters that share the slots, reachable through
// URL, and Close stops every process.
func TestNewCluster(t *testing.T) {
	ctx := context.Background()
	c := NewCluster(t)
	if len(c.Addrs) != clusterNodes {
		t.Fatalf("Addrs = %v, want %d nodes", c.Addrs, clusterNodes)
	}
	o, err := redis.ParseClusterURL(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Addrs, " ") != strings.Join(c.Addrs, " ") {
		t.Errorf("URL %s parses to %v, want %v", c.URL(), o.Addrs, c.Addrs)
	}
	cc := redis.NewClusterClient(o)
	defer cc.Close()
	shards, err := cc.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != clusterNodes {
		t.Errorf("%d shards, want %d masters", len(shards), clusterNodes)
	}
	for _, s := range shards {
		if len(s.Slots) == 0 || len(s.Nodes) != 1 {
			t.Errorf("shard %+v: want slots and one master, no replica", s)
		}
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Addrs {
		if conn, err := net.Dial("tcp", a); err == nil {
			conn.Close()
			t.Errorf("%s still answers after Close", a)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Without redis-server and redis-cli on PATH, StartCluster says which
// Debian packages to install.
func TestStartClusterWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := StartCluster(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "redis-server and redis-tools") {
		t.Fatalf("StartCluster = %v, want an error naming the Debian packages redis-server and redis-tools", err)
	}
}
