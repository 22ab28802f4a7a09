package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A real Redis Cluster for tests: three masters, no replicas, on 127.0.0.1.

// clusterNodes is how many masters a test cluster has.
const clusterNodes = 3

// clusterBusOffset is how far a node's cluster bus port is from its port.
const clusterBusOffset = 10000

// Cluster is a running three-master Redis Cluster of redis-server
// processes started by StartCluster. Close stops them.
type Cluster struct {
	// Addrs are the nodes' host:port, one per master.
	Addrs []string

	dir   string
	nodes []*clusterNode

	closeOnce sync.Once
	closeErr  error
}

// NewCluster starts a cluster in t.TempDir() (see StartCluster) and stops
// it when t's cleanup runs. It fails t if the cluster does not start,
// including when redis-server or redis-cli is not installed.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// StartCluster starts three redis-server processes in cluster mode, with
// their node files in dir and nothing persisted, on free ports whose
// cluster bus ports (port+10000) are free too; joins them with
// redis-cli --cluster create (each master takes a third of the slots) and
// waits until every node reports cluster_state:ok. The caller must Close
// it. redis-server and redis-cli (Debian packages redis-server and
// redis-tools) must be on PATH: without them it returns an error saying
// so.
func StartCluster(ctx context.Context, dir string) (*Cluster, error) {
	var missing []string
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("storetest: redis cluster: %s not found on PATH: install the Debian packages redis-server and redis-tools", strings.Join(missing, " and "))
	}
	// A port found free may be taken before redis-server binds it: then
	// start again on other ports.
	var errs []error
	for range 3 {
		c, err := startCluster(ctx, dir)
		if err == nil {
			return c, nil
		}
		if errs = append(errs, err); ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func startCluster(ctx context.Context, dir string) (*Cluster, error) {
	c := &Cluster{dir: dir}
	ports, err := freeClusterPorts(clusterNodes)
	if err != nil {
		return nil, err
	}
	for _, p := range ports {
		if err := c.startNode(p); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	if err := c.create(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// URL is the cluster's address in go-redis's cluster URL form
// (redis.ParseClusterURL): redis://<first node>?addr=<second>&addr=<third>.
func (c *Cluster) URL() string {
	var b strings.Builder
	b.WriteString("redis://" + c.Addrs[0])
	for i, a := range c.Addrs[1:] {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString("addr=" + a)
	}
	return b.String()
}

// Close stops the nodes (SIGTERM, then SIGKILL after 10 s). It is safe to
// call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() { c.closeErr = stopNodes(c.nodes) })
	return c.closeErr
}

// stopNodes stops redis-server processes: SIGTERM, then SIGKILL after 10 s.
func stopNodes(nodes []*clusterNode) error {
	var errs []error
	for _, n := range nodes {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, n := range nodes {
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
			errs = append(errs, fmt.Errorf("storetest: redis-server %s did not stop on SIGTERM; killed", n.addr))
		}
	}
	return errors.Join(errs...)
}

// clusterNode is one redis-server process of a Cluster.
type clusterNode struct {
	addr   string
	cmd    *exec.Cmd
	out    *lockedBuffer // its stdout and stderr
	exited chan struct{} // closed once the process has exited and been waited for
}

// startNode starts one node on port and waits until it answers PING. The
// node's owner is c: a goroutine waits for the process and Close stops it.
func (c *Cluster) startNode(port int) error {
	n, err := startRedisProcess(port,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(c.dir, "nodes-"+strconv.Itoa(port)+".conf"),
		"--save", "",
		"--appendonly", "no",
		"--dir", c.dir,
	)
	if n != nil {
		c.Addrs = append(c.Addrs, n.addr)
		c.nodes = append(c.nodes, n)
	}
	return err
}

// startRedisProcess runs redis-server with args, listening on port, and
// waits until it answers PING. A goroutine waits for the process; the
// caller stops it (stopNodes), also when an error is returned with a node.
func startRedisProcess(port int, args ...string) (*clusterNode, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command("redis-server", args...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("storetest: start redis-server on %s: %w", addr, err)
	}
	n := &clusterNode{addr: addr, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.exited)
	}()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return n, nil
		}
		select {
		case <-n.exited:
			return n, fmt.Errorf("storetest: redis-server on %s exited: %s\n%s", addr, cmd.ProcessState, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("storetest: redis-server on %s does not answer: %w\n%s", addr, err, out.String())
		}
	}
}

// create joins the nodes into one cluster and waits until all of them
// report it ok.
func (c *Cluster) create(ctx context.Context) error {
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("storetest: redis-cli --cluster create: %w\n%s", err, out)
	}
	for _, addr := range c.Addrs {
		if err := waitClusterOK(ctx, addr); err != nil {
			return err
		}
	}
	return nil
}

// waitClusterOK polls CLUSTER INFO on addr until it says the cluster is ok
// with every slot assigned and every node known.
func waitClusterOK(ctx context.Context, addr string) error {
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	want := []string{
		"cluster_state:ok",
		"cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(clusterNodes),
	}
	var info string
	for {
		var err error
		info, err = client.ClusterInfo(ctx).Result()
		if err == nil && containsAll(info, want) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("storetest: redis cluster node %s not ok: %w (CLUSTER INFO: %q, error %v)", addr, ctx.Err(), info, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func containsAll(info string, lines []string) bool {
	have := map[string]bool{}
	for l := range strings.Lines(info) {
		have[strings.TrimSpace(l)] = true
	}
	for _, l := range lines {
		if !have[l] {
			return false
		}
	}
	return true
}

// freeClusterPorts returns n distinct ports p, each free on 127.0.0.1 with
// p+10000 (its cluster bus) free as well. They are picked from 12000–21999
// so that the bus ports (22000–31999) stay below Linux's default range for
// outgoing connections (32768 on). Another process may still take one
// before redis-server binds it; the node then fails to start.
func freeClusterPorts(n int) ([]int, error) {
	var ports []int
	for try := 0; try < 1000 && len(ports) < n; try++ {
		p := 12000 + rand.IntN(10000)
		if slices.Contains(ports, p) || !portFree(p) || !portFree(p+clusterBusOffset) {
			continue
		}
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("storetest: redis cluster: found only %d free port pairs of %d", len(ports), n)
	}
	return ports, nil
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// lockedBuffer collects a process's output; Write and String may be
// called from different goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
