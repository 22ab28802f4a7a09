package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The package's tests run against real servers:
//   - PostgreSQL: a fresh database created for this run from
//     GOCUA_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
//     and dropped at the end;
//   - Redis: GOCUA_TEST_REDIS_URL (default redis://127.0.0.1:6379/11), flushed
//     at the start and the end.
const (
	defaultTestDatabaseURL = "postgres://postgres@127.0.0.1:5432/test"
	defaultTestRedisURL    = "redis://127.0.0.1:6379/11"
)

// testEnv is set once by TestMain, before any test runs, and read-only after.
var testEnv struct {
	adminURL string // database used to create and drop test databases
	pgURL    string // migrated database of this run
	redisURL string
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	testEnv.adminURL = envOr("GOCUA_TEST_DATABASE_URL", defaultTestDatabaseURL)
	testEnv.redisURL = envOr("GOCUA_TEST_REDIS_URL", defaultTestRedisURL)

	name := fmt.Sprintf("gocua_store_test_%d", os.Getpid())
	pgURL, err := createDatabase(ctx, testEnv.adminURL, name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	testEnv.pgURL = pgURL
	defer func() {
		if err := dropDatabase(context.Background(), testEnv.adminURL, name); err != nil {
			fmt.Fprintln(os.Stderr, "store tests:", err)
		}
	}()
	p, err := OpenPostgres(ctx, pgURL, discardLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	err = p.Migrate(ctx)
	p.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}

	if err := flushRedis(ctx, testEnv.redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}
	defer func() {
		if err := flushRedis(context.Background(), testEnv.redisURL); err != nil {
			fmt.Fprintln(os.Stderr, "store tests:", err)
		}
	}()
	return m.Run()
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// createDatabase creates database name on the server of adminURL and returns
// a URL for it.
func createDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", adminURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drop stale database: %w", err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", fmt.Errorf("parse %s: %w", adminURL, err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect %s: %w", adminURL, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func flushRedis(ctx context.Context, redisURL string) error {
	o, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("parse %s: %w", redisURL, err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	return nil
}

// freshDatabase creates an empty database for one test and drops it after.
func freshDatabase(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("gocua_store_test_%d_%s", os.Getpid(), strings.ToLower(sanitize(t.Name())))
	if len(name) > 60 {
		name = name[:60]
	}
	u, err := createDatabase(ctx, testEnv.adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(context.Background(), testEnv.adminURL, name); err != nil {
			t.Error(err)
		}
	})
	return u
}

// sanitize keeps letters and digits of s, replacing the rest with '_'.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
