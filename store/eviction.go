package store

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EvictionRisk is a Redis master that evicts keys when it is full: it has
// a memory limit (maxmemory) and a maxmemory-policy other than noeviction.
// Every key gocua keeps has a time to live, so even the volatile-*
// policies may take one — an outbox of committed replies, a dedupe marker,
// a lease — and then a reply is lost or an update handled twice.
type EvictionRisk struct {
	Addr      string // the master, host:port
	Policy    string // its maxmemory-policy, e.g. allkeys-lru
	MaxMemory int64  // its maxmemory, bytes
}

// Evictions reports the masters that would evict keys when full: on a
// cluster each master, else the one server (through Sentinel, the current
// master). It reads INFO memory, which managed services allow where they
// refuse CONFIG GET. A server that answers INFO without those fields (an
// older or a compatible one) is an error, not a risk.
func (r *Redis) Evictions(ctx context.Context) ([]EvictionRisk, error) {
	var (
		mu    sync.Mutex
		risks []EvictionRisk
	)
	check := func(ctx context.Context, c *redis.Client) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("store: redis eviction policy of %s: %w", c.Options().Addr, err)
		}
		risk, at, err := evictionRisk(info)
		if err != nil {
			return fmt.Errorf("store: redis eviction policy of %s: %w", c.Options().Addr, err)
		}
		if at {
			risk.Addr = c.Options().Addr
			mu.Lock()
			risks = append(risks, risk)
			mu.Unlock()
		}
		return nil
	}
	var err error
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, check)
	case *redis.Client:
		err = check(ctx, c)
	default:
		err = fmt.Errorf("store: redis eviction policy: a %T is not checked", c)
	}
	if err != nil {
		return nil, err
	}
	slices.SortFunc(risks, func(a, b EvictionRisk) int { return strings.Compare(a.Addr, b.Addr) })
	return risks, nil
}

// evictionRisk reads maxmemory and maxmemory_policy from an INFO memory
// reply; at reports that the server evicts when full.
func evictionRisk(info string) (risk EvictionRisk, at bool, err error) {
	var maxmem, policy string
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		switch {
		case !ok:
		case k == "maxmemory":
			maxmem = v
		case k == "maxmemory_policy":
			policy = v
		}
	}
	if maxmem == "" || policy == "" {
		return risk, false, fmt.Errorf("INFO memory has no maxmemory or maxmemory_policy")
	}
	n, err := strconv.ParseInt(maxmem, 10, 64)
	if err != nil {
		return risk, false, fmt.Errorf("INFO memory: maxmemory %q: %w", maxmem, err)
	}
	return EvictionRisk{Policy: policy, MaxMemory: n}, n > 0 && policy != "noeviction", nil
}
