package zalo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
)

// ErrUnauthorized is wrapped by the errors of a Bot API call Zalo refused
// for its token (401: wrong, reset or revoked). It is not bot.ErrRejected:
// every message fails alike until an operator fixes the token, and none is
// to be dropped meanwhile.
var ErrUnauthorized = errors.New("zalo: GOCUA_ZALO_BOT_TOKEN was refused")

// DefaultRetryAfter is how long to wait after a 429 ("Quota exceeded") that
// does not say: Zalo documents no retry_after.
const DefaultRetryAfter = 5 * time.Second

// maxRetryAfter caps a wait Zalo (or a proxy) asks for.
const maxRetryAfter = time.Hour

// apiResponse is the Bot API's answer: {ok, result} or {ok:false,
// error_code, description}. Some clients also see errorCode.
type apiResponse struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	ErrorCode2  int             `json:"errorCode"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter float64 `json:"retry_after"`
	} `json:"parameters"`
}

// maxResponse bounds a Bot API answer read, in bytes.
const maxResponse = 1 << 20

// call POSTs params as JSON to {APIURL}/bot{token}/{method} and decodes the
// result into result (when not nil). Errors never hold the token; they are
// mapped to the core's vocabulary: 429 is a *bot.RetryAfterError, 400 and
// 404 wrap bot.ErrRejected, 401 wraps ErrUnauthorized, anything else
// (403, 408, 5xx, the network, an answer that is not the API's) is a plain
// error worth retrying.
func (a *Adapter) call(ctx context.Context, method string, params, result any) error {
	body, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("zalo: %s: %w", method, err)
	}
	endpoint := strings.TrimRight(a.cfg.APIURL, "/") + "/bot" + a.cfg.Token + "/" + method
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("zalo: %s: %w", method, a.redact(err))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpc.Do(req)
	if err != nil {
		return fmt.Errorf("zalo: %s: %w", method, a.redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("zalo: %s: reading the answer (HTTP %d): %w", method, resp.StatusCode, a.redact(err))
	}
	var r apiResponse
	decodeErr := json.Unmarshal(raw, &r)
	code := r.ErrorCode
	if code == 0 {
		code = r.ErrorCode2
	}
	if code == 0 && resp.StatusCode/100 != 2 {
		code = resp.StatusCode
	}
	if decodeErr == nil && r.OK && resp.StatusCode/100 == 2 {
		if result != nil && len(r.Result) > 0 && string(r.Result) != "null" {
			if err := json.Unmarshal(r.Result, result); err != nil {
				return fmt.Errorf("zalo: %s: unexpected result: %w", method, err)
			}
		}
		return nil
	}
	desc := a.describe(r.Description)
	if decodeErr != nil {
		desc = "the answer is not the Bot API's JSON"
	}
	if code == 0 { // HTTP 200 with ok:false and no code
		return fmt.Errorf("zalo: %s: not ok: %s", method, desc)
	}
	base := fmt.Errorf("zalo: %s: error %d: %s", method, code, desc)
	switch {
	case code == http.StatusTooManyRequests || resp.StatusCode == http.StatusTooManyRequests:
		return &bot.RetryAfterError{After: retryAfter(resp.Header.Get("Retry-After"), r.Parameters.RetryAfter), Err: base}
	case code == http.StatusUnauthorized:
		a.logUnauthorized(method)
		return fmt.Errorf("%w (%s: error 401: %s)", ErrUnauthorized, method, desc)
	case code == http.StatusBadRequest, code == http.StatusNotFound:
		return fmt.Errorf("%w: %w", base, bot.ErrRejected)
	}
	return base
}

// retryAfter is how long to wait after a 429: parameters.retry_after, else
// the Retry-After header (seconds or a date), else DefaultRetryAfter; at
// least a second, at most maxRetryAfter.
func retryAfter(header string, param float64) time.Duration {
	d := DefaultRetryAfter
	switch header = strings.TrimSpace(header); {
	case param > 0:
		d = time.Duration(param * float64(time.Second))
	case header != "":
		if n, err := strconv.Atoi(header); err == nil && n > 0 {
			d = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(header); err == nil {
			d = time.Until(t)
		}
	}
	return min(max(d, time.Second), maxRetryAfter)
}

// logUnauthorized says loudly, at most once a minute, that Zalo refuses
// the token: nothing goes out until an operator fixes it.
func (a *Adapter) logUnauthorized(method string) {
	now := time.Now().UnixNano()
	last := a.lastAuthLog.Load()
	if now-last < int64(time.Minute) || !a.lastAuthLog.CompareAndSwap(last, now) {
		return
	}
	a.log.Error("zalo refused the bot token: nothing can be sent until GOCUA_ZALO_BOT_TOKEN is fixed (reset tokens arrive as a Zalo message from Zalo Bot Creator)",
		"method", method, "variable", "GOCUA_ZALO_BOT_TOKEN")
}

// maxDescription bounds the part of Zalo's description kept in an error.
const maxDescription = 200

// describe makes Zalo's description fit an error: without the token, one
// cleaned line, at most maxDescription bytes.
func (a *Adapter) describe(s string) string {
	s = oneLine(bot.CleanText(a.redactString(s)))
	for len(s) > maxDescription {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	if s == "" {
		return "no description"
	}
	return s
}

// redact removes the token from an error's text (a *url.Error quotes the
// URL, which holds it in its path).
func (a *Adapter) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = a.redactString(ue.URL)
	}
	if msg := err.Error(); msg != a.redactString(msg) {
		return errors.New(a.redactString(msg))
	}
	return err
}

func (a *Adapter) redactString(s string) string {
	if a.cfg.Token == "" {
		return s
	}
	s = strings.ReplaceAll(s, "/bot"+a.cfg.Token+"/", "/bot***/")
	s = strings.ReplaceAll(s, a.cfg.Token, "***")
	if esc := url.PathEscape(a.cfg.Token); esc != a.cfg.Token {
		s = strings.ReplaceAll(s, esc, "***")
	}
	return s
}
