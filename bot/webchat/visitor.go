package webchat

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Visitor cookies are signed, so that a script cannot mint visitor ids and
// create conversations at will: the cookie is "<id>.<key id>.<mac>", where
// id is the visitor's random 128-bit id (32 hex digits, the conversation's
// ChatID), key id names the signing key and mac is the first 16 bytes of
// HMAC-SHA256(key, "gocua-visitor-v1|" + id), base64url. Keys come from the
// durable store and rotate: the newest signs, older ones still verify, and a
// cookie signed with an older key is re-issued with the newest, so a
// rotation logs nobody out.

// Keys gives the keys visitor cookies are signed with, newest first (the
// first signs). Main implements it over the durable store, which rotates
// them.
type Keys interface {
	SigningKeys(ctx context.Context) ([]bot.SigningKey, error)
}

// Keyring timing.
const (
	keysRefresh      = 10 * time.Minute // how often the keys are re-read
	keysUnknownRetry = 5 * time.Second  // at most this often on a cookie naming an unknown key
	macBytes         = 16
	macContext       = "gocua-visitor-v1|"
)

// errBusy: a new visitor was refused by the per-address limit.
var errBusy = errors.New("webchat: too many new visitors from this address")

// keyring caches the signing keys.
type keyring struct {
	src Keys

	mu      sync.Mutex
	byID    map[int64][]byte
	current bot.SigningKey
	loaded  time.Time // last successful load
	tried   time.Time // last attempt
}

// load reads the keys; with force false only when the cached ones are old.
func (k *keyring) load(ctx context.Context, now time.Time, force bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !force && now.Sub(k.loaded) < keysRefresh || now.Sub(k.tried) < keysUnknownRetry {
		return nil
	}
	k.tried = now
	keys, err := k.src.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("webchat: signing keys: %w", err)
	}
	if len(keys) == 0 || len(keys[0].Secret) < 16 {
		return errors.New("webchat: no usable signing key")
	}
	k.byID = make(map[int64][]byte, len(keys))
	for _, key := range keys {
		k.byID[key.ID] = key.Secret
	}
	k.current, k.loaded = keys[0], now
	return nil
}

func mac(secret []byte, id string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(macContext + id))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:macBytes])
}

// sign returns the cookie value for visitor id with the current key.
func (k *keyring) sign(id string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return id + "." + strconv.FormatInt(k.current.ID, 10) + "." + mac(k.current.Secret, id)
}

// verify checks a cookie value. It returns the visitor id, whether it is
// signed with an older key (re-issue it), and whether the key is unknown
// (refresh the keys and try again).
func (k *keyring) verify(value string) (id string, old, unknown, ok bool) {
	id, rest, found := strings.Cut(value, ".")
	kid, sig, found2 := strings.Cut(rest, ".")
	if !found || !found2 || !validVisitor(id) {
		return "", false, false, false
	}
	n, err := strconv.ParseInt(kid, 10, 64)
	if err != nil {
		return "", false, false, false
	}
	k.mu.Lock()
	secret, known := k.byID[n]
	current := k.current.ID
	k.mu.Unlock()
	if !known {
		return "", false, true, false
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, id))) {
		return "", false, false, false
	}
	return id, n != current, false, true
}

// VisitorID returns the visitor id a cookie value carries, without checking
// its signature (for tests and tools; the adapter verifies).
func VisitorID(cookie string) string {
	id, _, _ := strings.Cut(cookie, ".")
	return id
}

// visitor returns the request's verified visitor id. A cookie signed with an
// older key is re-issued with the newest; a legacy unsigned cookie is
// upgraded if its visitor has a history (a resident from before signing),
// else ignored. Without a valid cookie it issues a new visitor (issue
// false: returns ""), within the per-address limit on new visitors
// (errBusy beyond it).
func (a *Adapter) visitor(w http.ResponseWriter, r *http.Request, issue bool) (string, error) {
	now := a.cfg.Now()
	if err := a.keys.load(r.Context(), now, false); err != nil {
		a.log.Warn("web chat: refreshing signing keys; the cached ones stay in use", "err", err)
	}
	if c, err := r.Cookie(CookieName); err == nil {
		id, old, unknown, ok := a.keys.verify(c.Value)
		if unknown {
			if err := a.keys.load(r.Context(), now, true); err != nil {
				a.log.Warn("web chat: reloading signing keys", "err", err)
			}
			id, old, _, ok = a.keys.verify(c.Value)
		}
		switch {
		case ok && old:
			a.setCookie(w, r, id)
			return id, nil
		case ok:
			return id, nil
		case validVisitor(c.Value) && a.hasHistory(r.Context(), c.Value):
			a.setCookie(w, r, c.Value)
			return c.Value, nil
		}
	}
	if !issue {
		return "", nil
	}
	if ok, _ := a.newVisitors.reserve(platform.ClientAddr(r), now); !ok {
		return "", errBusy
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	id := hex.EncodeToString(b[:])
	a.setCookie(w, r, id)
	return id, nil
}

// hasHistory reports whether a (legacy, unsigned) visitor id has messages.
func (a *Adapter) hasHistory(ctx context.Context, id string) bool {
	items, err := a.hist.History(ctx, bot.ConvKey{Channel: bot.ChannelWeb, ChatID: id}, 0)
	return err == nil && len(items) > 0
}

func (a *Adapter) setCookie(w http.ResponseWriter, r *http.Request, id string) {
	c := &http.Cookie{
		Name: CookieName, Value: a.keys.sign(id), Path: "/chat",
		MaxAge: int(cookieMaxAge / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if isHTTPS(r) {
		c.Secure = true
		if a.embeddedCrossSite(r) {
			// inside an allowed ward website's iframe the cookie is third-party
			c.SameSite = http.SameSiteNoneMode
		}
	}
	http.SetCookie(w, c)
}
