package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Private servers: a redis-server or a PostgreSQL cluster of one test's own,
// on a free 127.0.0.1 port with its files in a temporary directory, which the
// test may stop, crash and start again (same port, same data) without
// touching the shared servers other tests use. A missing binary fails the
// test with the Debian package to install; nothing is skipped.

// RedisServer is a private redis-server started by StartRedis.
type RedisServer struct {
	t    testing.TB
	port int
	dir  string
	aof  bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// RedisOptions configure a private Redis.
type RedisOptions struct {
	// AOF keeps the data across Stop and Start (appendonly, fsync always);
	// without it the server keeps nothing on disk and a restart empties it,
	// as a Redis without persistence loses everything when it restarts.
	AOF bool
}

// StartRedis starts a private redis-server, stopped (and its directory
// removed) when the test ends.
func StartRedis(t testing.TB, opts RedisOptions) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("storetest: no redis-server on PATH: install the Debian package redis-server (%v)", err)
	}
	r := &RedisServer{t: t, dir: t.TempDir(), aof: opts.AOF}
	t.Cleanup(r.Kill)
	var err error
	for range 3 { // a free port can be taken between choosing and binding it
		if r.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if err = r.start(); err == nil {
			return r
		}
	}
	t.Fatalf("storetest: %v", err)
	return nil
}

// URL is the server's address with DB number db.
func (r *RedisServer) URL(db int) string {
	return fmt.Sprintf("redis://127.0.0.1:%d/%d", r.port, db)
}

// Addr is the server's host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server again on its port after Stop or Kill.
func (r *RedisServer) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("storetest: %v", err)
	}
}

func (r *RedisServer) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return errors.New("redis-server already running")
	}
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log")}
	if r.aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := pingRedis(r.Addr()); err == nil {
			break
		}
		select {
		case <-done:
			return fmt.Errorf("redis-server exited at start on port %d: %s", r.port, tail(filepath.Join(r.dir, "redis.log")))
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("redis-server did not answer on port %d within 30s: %s", r.port, tail(filepath.Join(r.dir, "redis.log")))
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd, r.done = cmd, done
	return nil
}

// Stop shuts the server down with SIGTERM (with AOF, what it acknowledged is
// on disk) and waits for it to exit.
func (r *RedisServer) Stop() { r.signal(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash, and waits for it.
func (r *RedisServer) Kill() { r.signal(syscall.SIGKILL) }

// Restart kills the server and starts it again on the same port.
func (r *RedisServer) Restart() {
	r.t.Helper()
	r.Kill()
	r.Start()
}

func (r *RedisServer) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd, r.done = nil, nil
}

// pingRedis sends PING over a fresh connection and expects +PONG.
func pingRedis(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// PostgresServer is a private PostgreSQL cluster started by StartPostgres.
type PostgresServer struct {
	t    testing.TB
	bin  string // the directory of initdb, pg_ctl and postgres
	dir  string // the cluster's temporary directory: data/, server.log, sockets
	port int
	cred *syscall.Credential // the postgres user's, when this process is root

	mu      sync.Mutex
	running bool
}

// StartPostgres creates a private PostgreSQL cluster (initdb -A trust -U
// postgres, fsync off) and starts it; it is stopped and removed when the test
// ends. As root, the cluster runs as the postgres OS user: PostgreSQL
// refuses to run as root.
func StartPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		t.Fatalf("storetest: %v: install the Debian package postgresql", err)
	}
	dir, err := os.MkdirTemp("", "gocua-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &PostgresServer{t: t, bin: bin, dir: dir}
	t.Cleanup(func() {
		p.stop("immediate")
		_ = os.RemoveAll(dir)
	})
	if os.Getuid() == 0 {
		if p.cred, err = postgresUser(); err != nil {
			t.Fatalf("storetest: %v", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		t.Fatalf("storetest: initdb: %v\n%s", err, out)
	}
	for range 3 {
		if p.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if err = p.start(); err == nil {
			return p
		}
	}
	t.Fatalf("storetest: %v", err)
	return nil
}

func (p *PostgresServer) data() string { return filepath.Join(p.dir, "data") }

// URL is the cluster's postgres database, as the postgres user.
func (p *PostgresServer) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", p.port)
}

// Addr is the server's host:port.
func (p *PostgresServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

// Start starts the cluster again on its port, with its data.
func (p *PostgresServer) Start() {
	p.t.Helper()
	if err := p.start(); err != nil {
		p.t.Fatalf("storetest: %v", err)
	}
}

func (p *PostgresServer) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running {
		return errors.New("postgres already running")
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories='%s' -c fsync=off", p.port, p.dir)
	// fsync off: the machine does not crash, only the server, and what a
	// commit wrote is in the page cache. synchronous_commit stays on, so a
	// commit acknowledged before an immediate stop survives it.
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-w", "-t", "60", "-s", "-o", opts, "start"); err != nil {
		return fmt.Errorf("pg_ctl start on port %d: %w\n%s\n%s", p.port, err, out, tail(filepath.Join(p.dir, "server.log")))
	}
	p.running = true
	// pg_ctl -w waits for the postmaster; wait for a connection too
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.URL())
		if err == nil {
			_ = conn.Close(ctx)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("postgres on port %d does not accept connections: %w", p.port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the cluster with pg_ctl -m fast (clients disconnected, a clean
// shutdown).
func (p *PostgresServer) Stop() {
	p.t.Helper()
	if err := p.stop("fast"); err != nil {
		p.t.Fatalf("storetest: %v", err)
	}
}

// Crash stops the cluster with pg_ctl -m immediate: no shutdown checkpoint,
// recovery at the next start, as after a crash.
func (p *PostgresServer) Crash() {
	p.t.Helper()
	if err := p.stop("immediate"); err != nil {
		p.t.Fatalf("storetest: %v", err)
	}
}

// Restart crashes the cluster and starts it again.
func (p *PostgresServer) Restart() {
	p.t.Helper()
	p.Crash()
	p.Start()
}

func (p *PostgresServer) stop(mode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return nil
	}
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", mode, "-w", "-t", "60", "-s", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %w\n%s", mode, err, out)
	}
	p.running = false
	return nil
}

// run runs one of the cluster's programs, as the postgres user when root.
func (p *PostgresServer) run(prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, prog), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
		cmd.Env = append(os.Environ(), "HOME="+p.dir)
	}
	return cmd.CombinedOutput()
}

// postgresBin finds initdb and pg_ctl: on PATH, else Debian's newest
// /usr/lib/postgresql/<version>/bin.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); executable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if executable(filepath.Join(d, "initdb")) && executable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
}

// version is the major version in /usr/lib/postgresql/<version>/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// postgresUser is the postgres OS user's credential.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL will not run as root and there is no postgres user (the Debian package postgresql creates it): %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a 127.0.0.1 TCP port nothing listened on a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("storetest: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// FreePort returns a 127.0.0.1 TCP port nothing listened on a moment ago
// (for a child process that must keep its address across restarts).
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tail is the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}
