// Package dashboard is the organizers' and volunteers' web dashboard at
// /dashboard/: server-rendered pages (html/template, assets embedded, no
// external CDN) for the overview, the live queue and web inbox, the flow
// funnels, volunteers, broadcasts, field visits, area posters and CSV
// exports. Sign-in is by one-time link (no passwords); every route is
// checked against the viewer's role and every form carries a CSRF token.
//
// The web inbox acts through the same desk as Telegram: a volunteer's
// claim, reply, note, release and resolve are updates of their
// bot.ChannelDashboard conversation handed to Core, so a ticket claimed on
// one side shows as taken on the other, and a form submitted twice is
// handled once.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/areas"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/handoff"
	"github.com/gocua/gocua/flows"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/dashboard/"

// Config configures the dashboard.
type Config struct {
	// PublicURL is the deployment's public address (GOCUA_PUBLIC_URL): login
	// links start with it; under https the session cookie is Secure and
	// HSTS is sent. "" : links use LocalURL, for the embedded default.
	PublicURL string
	// LocalURL returns the address the server listens on
	// (http://localhost:8080), known once it listens.
	LocalURL func() string
	// LinkTTL is how long a login link works (default 10 minutes); Session
	// how long a session lasts without being revoked (default 30 days).
	LinkTTL time.Duration
	Session time.Duration
	// Lang is the default language (vi), Location the deployment's time zone.
	Lang     string
	Location *time.Location
	// Areas are the communes/wards served (nil: none).
	Areas *areas.Set
	// Flows gives the flows (for funnel step order and broadcast buttons):
	// called on each use, so a reload is seen.
	Flows func() *flows.Set
	// Bots says how residents reach the bot, for the posters' QR codes
	// (asked on each poster: the Telegram username is learnt from Telegram).
	// nil: no channel links.
	Bots func(ctx context.Context) Bots
	// Broadcast checks web-written broadcasts (the rules and limits of the
	// channels that are on) and Wake starts a new one at once.
	BroadcastEnv   func(now time.Time) broadcast.Env
	BroadcastRules broadcast.Rules
	Wake           func()
	// StatsTTL is how long the overview's and the funnels' numbers are
	// kept before they are counted again (default 30 s; negative: never
	// kept).
	StatsTTL time.Duration
	// Poll is how often live pages look for changes (default 1 s).
	Poll time.Duration
	// LoginTries and LoginBurst limit the tries of the sign-in routes (they
	// take a link's token without a session) from one address, through
	// Deps.Limiter: LoginTries a minute in bursts of LoginBurst (default 20
	// and 40).
	LoginTries int
	LoginBurst int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Bots are the deep links a poster offers.
type Bots struct {
	// TelegramUsername is the bot's username ("" : Telegram is off).
	TelegramUsername string
	// WebChat is the web chat's address ("" : none): the poster adds ?area=.
	WebChat string
	// Zalo is the Zalo link ("" : Zalo is off); it takes no area.
	Zalo string
}

// Deps are the dashboard's collaborators.
type Deps struct {
	Store      Store
	Staff      Staff
	Core       Core
	Broadcasts Broadcasts
	Uploads    Uploads
	// Limiter counts the sign-in routes' tries per address (nil: no limit;
	// gocua passes its Redis, shared by every replica).
	Limiter Limiter
}

// Server serves the dashboard. It is also the bot.Deliverer of
// bot.ChannelDashboard: what the desk answers a web action is shown to
// the volunteer as a notice.
type Server struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
	text  texts
	https bool

	live    *live
	notices *notices

	routes []Route
}

var _ bot.Deliverer = (*Server)(nil)
var _ handoff.LinkMinter = (*Server)(nil)

// Role is who may open a route.
type Role int

// Roles, each allowed what the one before is.
const (
	Volunteer Role = iota + 1
	Organizer
)

func (r Role) String() string {
	if r == Organizer {
		return "organizer"
	}
	return "volunteer"
}

// Route is one page or action of the dashboard.
type Route struct {
	Method string // GET or POST
	Path   string // under Prefix, with {name} wildcards
	Role   Role
	// Upload says the form may carry a photo (multipart, up to
	// bot.MaxUpload); other forms are at most 64 KiB.
	Upload  bool
	handler func(w http.ResponseWriter, r *http.Request, v *viewer)
}

