package oa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
)

// Token handling.
const (
	// refreshAhead: an access token expiring this soon is refreshed first.
	refreshAhead = 5 * time.Minute
	// defaultExpiresIn is the access token's lifetime when Zalo's answer
	// does not say (25 h).
	defaultExpiresIn = 90000 * time.Second
	// tokenReload is how long the stored pair is used from memory before it
	// is read again (another replica may have refreshed it, or found it
	// broken).
	tokenReload = 30 * time.Second
	// refreshTimeout bounds a refresh. It is not cancelled with the send
	// that asked for it: a refresh Zalo answered must be stored, or the
	// single-use refresh token it consumed is lost.
	refreshTimeout = 45 * time.Second
	pathToken      = "/v4/oa/access_token"
)

// ReauthorizeError says Zalo refused the refresh token: gocua cannot send
// on Zalo OA until an OA admin authorizes the app again and the operator
// configures the new refresh token. Deliver returns it without calling
// Zalo once the refusal is stored. It is not a bot.ErrRejected: messages
// wait in the outbox through the sender's retries, and a restart with the
// new token sends what is still there.
type ReauthorizeError struct {
	AppID    string
	OAuthURL string
	// Reason is what Zalo answered (its error code and description), or
	// what was missing from its answer. It never holds a token.
	Reason string
}

// Error is the operator's instructions.
func (e *ReauthorizeError) Error() string {
	return fmt.Sprintf("zalo oa: Zalo refused the refresh token (%s): gocua cannot send on Zalo OA until an OA admin "+
		"authorizes the app again: open %s/v4/oa/permission?app_id=%s&redirect_uri=<the app's callback URL>&code_challenge=<S256 of a new code_verifier>, "+
		"exchange the code it gives (POST %s%s with grant_type=authorization_code, the code, app_id and the code_verifier, header secret_key), "+
		"set GOCUA_ZALO_OA_REFRESH_TOKEN to the new refresh token and restart gocua; the other channels keep working",
		e.Reason, e.OAuthURL, url.QueryEscape(e.AppID), e.OAuthURL, pathToken)
}

// tokenState is this process's view of the stored token pair.
type tokenState struct {
	mu       sync.Mutex
	seeded   bool
	cur      bot.Token
	loaded   time.Time // when cur was read from the store
	reported string    // the Broken reason last logged ("" when healthy)

	refreshMu sync.Mutex // one refresh (LockToken call) at a time in this process
}

// tokenName is the pair's name in the store.
func (a *Adapter) tokenName() string { return "zalo-oa:" + a.cfg.AppID }

// seedHash identifies the configured refresh token in the store, without
// storing it twice.
func seedHash(refresh string) string {
	sum := sha256.Sum256([]byte(refresh))
	return hex.EncodeToString(sum[:])
}

// token returns an access token to call OpenAPI with, refreshing the pair
// first when it has none or it expires within refreshAhead. A pair whose
// refresh Zalo refused gives a *ReauthorizeError without any call to Zalo.
func (a *Adapter) token(ctx context.Context) (string, error) {
	t, err := a.storedToken(ctx)
	if err != nil {
		return "", err
	}
	if t.Broken != "" {
		return "", a.reauthorize(t.Broken)
	}
	if t.Access == "" || !t.Expires.After(a.now().Add(refreshAhead)) {
		if t, err = a.refresh(ctx, t.Access); err != nil {
			return "", err
		}
	}
	return t.Access, nil
}

// storedToken is the pair as stored: seeded from the configuration the
// first time, then read again every tokenReload.
func (a *Adapter) storedToken(ctx context.Context) (bot.Token, error) {
	a.tok.mu.Lock()
	if a.tok.seeded && a.now().Sub(a.tok.loaded) < tokenReload {
		t := a.tok.cur
		a.tok.mu.Unlock()
		return t, nil
	}
	seeded, cached := a.tok.seeded, a.tok.cur
	a.tok.mu.Unlock()
	var t bot.Token
	var err error
	if seeded {
		t, err = a.tokens.Token(ctx, a.tokenName())
		if err != nil && !errors.Is(err, bot.ErrNoToken) && a.valid(cached) {
			// the store is down: the pair read last still works
			a.log.Warn("zalo oa: token pair not read again; using the one read last", "err", err)
			return cached, nil
		}
	}
	if !seeded || errors.Is(err, bot.ErrNoToken) {
		t, err = a.tokens.SeedToken(ctx, a.tokenName(), bot.Token{
			Refresh: a.cfg.RefreshToken, Seed: seedHash(a.cfg.RefreshToken), Updated: a.now(),
		})
	}
	if err != nil {
		return bot.Token{}, fmt.Errorf("zalo oa: reading the token pair: %w", err)
	}
	a.setToken(t)
	return t, nil
}

