package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// clockTick is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// procStat is the fields of /proc/<pid>/stat the tool reads.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime
}

// readStat reads /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// the command name (field 2) is in parentheses and may hold spaces
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: bad numbers", pid)
	}
	return procStat{ppid: ppid, cpu: time.Duration(ut+st) * clockTick}, nil
}

// peakRSS is VmHWM from /proc/<pid>/status, in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmHWM %q", pid, rest)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM", pid)
}

// children lists the pids whose parent is ppid.
func children(ppid int) ([]int, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == ppid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// servers finds the processes of the Redis and PostgreSQL servers the bots
// use, so their CPU time can be read: Redis's from INFO server, the
// postmaster as the parent of a backend of ours. It needs them on this
// machine (and in this pid namespace).
type servers struct {
	redisPID      int
	postmasterPID int
	admin         *pgx.Conn // on the admin database: pg_stat_activity
}

// findServers looks up both servers' pids.
func findServers(ctx context.Context, rdb *redis.Client, admin *pgx.Conn) (*servers, error) {
	s := &servers{admin: admin}
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("redis INFO server: %w", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			s.redisPID, _ = strconv.Atoi(v)
		}
	}
	if s.redisPID == 0 {
		return nil, fmt.Errorf("redis INFO server names no process_id")
	}
	if _, err := readStat(s.redisPID); err != nil {
		return nil, fmt.Errorf("redis process %d is not readable here (the server must run on this machine): %w", s.redisPID, err)
	}
	var backend int
	if err := admin.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return nil, fmt.Errorf("postgres pg_backend_pid: %w", err)
	}
	st, err := readStat(backend)
	if err != nil {
		return nil, fmt.Errorf("postgres backend %d is not readable here (the server must run on this machine): %w", backend, err)
	}
	s.postmasterPID = st.ppid
	return s, nil
}

// cpuSample is the CPU time used so far by Redis and, per process, by
// PostgreSQL.
type cpuSample struct {
	redis time.Duration
	pg    map[int]time.Duration
}

// since returns the Redis and PostgreSQL CPU time used between a and s. A
// PostgreSQL process that started in between counts whole; one that ended
// is lost (its last interval is not counted).
func (s cpuSample) since(a cpuSample) (redisCPU, pgCPU time.Duration) {
	for pid, t := range s.pg {
		pgCPU += t - a.pg[pid]
	}
	return s.redis - a.redis, pgCPU
}

// sample reads the CPU time used so far by Redis and by PostgreSQL working
// for database db: the postmaster, its processes that are not client
// backends (WAL writer, checkpointer, …) and the client backends connected
// to db. Backends of other databases (other users of a shared server, this
// tool's own connection) do not count.
func (s *servers) sample(ctx context.Context, db string) (cpuSample, error) {
	st, err := readStat(s.redisPID)
	if err != nil {
		return cpuSample{}, fmt.Errorf("redis: %w", err)
	}
	out := cpuSample{redis: st.cpu, pg: map[int]time.Duration{}}
	rows, err := s.admin.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname IS DISTINCT FROM $1", db)
	if err != nil {
		return cpuSample{}, fmt.Errorf("pg_stat_activity: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return cpuSample{}, fmt.Errorf("pg_stat_activity: %w", err)
	}
	others := map[int]bool{}
	for _, p := range pids {
		others[int(p)] = true
	}
	pm, err := readStat(s.postmasterPID)
	if err != nil {
		return cpuSample{}, fmt.Errorf("postmaster: %w", err)
	}
	out.pg[s.postmasterPID] = pm.cpu
	kids, err := children(s.postmasterPID)
	if err != nil {
		return cpuSample{}, err
	}
	for _, k := range kids {
		if others[k] {
			continue
		}
		if st, err := readStat(k); err == nil {
			out.pg[k] = st.cpu
		}
	}
	return out, nil
}
