package dashboard

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed texts.yaml
var textsYAML []byte

// texts are the dashboard's words: key → language → text.
type texts map[string]map[string]string

func loadTexts() (texts, error) {
	var doc struct {
		Texts texts `yaml:"texts"`
	}
	if err := yaml.Unmarshal(textsYAML, &doc); err != nil {
		return nil, fmt.Errorf("dashboard: texts.yaml: %w", err)
	}
	for k, m := range doc.Texts {
		if m["vi"] == "" || m["en"] == "" {
			return nil, fmt.Errorf("dashboard: texts.yaml: %s needs vi and en", k)
		}
	}
	return doc.Texts, nil
}

// get returns a text in lang ({name} placeholders replaced by args given
// as name, value pairs); an unknown key shows itself, so it is seen.
func (t texts) get(lang, key string, args ...any) string {
	m, ok := t[key]
	if !ok {
		return key
	}
	s := m[lang]
	if s == "" {
		s = m["vi"]
	}
	for i := 0; i+1 < len(args); i += 2 {
		s = strings.ReplaceAll(s, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return s
}

// page is what every template gets.
type page struct {
	s      *Server
	V      *viewer // nil on the login and error pages
	Lang   string
	Name   string // the page's template name (the nav marks it)
	Path   string // the request's path and query (the language switch comes back to it)
	Notice string // a short message about what was just done
	Live   bool   // the page has a live part (which shows the notice)
	Data   any
}

// T translates a key for the page's language.
func (p *page) T(key string, args ...any) string { return p.s.text.get(p.Lang, key, args...) }

// CSRF is the session's form token.
func (p *page) CSRF() string {
	if p.V == nil {
		return ""
	}
	return p.V.Session.CSRF
}

// Other is the language the switch offers.
func (p *page) Other() string {
	if p.Lang == "en" {
		return "vi"
	}
	return "en"
}

// When formats a time in the deployment's zone.
func (p *page) When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(p.s.cfg.Location).Format("02/01/2006 15:04")
}

// Day formats a date.
func (p *page) Day(t time.Time) string { return t.In(p.s.cfg.Location).Format("02/01") }

// Ago says how long ago t was, in minutes, hours or days.
func (p *page) Ago(t time.Time) string { return p.Dur(p.s.cfg.Now().Sub(t)) }

// Dur formats a duration shortly: "45 giây", "12 phút", "3,5 giờ".
func (p *page) Dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "—"
	case d < time.Minute:
		return p.T("dur_seconds", "n", int(d/time.Second))
	case d < time.Hour:
		return p.T("dur_minutes", "n", int(d/time.Minute))
	case d < 48*time.Hour:
		return p.T("dur_hours", "n", p.Num1(d.Hours()))
	}
	return p.T("dur_days", "n", p.Num1(d.Hours()/24))
}

// Num formats a count with the language's thousands separator.
func (p *page) Num(n int64) string {
	s := strconv.FormatInt(n, 10)
	sep := "."
	if p.Lang == "en" {
		sep = ","
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Num1 formats a number with one decimal (a comma in Vietnamese).
func (p *page) Num1(f float64) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if p.Lang != "en" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// Pct formats part/whole as a percentage ("—" when whole is 0).
func (p *page) Pct(part, whole int64) string {
	if whole <= 0 {
		return "—"
	}
	return p.Num1(float64(part)*100/float64(whole)) + "%"
}

// AreaName names an area code ("-": no area).
func (p *page) AreaName(code string) string {
	switch code {
	case "":
		return p.T("area_all")
	case "-":
		return p.T("area_none")
	}
	if a := p.s.cfg.Areas; a != nil {
		if x, ok := a.Lookup(code); ok {
			return x.Name
		}
	}
	return code
}

// Ward names a ticket's or a visit's area: "" is no area (not all of them).
func (p *page) Ward(code string) string {
	if code == "" {
		code = "-"
	}
	return p.AreaName(code)
}

// StatsAge says how old the counted numbers may be.
func (p *page) StatsAge() string {
	if p.s.cfg.StatsTTL <= 0 {
		return ""
	}
	return p.T("stats_age", "n", int(p.s.cfg.StatsTTL/time.Second))
}

// Me names the signed-in staff member.
func (p *page) Me() string {
	if p.V == nil {
		return ""
	}
	return cmpOr(p.V.Volunteer.Name, "#"+strconv.FormatInt(p.V.Volunteer.ID, 10))
}

// parsePages parses each page with the layout.
func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("base.html").Funcs(funcs).ParseFS(templateFS, "templates/base.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "base" || name == "parts" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// funcs are the templates' helpers that need no page.
func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"add": func(a, b int) int { return a + b },
		"query": func(kv ...string) template.URL {
			q := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] != "" {
					q.Set(kv[i], kv[i+1])
				}
			}
			return template.URL(q.Encode())
		},
		"prefix": func() string { return Prefix },
		// nonce is a new form's nonce: each form drawn gets its own (see act)
		"nonce": nonce,
	}
}

// render writes a page (200).
func (s *Server) render(w http.ResponseWriter, r *http.Request, v *viewer, name string, data any) {
	s.renderStatus(w, r, v, http.StatusOK, name, data)
}

// renderStatus writes a page with a status. With X-Fragment the page's
// "live" block alone is written (the live pages refresh it).
func (s *Server) renderStatus(w http.ResponseWriter, r *http.Request, v *viewer, code int, name string, data any) {
	t, ok := s.pages[name]
	if !ok {
		s.log.Error("dashboard: no such template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p := &page{s: s, V: v, Lang: s.requestLang(r), Name: name, Path: r.URL.RequestURI(), Data: data}
	if v != nil {
		p.Lang = v.Lang
	}
	if n := r.URL.Query().Get("n"); strings.HasPrefix(n, "notice_") {
		if _, known := s.text[n]; known {
			p.Notice = p.T(n)
		}
	}
	if v != nil && p.Notice == "" {
		p.Notice = s.notices.take(v.Volunteer.ID, s.cfg.Now())
	}
	root := "base.html"
	p.Live = t.Lookup("live") != nil
	if isFragment(r) && p.Live {
		root = "live"
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, root, p); err != nil {
		s.log.Error("dashboard: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b.Bytes())
}

// redirect goes to a page after a form, with a notice key.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "n=" + url.QueryEscape(notice)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// unavailable logs a store failure and says the dashboard cannot answer.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	s.log.Error("dashboard: store", "path", r.URL.Path, "err", err)
	s.fail(w, r, v, http.StatusServiceUnavailable, "err_unavailable")
}

// assetHandler serves the embedded assets with a day's caching.
func assetHandler(assets fs.FS) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