// setToken keeps t, as just read from or written to the store, as this
// process's view, and logs a change of health:
// a refusal loudly, once, and the recovery.
func (a *Adapter) setToken(t bot.Token) {
	a.tok.mu.Lock()
	a.tok.cur = t
	a.tok.seeded, a.tok.loaded = true, a.now()
	prev := a.tok.reported
	a.tok.reported = t.Broken
	a.tok.mu.Unlock()
	switch {
	case t.Broken != "" && t.Broken != prev:
		a.log.Error("zalo oa cannot send: the app must be authorized again", "err", a.reauthorize(t.Broken))
	case t.Broken == "" && prev != "":
		a.log.Info("zalo oa token pair works again")
	}
}

func (a *Adapter) reauthorize(reason string) *ReauthorizeError {
	return &ReauthorizeError{AppID: a.cfg.AppID, OAuthURL: a.cfg.OAuthURL, Reason: reason}
}

// valid reports whether t's access token may be used now.
func (a *Adapter) valid(t bot.Token) bool {
	return t.Broken == "" && t.Access != "" && t.Expires.After(a.now().Add(refreshAhead))
}

// refresh replaces the pair whose access token stale is (stale "" when
// there is none) and returns the new one. The stored pair is read and
// replaced under the store's lock, so replicas never use one refresh token
// twice: when another replica (or goroutine) refreshed meanwhile, its pair
// is used and Zalo is not called. A refusal is stored (every replica then
// stops asking) and returned as a *ReauthorizeError; a transient failure
// (-32, 5xx, the network) stores nothing.
func (a *Adapter) refresh(ctx context.Context, stale string) (bot.Token, error) {
	a.tok.refreshMu.Lock()
	defer a.tok.refreshMu.Unlock()
	a.tok.mu.Lock()
	cur := a.tok.cur
	a.tok.mu.Unlock()
	switch {
	case cur.Broken != "":
		return bot.Token{}, a.reauthorize(cur.Broken)
	case cur.Access != stale && a.valid(cur): // refreshed while this call waited
		return cur, nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	defer cancel()
	t, err := a.tokens.LockToken(rctx, a.tokenName(), func(cur bot.Token) (bot.Token, bool, error) {
		if cur.Broken != "" || cur.Access != stale && a.valid(cur) {
			return cur, false, nil
		}
		if cur == (bot.Token{}) { // the pair was deleted meanwhile: start again from the seed
			cur = bot.Token{Refresh: a.cfg.RefreshToken, Seed: seedHash(a.cfg.RefreshToken)}
		}
		if cur.Refresh == "" {
			return broken(cur, "no refresh token is stored", a.now()), true, nil
		}
		got, err := a.oauthRefresh(rctx, cur.Refresh)
		var refused *refusal
		switch {
		case errors.As(err, &refused):
			return broken(cur, refused.reason, a.now()), true, nil
		case err != nil:
			return cur, false, err
		}
		now := a.now()
		return bot.Token{Access: got.access, Refresh: got.refresh, Expires: now.Add(got.expiresIn), Seed: cur.Seed, Updated: now}, true, nil
	})
	if err != nil {
		return bot.Token{}, fmt.Errorf("zalo oa: refreshing the access token: %w", err)
	}
	a.setToken(t)
	switch {
	case t.Broken != "":
		return bot.Token{}, a.reauthorize(t.Broken)
	case t.Access == "":
		return bot.Token{}, errors.New("zalo oa: refreshing the access token: the store kept no access token")
	}
	return t, nil
}

// broken is t marked as refused by Zalo, with why: nothing is sent with
// it until the operator configures a new refresh token.
func broken(t bot.Token, why string, now time.Time) bot.Token {
	t.Broken, t.Updated = why, now
	return t
}

// refusal is Zalo refusing a refresh for good.
type refusal struct{ reason string }

func (r *refusal) Error() string { return "refused: " + r.reason }

type refreshed struct {
	access, refresh string
	expiresIn       time.Duration
}

// oauthRefresh trades a refresh token for a new pair. It returns a
// *refusal when Zalo refuses it (any error but -32 in its answer, or an
// answer without both tokens), and another error for failures worth
// retrying (the network, 5xx, 429, -32, an answer that is not Zalo's).
// Errors never hold a token.
func (a *Adapter) oauthRefresh(ctx context.Context, refreshToken string) (refreshed, error) {
	form := url.Values{"refresh_token": {refreshToken}, "app_id": {a.cfg.AppID}, "grant_type": {"refresh_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.OAuthURL+pathToken, strings.NewReader(form.Encode()))
	if err != nil {
		return refreshed{}, fmt.Errorf("oauth: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("secret_key", a.cfg.AppSecret)
	resp, err := a.httpc.Do(req)
	if err != nil {
		return refreshed{}, fmt.Errorf("oauth: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return refreshed{}, fmt.Errorf("oauth: reading the answer: %w", err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return refreshed{}, fmt.Errorf("oauth: HTTP %d", resp.StatusCode)
	}
	var ans struct {
		Access      string          `json:"access_token"`
		Refresh     string          `json:"refresh_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       *flexInt        `json:"error"`
		Name        string          `json:"error_name"`
		Reason      string          `json:"error_reason"`
		Description string          `json:"error_description"`
		Message     string          `json:"message"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		// a proxy's page, a truncated answer: not Zalo refusing
		return refreshed{}, fmt.Errorf("oauth: HTTP %d without a Zalo answer", resp.StatusCode)
	}
	code := 0
	if ans.Error != nil {
		code = int(*ans.Error)
	}
	if code == codeRateLimit {
		return refreshed{}, errors.New("oauth: rate limited (-32)")
	}
	if code != 0 || ans.Name != "" || ans.Description != "" || ans.Reason != "" || ans.Access == "" || ans.Refresh == "" {
		return refreshed{}, &refusal{reason: refusalReason(resp.StatusCode, code, ans.Name, ans.Reason, ans.Description, ans.Message)}
	}
	return refreshed{access: ans.Access, refresh: ans.Refresh, expiresIn: expiresIn(ans.ExpiresIn)}, nil
}

// refusalReason describes a refusal from what Zalo answered.
func refusalReason(status, code int, texts ...string) string {
	var parts []string
	if code != 0 {
		parts = append(parts, "error "+strconv.Itoa(code))
	}
	seen := map[string]bool{}
	for _, t := range texts {
		if t = clip(oneLine(bot.CleanText(t)), 160); t != "" && !seen[t] {
			seen[t] = true
			parts = append(parts, t)
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("HTTP %d: the answer held no access or refresh token", status)
	}
	return strings.Join(parts, ": ")
}

// expiresIn reads expires_in, a number of seconds sent as a string or a
// number; missing, malformed or not positive is defaultExpiresIn.
func expiresIn(raw json.RawMessage) time.Duration {
	var s flexString
	if !present(raw) || s.UnmarshalJSON(raw) != nil {
		return defaultExpiresIn
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil || n <= 0 || n > 366*24*3600 {
		return defaultExpiresIn
	}
	return time.Duration(n) * time.Second
}

// Health reports whether the adapter can send, for /readyz and metrics: false,
// with the operator's instructions, once Zalo refused the refresh token.
// It makes no call; before the first send it reports true.
func (a *Adapter) Health() (ok bool, detail string) {
	a.tok.mu.Lock()
	t := a.tok.cur
	a.tok.mu.Unlock()
	if t.Broken != "" {
		return false, a.reauthorize(t.Broken).Error()
	}
	return true, ""
}
