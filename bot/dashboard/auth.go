package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cookies of the dashboard.
const (
	sessionCookie = "gocua_dash"
	langCookie    = "gocua_dash_lang"
)

// errSignedOut: no valid session.
var errSignedOut = errors.New("dashboard: signed out")

// token returns 32 random bytes, base64url.
func token() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashOf is how tokens are stored: their SHA-256, hex.
func hashOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// validToken reports whether s looks like a token (so junk never reaches
// the store).
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// MintLink implements handoff.LinkMinter: a link that signs staff member
// volunteer in once, within Config.LinkTTL.
func (s *Server) MintLink(ctx context.Context, volunteer int64, now time.Time) (string, time.Duration, error) {
	link, err := NewLink(ctx, s.deps.Store, s.base(), volunteer, now, s.cfg.LinkTTL)
	return link, s.cfg.LinkTTL, err
}

// NewLink stores a one-time login link for staff member volunteer, valid
// for ttl from now, and returns it (base is the deployment's address).
// The token is in the link only: the store keeps its hash.
func NewLink(ctx context.Context, st Store, base string, volunteer int64, now time.Time, ttl time.Duration) (string, error) {
	tok := token()
	l := Login{Hash: hashOf(tok), Volunteer: volunteer, Created: now, Expires: now.Add(ttl)}
	if err := st.CreateLogin(ctx, l); err != nil {
		return "", errf("login link", err)
	}
	return strings.TrimRight(base, "/") + Prefix + "login?t=" + tok, nil
}

// base is the address links start with.
func (s *Server) base() string {
	if s.cfg.PublicURL == "" && s.cfg.LocalURL != nil {
		return s.cfg.LocalURL()
	}
	return s.cfg.PublicURL
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// loginPage shows the sign-in button for a link's token. Opening the link
// signs nobody in: chat apps fetch links to preview them, so the token is
// spent only by the button's POST.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.loginLimited(w, r) {
		return
	}
	tok := r.URL.Query().Get("t")
	data := map[string]any{"Token": tok}
	if tok != "" && !validToken(tok) {
		data["Message"] = s.text.get(s.requestLang(r), "login_refused")
		data["Token"] = ""
	}
	s.renderStatus(w, r, nil, http.StatusOK, "login", data)
}

