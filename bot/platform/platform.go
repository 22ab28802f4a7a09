// Package platform is what every channel adapter does the same way at its
// edges: refusing webhook calls that are not POSTs, reading a webhook body
// within a size limit, running the core so that neither the platform
// hanging up nor a panic loses an update, calling a platform's API with
// every stage bounded and no redirect followed, and naming the address a
// request's per-address limits count against (ClientAddr).
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
	"unicode"
)

// AllowPost answers 405 to anything but POST and reports whether r is one.
func AllowPost(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// ReadBody reads r's body, at most max bytes. When it cannot, it answers
// 413 (too large) or 400 and reports false. Only sizes are logged: a body
// holds personal data.
func ReadBody(w http.ResponseWriter, r *http.Request, max int64, log *slog.Logger) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err == nil {
		return body, true
	}
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		log.Warn("webhook refused: body too large", "limit", max)
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	log.Warn("webhook: reading body", "err", err)
	http.Error(w, "could not read body", http.StatusBadRequest)
	return nil, false
}

// ErrPanicked is what RunCore returns when run panicked.
var ErrPanicked = errors.New("the core panicked")

// RunCore runs run with a context that ctx ending does not cancel (the
// platform hanging up, or shutdown: a commit must not stop half way),
// bounded by timeout. A panic becomes ErrPanicked, logged with its stack
// through log rather than net/http's logger, so the update is retried.
func RunCore(ctx context.Context, timeout time.Duration, log *slog.Logger, run func(context.Context) error) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			log.Error("handler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = ErrPanicked
		}
	}()
	return run(ctx)
}

// NewClient is an HTTP client for a platform's API that bounds every stage
// of a call (callers add their own deadline on top) and keeps up to idle
// connections to it. It follows no redirect: the platforms do not
// redirect, and a redirect would carry the token (in the path or a header)
// to wherever it points.
func NewClient(idle int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          idle,
			MaxIdleConnsPerHost:   idle,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// ParseCommand splits a typed "/Start@gocua_bot  install_vneid" into
// ("start", "install_vneid"): the name lower case, without "/" or "@bot",
// the rest trimmed. Text that does not start with "/" followed by a name is
// not a command.
func ParseCommand(text string) (name, args string, ok bool) {
	rest, found := strings.CutPrefix(text, "/")
	if !found {
		return "", "", false
	}
	end := strings.IndexFunc(rest, unicode.IsSpace)
	if end < 0 {
		end = len(rest)
	}
	name, _, _ = strings.Cut(rest[:end], "@")
	if name == "" {
		return "", "", false
	}
	return strings.ToLower(name), strings.TrimSpace(rest[end:]), true
}
