package dashboard

import (
	"bytes"
	"image/png"
	"net/http"
	"strconv"

	"github.com/gocua/gocua/bot/areas"
)

// The areas page lists the communes and wards served, with their offices
// and a poster for each: printed and put up at the ward's office, its QR
// code opens the bot with the ward already chosen.

func (s *Server) areaRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "areas", Role: Organizer, handler: s.areasPage},
		{Method: http.MethodGet, Path: "areas/{code}/poster", Role: Organizer, handler: s.posterPage},
		{Method: http.MethodGet, Path: "areas/{code}/poster.png", Role: Organizer, handler: s.posterPNG},
	}
}

type areasView struct {
	Configured bool
	Province   areas.Province
	Areas      []areas.Area
	Links      bool // a poster has a link to print
}

func (s *Server) areasPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view := areasView{Configured: s.cfg.Areas != nil, Links: s.posterLinks(r.Context(), "x").Main != ""}
	if s.cfg.Areas != nil {
		view.Province = s.cfg.Areas.Province()
		for _, a := range s.cfg.Areas.All() {
			if v.Sees(a.Code) {
				view.Areas = append(view.Areas, a)
			}
		}
	}
	s.render(w, r, v, "areas", view)
}

// posterArea reads the area of the path, or answers 404 (also for an area
// outside the viewer's).
func (s *Server) posterArea(w http.ResponseWriter, r *http.Request, v *viewer) (areas.Area, bool) {
	code := r.PathValue("code")
	if s.cfg.Areas != nil && len(code) <= areas.MaxCode && v.Sees(code) {
		if a, ok := s.cfg.Areas.Lookup(code); ok && a.Code == code {
			return a, true
		}
	}
	s.fail(w, r, v, http.StatusNotFound, "err_not_found")
	return areas.Area{}, false
}

// posterLang is the poster's language: Vietnamese, for the residents who
// read it, unless ?lang=en asks otherwise.
func posterLang(r *http.Request) string {
	if r.URL.Query().Get("lang") == "en" {
		return "en"
	}
	return "vi"
}

// posterSteps are the steps a poster lists.
var posterSteps = []string{"poster_step_1", "poster_step_2", "poster_step_3", "poster_step_4"}

// posterWords is what area a's poster says.
func (s *Server) posterWords(a areas.Area, lang string) posterText {
	t := posterText{Kicker: s.text.get(lang, "poster_kicker"), Name: a.Name, Province: s.cfg.Areas.Province().Name,
		ZaloLabel: s.text.get(lang, "poster_zalo"), Warn: s.text.get(lang, "poster_warn")}
	for _, k := range posterSteps {
		t.Steps = append(t.Steps, s.text.get(lang, k))
	}
	return t
}

// posterView is a poster's page.
type posterView struct {
	Area      areas.Area
	Words     posterText
	Lang      string
	Links     posterLinks
	Main      *qrCode
	Zalo      *qrCode
	PNG       string // the PNG's address
	OtherLang string
}

// posterCodes encodes a poster's QR codes.
func posterCodes(l posterLinks) (main, zalo *qrCode, err error) {
	if l.Main != "" {
		c, err := newQR(l.Main)
		if err != nil {
			return nil, nil, err
		}
		main = &c
	}
	if l.Zalo != "" {
		c, err := newQR(l.Zalo)
		if err != nil {
			return nil, nil, err
		}
		zalo = &c
	}
	return main, zalo, nil
}

func (s *Server) posterPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	a, ok := s.posterArea(w, r, v)
	if !ok {
		return
	}
	lang := posterLang(r)
	links := s.posterLinks(r.Context(), a.Code)
	main, zalo, err := posterCodes(links)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	view := posterView{Area: a, Words: s.posterWords(a, lang), Lang: lang, Links: links, Main: main, Zalo: zalo,
		PNG: Prefix + "areas/" + a.Code + "/poster.png", OtherLang: "en"}
	if lang == "en" {
		view.PNG += "?lang=en"
		view.OtherLang = "vi"
	}
	s.render(w, r, v, "poster", view)
}

// posterPNG draws the poster as an A4 PNG at 150 dpi.
func (s *Server) posterPNG(w http.ResponseWriter, r *http.Request, v *viewer) {
	a, ok := s.posterArea(w, r, v)
	if !ok {
		return
	}
	links := s.posterLinks(r.Context(), a.Code)
	if links.Main == "" {
		s.fail(w, r, v, http.StatusConflict, "poster_no_link")
		return
	}
	main, zalo, err := posterCodes(links)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	img, err := drawPoster(s.posterWords(a, posterLang(r)), main, zalo)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img); err != nil {
		s.unavailable(w, r, v, errf("poster png", err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.Header().Set("Content-Disposition", `inline; filename="poster-`+a.Code+`.png"`)
	_, _ = w.Write(b.Bytes())
}
