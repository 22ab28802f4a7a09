package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name a Sentinel of StartSentinel watches.
const SentinelMaster = "gocua"

// Sentinel is a Redis master watched by one Redis Sentinel on 127.0.0.1,
// as a deployment with Sentinel failover has them (tests need one
// sentinel; production runs three). Close stops both.
type Sentinel struct {
	MasterAddr   string // the master's host:port
	SentinelAddr string // the sentinel's host:port

	nodes     []*clusterNode
	closeOnce sync.Once
	closeErr  error
}

// NewSentinel starts a master and its sentinel in t.TempDir() (see
// StartSentinel) and stops them when t's cleanup runs.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartSentinel(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// StartSentinel starts a redis-server master (nothing persisted) and a
// redis-server in sentinel mode watching it as SentinelMaster, with their
// files in dir, on free ports, and waits until the sentinel names the
// master. redis-server (Debian package redis-server) must be on PATH. The
// caller must Close it.
func StartSentinel(ctx context.Context, dir string) (*Sentinel, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, errors.New("storetest: redis sentinel: redis-server not found on PATH: install the Debian package redis-server")
	}
	ports, err := freeClusterPorts(2)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{}
	master, err := startRedisProcess(ports[0], "--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if master != nil {
		s.nodes = append(s.nodes, master)
		s.MasterAddr = master.addr
	}
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	// a sentinel rewrites its configuration file: it must be its own
	conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(ports[1])+".conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s 127.0.0.1 %d 1\nsentinel down-after-milliseconds %s 5000\n",
		ports[1], dir, SentinelMaster, ports[0], SentinelMaster)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	sentinel, err := startRedisProcess(ports[1], conf, "--sentinel")
	if sentinel != nil {
		s.nodes = append(s.nodes, sentinel)
		s.SentinelAddr = sentinel.addr
	}
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	client := redis.NewSentinelClient(&redis.Options{Addr: s.SentinelAddr})
	defer client.Close()
	for {
		addr, err := client.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(ports[0]) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(fmt.Errorf("storetest: sentinel does not name its master: %w (%v, %v)", ctx.Err(), addr, err), s.Close())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is the master's address through the sentinel, in go-redis's failover
// URL form (redis.ParseFailoverURL): redis://<sentinel>?master_name=gocua.
func (s *Sentinel) URL() string {
	return "redis://" + s.SentinelAddr + "?master_name=" + SentinelMaster
}

// Close stops the sentinel and the master. It is safe to call more than once.
func (s *Sentinel) Close() error {
	s.closeOnce.Do(func() { s.closeErr = stopNodes(s.nodes) })
	return s.closeErr
}
