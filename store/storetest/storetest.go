// Package storetest gives tests real PostgreSQL databases and Redis DB numbers
// of their own, so test packages can run in parallel against the same servers
// without seeing each other's data.
package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Defaults used when GOCUA_TEST_DATABASE_URL / GOCUA_TEST_REDIS_URL are unset.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test"
	DefaultRedisURL    = "redis://127.0.0.1:6379"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// AdminURL is the database used to create and drop test databases.
func AdminURL() string { return env("GOCUA_TEST_DATABASE_URL", DefaultDatabaseURL) }

// CreateDatabase creates a fresh, empty database named name (dropping a
// leftover of the same name) and returns its URL.
func CreateDatabase(ctx context.Context, name string) (string, error) {
	admin := AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("storetest: connect %s: %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("storetest: drop %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", fmt.Errorf("storetest: create %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("storetest: parse %s: %w", redact(admin), err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops a database made by CreateDatabase.
func DropDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return fmt.Errorf("storetest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("storetest: drop %s: %w", name, err)
	}
	return nil
}

// DatabaseName returns a database name unique to this process: prefix_<pid>.
func DatabaseName(prefix string) string {
	return strings.ToLower(prefix) + "_" + strconv.Itoa(os.Getpid())
}

// RedisURL returns the test Redis server's URL with DB number db.
func RedisURL(db int) string {
	u, err := url.Parse(env("GOCUA_TEST_REDIS_URL", DefaultRedisURL))
	if err != nil {
		return fmt.Sprintf("redis://127.0.0.1:6379/%d", db)
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String()
}

// FlushRedis empties DB number db of the test Redis server.
func FlushRedis(ctx context.Context, db int) error {
	return withRedis(ctx, db, func(ctx context.Context, c *redis.Client) error {
		if err := c.FlushDB(ctx).Err(); err != nil {
			return fmt.Errorf("storetest: flush redis db %d: %w", db, err)
		}
		return nil
	})
}

// DeletePrefix deletes the keys of Redis DB db that start with prefix: what
// one test process wrote, leaving other processes using the same DB (another
// checkout's tests) alone.
func DeletePrefix(ctx context.Context, db int, prefix string) error {
	if prefix == "" {
		return fmt.Errorf("storetest: delete redis keys: empty prefix")
	}
	return withRedis(ctx, db, func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := c.Unlink(ctx, batch...).Err()
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 1000 {
				if err := flush(); err != nil {
					return fmt.Errorf("storetest: delete redis keys %s*: %w", prefix, err)
				}
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("storetest: delete redis keys %s*: %w", prefix, err)
		}
		if err := flush(); err != nil {
			return fmt.Errorf("storetest: delete redis keys %s*: %w", prefix, err)
		}
		return nil
	})
}

func withRedis(ctx context.Context, db int, fn func(context.Context, *redis.Client) error) error {
	opts, err := redis.ParseURL(RedisURL(db))
	if err != nil {
		return fmt.Errorf("storetest: %w", err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fn(ctx, c)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	return u.Redacted()
}

// SeedResidents adds n Telegram residents who said yes to broadcasts to the
// migrated PostgreSQL database at dbURL, with chat ids from first on, in one
// statement (benchmarks need 100,000 of them quickly).
func SeedResidents(ctx context.Context, dbURL string, first int64, n int) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("storetest: connect %s: %w", redact(dbURL), err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO residents (channel, external_id, first_seen, last_seen, lang, consent, consent_at)
SELECT 'telegram', (g + $1)::text, now(), now(), 'vi', 'yes', now() FROM generate_series(0, $2 - 1) AS g`, first, n)
	if err != nil {
		return fmt.Errorf("storetest: seed residents: %w", err)
	}
	return nil
}

// SetLastSeen moves a resident's last message to at (tests of windows that
// count from it, such as Zalo OA's 7 days).
func SetLastSeen(ctx context.Context, dbURL, channel, id string, at time.Time) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("storetest: connect %s: %w", redact(dbURL), err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, `UPDATE residents SET last_seen = $3 WHERE channel = $1 AND external_id = $2`, channel, id, at)
	if err != nil {
		return fmt.Errorf("storetest: set last seen: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("storetest: set last seen: no resident %s:%s", channel, id)
	}
	return nil
}
