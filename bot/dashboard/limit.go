package dashboard

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gocua/gocua/bot/platform"
)

// Limiter is a rate limit shared by every replica. Allow takes one try
// from the bucket called name, which refills n tries per per and holds at
// most burst; when none is left it reports false and how long until one
// is. Implemented by *store.Redis.
type Limiter interface {
	Allow(ctx context.Context, name string, n int, per time.Duration, burst int) (ok bool, retry time.Duration, err error)
}

// loginLimited counts a try of the sign-in routes (they take a link's
// token from anyone) against the request's address — the peer, or the
// nearest public address behind a reverse proxy, IPv6 per /64
// (platform.ClientAddr) — and, once the address has used its tries, answers
// 429 with Retry-After and reports true. Without a Limiter nothing is
// limited; when the limiter fails the try is let through (a token still
// has to be right) and the failure logged.
func (s *Server) loginLimited(w http.ResponseWriter, r *http.Request) bool {
	if s.deps.Limiter == nil {
		return false
	}
	ok, retry, err := s.deps.Limiter.Allow(r.Context(), "dashboard-login:"+platform.ClientAddr(r), s.cfg.LoginTries, time.Minute, s.cfg.LoginBurst)
	if err != nil {
		s.log.Warn("dashboard: the sign-in limit is unavailable; letting the try through", "err", err)
		return false
	}
	if ok {
		return false
	}
	w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(retry.Seconds())), 1)))
	s.fail(w, r, nil, http.StatusTooManyRequests, "err_too_many_tries")
	return true
}
