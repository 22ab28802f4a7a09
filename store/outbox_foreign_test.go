package store

import (
	"context"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// A conversation whose updates alternate between two replicas (Telegram
// sends the next once the last got its 2xx, a load balancer picks any
// replica): a holds the lease, b appends under it, then a commits again.
// a's sender does not hold b's message, so a's commit must say Backlog
// (claim the whole outbox) or a's new reply would go out before b's older
// one. Before the fix it said Leased only, and the fault suite
// (TestFaultTwoReplicas) saw a chat's replies in the order 0 1 2 3 5 4 7 6.
func TestRedisForeignAppendMakesABacklog(t *testing.T) {
	for _, srv := range redisServers() {
		t.Run(srv.name, func(t *testing.T) {
			for _, via := range []string{"commit", "append"} {
				t.Run(via, func(t *testing.T) { testForeignAppend(t, srv.url(t), via) })
			}
		})
	}
}

func testForeignAppend(t *testing.T, url, via string) {
	ctx := context.Background()
	a, b := twoOwners(t, url, time.Minute)
	key := tgKey("foreign-" + via)
	// add appends n messages for update as r, the way via says
	add := func(r *Redis, update string, n int) bot.Committed {
		t.Helper()
		if via == "commit" {
			return commitOut(t, r, key, update, n)
		}
		out := make([]bot.Outbound, n)
		for i := range out {
			out[i] = bot.Outbound{ID: update + "/" + string(rune('0'+i)), Key: key, Text: "x"}
		}
		res, err := r.Append(ctx, key, "m"+update, out)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := add(a, "1", 1); !res.Leased || res.Backlog {
		t.Fatalf("a's first append = %+v, want leased, no backlog", res)
	}
	if res := add(b, "2", 1); res.Leased {
		t.Fatalf("b's append under a's lease = %+v, want not leased", res)
	}
	if res := add(a, "3", 1); !res.Leased || !res.Backlog {
		t.Fatalf("a's append after b's = %+v, want leased with a backlog (b's message is not in a's sender)", res)
	}
	if msgs, held, err := a.Claim(ctx, key); err != nil || held || ids(msgs) != "1/0 2/0 3/0" {
		t.Fatalf("a claims: %s held=%v %v; want the outbox in commit order", ids(msgs), held, err)
	}
	// once said, it is said once: a's next append has no foreign message before it
	if res := add(a, "4", 1); !res.Leased || res.Backlog {
		t.Fatalf("a's next append = %+v, want leased, no backlog", res)
	}
}
