package oa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
)

// OpenAPI endpoints the adapter calls.
const (
	pathCS     = "/v3.0/oa/message/cs"
	pathUpload = "/v2.0/oa/upload/image"
)

// Zalo's error codes the adapter acts on (its "phụ lục mã lỗi").
const (
	codeRateLimit    = -32
	codeExpired      = -100 // attachment_id expired
	codeInvalidToken = -216
	codeTokenExpired = -220
)

// rateLimitWait is how long to hold back after -32: the limit is per minute.
const rateLimitWait = time.Minute

// maxAnswer bounds an OpenAPI answer read.
const maxAnswer = 1 << 20

// APIError is an OpenAPI call Zalo refused: its error code and message.
// Deliver's errors wrap one, itself wrapped in bot.ErrWindow,
// bot.ErrUnreachable or bot.ErrRejected when the code says so.
type APIError struct {
	Endpoint string // e.g. "/v3.0/oa/message/cs"
	Code     int
	Message  string // Zalo's, cleaned and cut
	// Fix says what the operator must change (a package, a permission,
	// billing) for errors no retry can fix; "" for the others.
	Fix string
}

// Error names the endpoint, Zalo's code and message, and the fix.
func (e *APIError) Error() string {
	s := fmt.Sprintf("zalo oa: %s: error %d", e.Endpoint, e.Code)
	if e.Message != "" {
		s += " (" + e.Message + ")"
	}
	if e.Fix != "" {
		s += ": " + e.Fix
	}
	return s
}

// operatorFixes are the errors only an operator can fix, and how.
var operatorFixes = map[int]string{
	-204: "the OA is disabled: check its status in OA Manager (oa.zalo.me)",
	-205: "the OA does not exist: check GOCUA_ZALO_OA_APP_ID and which OA the app is linked to",
	-209: "the app may not call this API: check the app's settings on developers.zalo.me",
	-212: "this API is not registered for the app: enable the Official Account API for the app on developers.zalo.me",
	-211: "the OA is out of message quota: buy a package or more quota in OA Manager",
	-223: "the OA has not granted the app this permission: an OA admin must authorize the app again with the messaging permission",
	-224: "the OA needs a paid service package (tier) for this: buy one in OA Manager",
	-242: "Zalo refused the appsecret_proof: check GOCUA_ZALO_OA_APP_SECRET",
	-320: "the app needs a Zalo Cloud Account (ZCA) to pay for messages: link one on developers.zalo.me",
	-321: "the app's Zalo Cloud Account is out of credit: top it up",
}

// apiAnswer is OpenAPI's envelope: {"error": 0, "message": "Success", "data": {…}}.
// HTTP is 200 even for errors.
type apiAnswer struct {
	Code    *flexInt        `json:"error"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

// flexInt is a JSON integer, or a string holding one.
type flexInt int

// UnmarshalJSON reads 7 or "7".
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(s)))
	if err != nil {
		return fmt.Errorf("not an integer: %w", err)
	}
	*f = flexInt(n)
	return nil
}

// call POSTs body to an OpenAPI endpoint with the access token and returns
// the answer's data. When Zalo says the token is invalid or expired (-216,
// -220) it refreshes the token and calls once more. Errors are in the
// core's vocabulary (see classify).
func (a *Adapter) call(ctx context.Context, path, contentType string, body []byte) (json.RawMessage, error) {
	tok, err := a.token(ctx)
	if err != nil {
		return nil, err
	}
	ans, err := a.post(ctx, path, contentType, body, tok)
	if err != nil {
		return nil, err
	}
	if c := int(*ans.Code); c == codeInvalidToken || c == codeTokenExpired {
		a.log.Info("zalo oa access token refused; refreshing it", "endpoint", path, "code", c)
		t, err := a.refresh(ctx, tok)
		if err != nil {
			return nil, err
		}
		if ans, err = a.post(ctx, path, contentType, body, t.Access); err != nil {
			return nil, err
		}
	}
	if err := a.classify(path, ans); err != nil {
		return nil, err
	}
	return ans.Data, nil
}

// post makes one OpenAPI call. Transport failures, 5xx and answers that
// are not Zalo's are plain errors (worth retrying); 429 asks to wait.
// Errors never hold the token: it travels in a header only.
func (a *Adapter) post(ctx context.Context, path, contentType string, body []byte, token string) (apiAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.APIURL+path, bytes.NewReader(body))
	if err != nil {
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: %w", path, err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("access_token", token)
	resp, err := a.httpc.Do(req)
	if err != nil {
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: reading the answer: %w", path, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := rateLimitWait
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		return apiAnswer{}, &bot.RetryAfterError{After: wait, Err: fmt.Errorf("zalo oa: %s: HTTP 429", path)}
	case resp.StatusCode >= 500:
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: HTTP %d", path, resp.StatusCode)
	}
	var ans apiAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || ans.Code == nil {
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: HTTP %d without a Zalo answer", path, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK && *ans.Code == 0 {
		return apiAnswer{}, fmt.Errorf("zalo oa: %s: HTTP %d", path, resp.StatusCode)
	}
	return ans, nil
}

// classify turns Zalo's error code into the core's vocabulary: -230 and
// -232 (the 7-day window is over) wrap bot.ErrWindow; -32 (the per-minute
// rate limit) is a *bot.RetryAfterError of a minute; -213 (not a
// follower), -227 (banned or inactive) and -244 (the resident refused this
// kind of message) wrap bot.ErrUnreachable; -201, -233, -240, -218 and -100
// (the request itself is refused) wrap bot.ErrRejected, and so do the
// errors only an operator can fix (operatorFixes), which are also logged
// loudly; anything else is a plain error worth retrying.
func (a *Adapter) classify(path string, ans apiAnswer) error {
	code := int(*ans.Code)
	if code == 0 {
		return nil
	}
	e := &APIError{Endpoint: path, Code: code, Message: clip(oneLine(bot.CleanText(ans.Message)), 200)}
	switch code {
	case -230, -232:
		return fmt.Errorf("%w: %w", bot.ErrWindow, e)
	case codeRateLimit:
		return &bot.RetryAfterError{After: rateLimitWait, Err: e}
	case -213, -227, -244:
		return fmt.Errorf("%w: %w", bot.ErrUnreachable, e)
	case -201, -233, -240, -218, codeExpired:
		return fmt.Errorf("%w: %w", bot.ErrRejected, e)
	}
	if fix, ok := operatorFixes[code]; ok {
		e.Fix = fix
		a.loud.log(a.log, code, e)
		return fmt.Errorf("%w: %w", bot.ErrRejected, e)
	}
	return e
}

// loudLog logs the errors an operator must fix at error level, once an
// hour per code, on top of the sender's line per message.
type loudLog struct {
	mu   sync.Mutex
	last map[int]time.Time
}

func (l *loudLog) log(log *slog.Logger, code int, err error) {
	l.mu.Lock()
	now := time.Now()
	if l.last == nil {
		l.last = make(map[int]time.Time)
	}
	if t, ok := l.last[code]; ok && now.Sub(t) < time.Hour {
		l.mu.Unlock()
		return
	}
	l.last[code] = now
	l.mu.Unlock()
	log.Error("zalo oa cannot send until the operator fixes this", "code", code, "err", err)
}

// isCode reports whether err is Zalo's error code.
func isCode(err error, code int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}