// New builds the dashboard.
func New(cfg Config, deps Deps, log *slog.Logger) (*Server, error) {
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 10 * time.Minute
	}
	if cfg.Session <= 0 {
		cfg.Session = 30 * 24 * time.Hour
	}
	if cfg.Lang == "" {
		cfg.Lang = "vi"
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Bots == nil {
		cfg.Bots = func(context.Context) Bots { return Bots{} }
	}
	if cfg.Flows == nil {
		cfg.Flows = func() *flows.Set { return nil }
	}
	if cfg.LoginTries <= 0 {
		cfg.LoginTries = 20
	}
	if cfg.LoginBurst <= 0 {
		cfg.LoginBurst = 40
	}
	if cfg.StatsTTL == 0 {
		cfg.StatsTTL = 30 * time.Second
	}
	if cfg.StatsTTL > 0 {
		deps.Store = newStatsCache(deps.Store, cfg.StatsTTL, cfg.Now)
	}
	tx, err := loadTexts()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, deps: deps, log: log, text: tx, mux: http.NewServeMux(), notices: newNotices()}
	s.https = strings.HasPrefix(cfg.PublicURL, "https://")
	s.live = newLive(deps.Store, cfg.Poll, log)
	if s.pages, err = parsePages(s.funcs()); err != nil {
		return nil, err
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.HandleFunc(rt.Method+" "+Prefix+rt.Path, s.guard(rt))
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET "+Prefix+"assets/", http.StripPrefix(Prefix+"assets/", assetHandler(assets)))
	s.mux.HandleFunc("GET "+Prefix+"login", s.loginPage)
	s.mux.HandleFunc("POST "+Prefix+"login", s.login)
	s.mux.HandleFunc("GET "+Prefix+"lang", s.switchLang)
	return s, nil
}

// Routes lists every guarded route (the role table's test walks them).
func (s *Server) Routes() []Route { return s.routes }

// Run polls for the live pages until ctx ends.
func (s *Server) Run(ctx context.Context) { s.live.run(ctx) }

// ServeHTTP serves everything under Prefix (and Prefix without its slash).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.headers(w)
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// headers are the security headers of every response.
func (s *Server) headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.https {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// viewer is the signed-in staff member of a request.
type viewer struct {
	Volunteer handoff.Volunteer
	Session   Session
	Lang      string
	// Scope is the areas they may see (nil: all).
	Scope []string
}

// Organizer reports whether the viewer is an organizer.
func (v *viewer) Organizer() bool { return v.Volunteer.Organizer() }

// Sees reports whether an area is in the viewer's scope.
func (v *viewer) Sees(area string) bool {
	if v.Scope == nil {
		return true
	}
	for _, a := range v.Scope {
		if a == area {
			return true
		}
	}
	return false
}

// guard wraps a route: a session, the role, and on POST the CSRF token.
func (s *Server) guard(rt Route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := s.viewer(r)
		switch {
		case errors.Is(err, errSignedOut):
			if r.Method == http.MethodGet && !isFragment(r) {
				http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, http.StatusUnauthorized, "err_signed_out")
			return
		case err != nil:
			s.log.Error("dashboard: session", "err", err)
			s.fail(w, r, nil, http.StatusServiceUnavailable, "err_unavailable")
			return
		}
		if rt.Role == Organizer && !v.Organizer() {
			s.fail(w, r, v, http.StatusForbidden, "err_forbidden")
			return
		}
		if r.Method == http.MethodPost {
			if err := readForm(w, r, rt.Upload); err != nil {
				s.tooLarge(w, r, v, err)
				return
			}
			if !s.sameOrigin(r) || !validCSRF(r, v.Session.CSRF) {
				s.fail(w, r, v, http.StatusForbidden, "err_csrf")
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		rt.handler(w, r, v)
	}
}

// fail answers with an error page in the viewer's language.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, v *viewer, code int, key string) {
	lang := s.requestLang(r)
	if v != nil {
		lang = v.Lang
	}
	w.Header().Set("Cache-Control", "no-store")
	if isFragment(r) || r.Header.Get("Accept") == "text/event-stream" {
		http.Error(w, s.text.get(lang, key), code)
		return
	}
	s.renderStatus(w, r, v, code, "error", map[string]any{"Message": s.text.get(lang, key), "Code": code})
}

// readForm reads a POST's form within its limit.
func readForm(w http.ResponseWriter, r *http.Request, upload bool) error {
	limit := int64(maxForm)
	if upload {
		limit += bot.MaxUpload
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if !upload {
			return errNotMultipart
		}
		return r.ParseMultipartForm(1 << 20)
	}
	return r.ParseForm()
}

// errNotMultipart: a file sent to a form that takes none.
var errNotMultipart = errors.New("dashboard: this form takes no file")

// pathID reads the path's {id}, or answers 404.
func (s *Server) pathID(w http.ResponseWriter, r *http.Request, v *viewer) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return 0, false
	}
	return id, true
}

// byPath reads the row the path's {id} names, or answers: 404 for a bad
// id, one that does not exist (notFound) and one the viewer may not see
// (may false: ids are not a way to learn what exists), 503 when the store
// fails.
func byPath[T any](s *Server, w http.ResponseWriter, r *http.Request, v *viewer,
	read func(context.Context, int64) (T, error), notFound error, may func(T) bool) (T, bool) {
	var x T
	id, ok := s.pathID(w, r, v)
	if !ok {
		return x, false
	}
	x, err := read(r.Context(), id)
	switch {
	case errors.Is(err, notFound), err == nil && !may(x):
		s.fail(w, r, v, http.StatusNotFound, "err_not_found")
		return x, false
	case err != nil:
		s.unavailable(w, r, v, err)
		return x, false
	}
	return x, true
}

// isFragment reports a request for a live page's fragment (app.js).
func isFragment(r *http.Request) bool { return r.Header.Get("X-Fragment") != "" }

// errf wraps an error of the dashboard.
func errf(what string, err error) error { return fmt.Errorf("dashboard: %s: %w", what, err) }
