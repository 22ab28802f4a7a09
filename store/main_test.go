package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/store/storetest"
)

// The package's tests run against real servers (see store/storetest):
//   - PostgreSQL: a fresh database created for this run from
//     GOCUA_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
//     and dropped at the end;
//   - Redis: DB redisDB of GOCUA_TEST_REDIS_URL (default
//     redis://127.0.0.1:6379), flushed at the start and the end.
const redisDB = 11

// testEnv is set once by TestMain, before any test runs, and read-only after.
var testEnv struct {
	pgURL    string // migrated database of this run
	redisURL string
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "store tests:", err)
		return 1
	}

	name := storetest.DatabaseName("gocua_store_test")
	pgURL, err := storetest.CreateDatabase(ctx, name)
	if err != nil {
		return fail(err)
	}
	testEnv.pgURL = pgURL
	defer func() {
		if err := storetest.DropDatabase(context.Background(), name); err != nil {
			fmt.Fprintln(os.Stderr, "store tests:", err)
		}
	}()
	p, err := OpenPostgres(ctx, pgURL, discardLogger())
	if err != nil {
		return fail(err)
	}
	err = p.Migrate(ctx)
	p.Close()
	if err != nil {
		return fail(err)
	}

	testEnv.redisURL = storetest.RedisURL(redisDB)
	if err := storetest.FlushRedis(ctx, redisDB); err != nil {
		return fail(err)
	}
	defer func() {
		if err := storetest.FlushRedis(context.Background(), redisDB); err != nil {
			fmt.Fprintln(os.Stderr, "store tests:", err)
		}
	}()
	defer func() {
		if err := closeShared(); err != nil {
			fmt.Fprintln(os.Stderr, "store tests:", err)
		}
	}()
	return m.Run()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// freshDatabase creates an empty database for one test and drops it after.
func freshDatabase(t testing.TB) string {
	t.Helper()
	name := storetest.DatabaseName("gocua_store_" + sanitize(t.Name()))
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	u, err := storetest.CreateDatabase(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := storetest.DropDatabase(context.Background(), name); err != nil {
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