// login spends a link's token and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.loginLimited(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	tok := r.PostFormValue("t")
	lang := s.requestLang(r)
	refuse := func(code int) {
		s.renderStatus(w, r, nil, code, "login", map[string]any{"Message": s.text.get(lang, "login_refused")})
	}
	if !s.sameOrigin(r) {
		s.renderStatus(w, r, nil, http.StatusForbidden, "error", map[string]any{"Message": s.text.get(lang, "err_csrf"), "Code": http.StatusForbidden})
		return
	}
	if !validToken(tok) {
		refuse(http.StatusBadRequest)
		return
	}
	now := s.cfg.Now()
	l, err := s.deps.Store.UseLogin(r.Context(), hashOf(tok), now)
	if errors.Is(err, ErrLinkRefused) {
		refuse(http.StatusForbidden)
		return
	}
	if err != nil {
		s.log.Error("dashboard: login", "err", err)
		s.fail(w, r, nil, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	vol, err := s.deps.Staff.VolunteerByID(r.Context(), l.Volunteer)
	if err != nil || !vol.Active() {
		refuse(http.StatusForbidden)
		return
	}
	cookie := token()
	sess := Session{Hash: hashOf(cookie), Volunteer: vol.ID, CSRF: token(), Agent: clipBytes(r.UserAgent(), 200),
		Created: now, Seen: now, Expires: now.Add(s.cfg.Session)}
	if _, err := s.deps.Store.CreateSession(r.Context(), sess); err != nil {
		s.log.Error("dashboard: session", "err", err)
		s.fail(w, r, nil, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	http.SetCookie(w, s.cookie(sessionCookie, cookie, sess.Expires))
	s.log.Info("dashboard: signed in", "volunteer", vol.ID)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// cookie builds one of the dashboard's cookies.
func (s *Server) cookie(name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: s.https,
		SameSite: http.SameSiteStrictMode}
	if !expires.IsZero() {
		c.Expires = expires
		c.MaxAge = max(int(time.Until(expires)/time.Second), 1)
	}
	return c
}

// viewer reads the request's session.
func (s *Server) viewer(r *http.Request) (*viewer, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !validToken(c.Value) {
		return nil, errSignedOut
	}
	ctx := r.Context()
	sess, err := s.deps.Store.Session(ctx, hashOf(c.Value))
	if errors.Is(err, ErrNotFound) {
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	if !sess.Revoked.IsZero() || !now.Before(sess.Expires) {
		return nil, errSignedOut
	}
	vol, err := s.deps.Staff.VolunteerByID(ctx, sess.Volunteer)
	if err != nil || !vol.Active() {
		// suspended, rejected or gone: the session ends with the rights
		return nil, errSignedOut
	}
	if now.Sub(sess.Seen) > time.Minute {
		if err := s.deps.Store.TouchSession(ctx, sess.ID, now); err != nil {
			s.log.Warn("dashboard: session not touched", "err", err)
		}
	}
	v := &viewer{Volunteer: vol, Session: sess, Lang: s.requestLang(r)}
	if len(vol.Areas) > 0 {
		v.Scope = vol.Areas
	}
	return v, nil
}

// logout revokes the session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := s.deps.Store.RevokeSession(r.Context(), v.Session.ID, v.Volunteer.ID, s.cfg.Now()); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Error("dashboard: logout", "err", err)
		s.fail(w, r, v, http.StatusServiceUnavailable, "err_unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		Secure: s.https, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// sessionsPage lists the viewer's sessions (an organizer's: everyone's).
func (s *Server) sessionsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	owner := v.Volunteer.ID
	if v.Organizer() && r.URL.Query().Get("all") == "1" {
		owner = 0
	}
	list, err := s.deps.Store.Sessions(r.Context(), owner, s.cfg.Now())
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	names := map[int64]string{}
	if owner == 0 {
		if vs, err := s.deps.Staff.Volunteers(r.Context()); err == nil {
			for _, x := range vs {
				names[x.ID] = cmpOr(x.Name, "#"+strconv.FormatInt(x.ID, 10))
			}
		}
	}
	s.render(w, r, v, "sessions", map[string]any{"Sessions": list, "All": owner == 0, "Names": names})
}

// revokeSession ends one session (the viewer's own, or anyone's for an
// organizer).
func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, ok := s.pathID(w, r, v)
	if !ok {
		return
	}
	owner := v.Volunteer.ID
	if v.Organizer() {
		owner = 0
	}
	err := s.deps.Store.RevokeSession(r.Context(), id, owner, s.cfg.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return
	case err != nil:
		s.unavailable(w, r, v, err)
		return
	}
	s.redirect(w, r, Prefix+"sessions", "notice_revoked")
}

// sameOrigin refuses cross-site form posts (beside the CSRF token):
// browsers say where a request comes from, in Sec-Fetch-Site and Origin
// (which is "null" after a page with a strict referrer policy).
func (s *Server) sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	switch site {
	case "", "same-origin", "none":
	default:
		return false
	}
	switch origin := r.Header.Get("Origin"); origin {
	case "":
		return true
	case "null":
		return site == "same-origin"
	default:
		u, err := url.Parse(origin)
		return err == nil && u.Host == r.Host
	}
}

// validCSRF compares the form's token with the session's.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// switchLang sets the language cookie and goes back.
func (s *Server) switchLang(w http.ResponseWriter, r *http.Request) {
	lang := r.URL.Query().Get("to")
	if lang != "vi" && lang != "en" {
		lang = s.cfg.Lang
	}
	http.SetCookie(w, s.cookie(langCookie, lang, s.cfg.Now().Add(400*24*time.Hour)))
	back := r.URL.Query().Get("back")
	if !strings.HasPrefix(back, Prefix) || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = Prefix
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// requestLang is the language of a request: the cookie, or the default.
func (s *Server) requestLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && (c.Value == "vi" || c.Value == "en") {
		return c.Value
	}
	return s.cfg.Lang
}

// clipBytes cuts s to at most n bytes on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
