package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// A private Redis restarts on its port: empty without persistence, with
// its data under AOF.
func TestPrivateRedisRestarts(t *testing.T) {
	for _, aof := range []bool{false, true} {
		t.Run(map[bool]string{false: "volatile", true: "aof"}[aof], func(t *testing.T) {
			ctx := context.Background()
			srv := StartRedis(t, RedisOptions{AOF: aof})
			opts, err := redis.ParseURL(srv.URL(0))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opts)
			defer c.Close()
			if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			srv.Kill()
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("Redis answers after Kill")
			}
			srv.Start()
			got, err := c.Get(ctx, "k").Result()
			switch {
			case aof && (err != nil || got != "v"):
				t.Fatalf("with AOF, after a restart k = %q, %v; want v", got, err)
			case !aof && !errors.Is(err, redis.Nil):
				t.Fatalf("without persistence, after a restart k = %q, %v; want nothing", got, err)
			}
		})
	}
}

// A private PostgreSQL keeps its data across a crash and a clean stop, on
// the same port.
func TestPrivatePostgresRestarts(t *testing.T) {
	ctx := context.Background()
	srv := StartPostgres(t)
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, srv.URL())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE TABLE kept (v int); INSERT INTO kept VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	srv.Crash()
	if err := exec("SELECT 1"); err == nil {
		t.Fatal("PostgreSQL answers after Crash")
	}
	srv.Start()
	srv.Stop()
	srv.Start()
	conn, err := pgx.Connect(ctx, srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM kept").Scan(&n); err != nil || n != 1 {
		t.Fatalf("after a crash and a restart the table holds %d rows (%v), want 1", n, err)
	}
}
