// Command probe tells .ci/testenv whether the test servers answer, the way the
// tests connect to them (store/storetest): PostgreSQL by connecting to the
// admin URL and running SELECT 1, Redis by PING.
//
//	go build -o probe .ci/probe.go
//	probe postgres URL   # exit 0 if it answers; else the reason on stderr, exit 1
//	probe redis URL
//
// It lives under .ci/ (ignored by ./... patterns) and uses only the main
// module's own dependencies.
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: probe postgres|redis URL")
		os.Exit(2)
	}
	kind, raw := os.Args[1], os.Args[2]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	switch kind {
	case "postgres":
		err = probePostgres(ctx, raw)
	case "redis":
		err = probeRedis(ctx, raw)
	default:
		fmt.Fprintf(os.Stderr, "probe: unknown kind %q (want postgres or redis)\n", kind)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", redact(raw), err)
		os.Exit(1)
	}
}

func probePostgres(ctx context.Context, raw string) error {
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func probeRedis(ctx context.Context, raw string) error {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		return err
	}
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	redis.SetLogger(quiet{}) // the error is reported once, by main
	c := redis.NewClient(opts)
	defer c.Close()
	return c.Ping(ctx).Err()
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	return u.Redacted()
}
