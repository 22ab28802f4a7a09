package zalo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/netguard"
)

// ErrFileTooLarge is wrapped by Fetch's errors for a file over the
// caller's limit. It wraps bot.ErrRejected: fetching it again cannot help.
var ErrFileTooLarge = fmt.Errorf("zalo: file is over the size limit: %w", bot.ErrRejected)

// NewFetchClient is the HTTP client that downloads files residents sent
// (Zalo gives their addresses, on its CDN) and pictures named by address.
// The addresses come from signed webhooks, flows and broadcasts, but a
// client that fetches what it is told must not reach into the host's own
// network: unless allowPrivate (tests on 127.0.0.1), it connects only to
// public addresses, checked at dial time after DNS (netguard.Client), so a
// name that resolves inside and a redirect there are refused too.
func NewFetchClient(allowPrivate bool) *http.Client {
	return netguard.Client(60*time.Second, allowPrivate)
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("zalo: %w: not an http(s) address", bot.ErrRejected)
	}
	return nil
}

// Fetch downloads rawURL with c, refusing a file over max bytes (by its
// Content-Length, or while reading) with an error wrapping ErrFileTooLarge.
// It returns the body, its declared size (-1 when not given) and its
// Content-Type. A 4xx answer wraps bot.ErrRejected (the file is gone);
// other failures are worth retrying.
func Fetch(ctx context.Context, c *http.Client, rawURL string, max int64) (io.ReadCloser, int64, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, "", fmt.Errorf("zalo: media address: %w", bot.ErrRejected)
	}
	if err := checkScheme(u); err != nil {
		return nil, 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, "", fmt.Errorf("zalo: media request: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, netguard.ErrBlocked) {
			return nil, 0, "", fmt.Errorf("%w: %w", err, bot.ErrRejected)
		}
		return nil, 0, "", fmt.Errorf("zalo: fetch media from %s: %w", u.Host, err)
	}
	switch {
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		resp.Body.Close()
		return nil, 0, "", fmt.Errorf("zalo: fetch media from %s: HTTP %d: %w", u.Host, resp.StatusCode, bot.ErrRejected)
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		return nil, 0, "", fmt.Errorf("zalo: fetch media from %s: HTTP %d", u.Host, resp.StatusCode)
	case resp.ContentLength > max:
		resp.Body.Close()
		return nil, 0, "", fmt.Errorf("%w (%d bytes, limit %d)", ErrFileTooLarge, resp.ContentLength, max)
	}
	mime, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return &limitedBody{r: io.LimitReader(resp.Body, max+1), c: resp.Body, max: max}, resp.ContentLength, strings.TrimSpace(mime), nil
}

// limitedBody fails a read that goes past max bytes.
type limitedBody struct {
	r   io.Reader
	c   io.Closer
	n   int64
	max int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		return n, fmt.Errorf("%w (limit %d bytes)", ErrFileTooLarge, l.max)
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.c.Close() }
