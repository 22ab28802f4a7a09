package dashboard

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// The queue and the web inbox: waiting and assigned tickets, live; a
// ticket's page with its transcript and the volunteer's actions. Every
// action goes through the desk (act), as on Telegram.

func (s *Server) queueRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "queue", Role: Volunteer, handler: s.queuePage},
		{Method: http.MethodGet, Path: "tickets/{id}", Role: Volunteer, handler: s.ticketPage},
		{Method: http.MethodPost, Path: "tickets/{id}/claim", Role: Volunteer, handler: s.claim},
		{Method: http.MethodPost, Path: "tickets/{id}/reply", Role: Volunteer, Upload: true, handler: s.reply},
		{Method: http.MethodPost, Path: "tickets/{id}/note", Role: Volunteer, handler: s.note},
		{Method: http.MethodPost, Path: "tickets/{id}/release", Role: Volunteer, handler: s.release},
		{Method: http.MethodPost, Path: "tickets/{id}/resolve", Role: Volunteer, handler: s.resolve},
	}
}

// mayOpen reports whether the viewer may open a ticket: its assignee, an
// organizer whose scope has its area, or a volunteer who serves its area.
func (v *viewer) mayOpen(t handoff.Ticket) bool {
	if t.Volunteer == v.Volunteer.ID && t.Volunteer != 0 {
		return true
	}
	if v.Organizer() {
		return v.Sees(t.Area)
	}
	return v.Volunteer.Serves(t.Area)
}

// queueLimit is how many open tickets the queue lists.
const queueLimit = 200

// queueRow is one line of the queue.
type queueRow struct {
	TicketRow
	Mine  bool
	Claim bool   // the viewer may claim it
	Label string // the resident, masked
	Where string
}

func (s *Server) queuePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := Query{Scope: v.Scope, Location: s.cfg.Location}
	if a := r.URL.Query().Get("area"); a != "" && s.knownArea(a) && v.Sees(a) {
		q.Area = a
	}
	rows, err := s.deps.Store.OpenTickets(r.Context(), q, queueLimit)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	var waiting, assigned []queueRow
	for _, t := range rows {
		if !v.mayOpen(t.Ticket) {
			continue
		}
		row := queueRow{TicketRow: t, Mine: t.Volunteer == v.Volunteer.ID, Label: residentLabel(t.Ticket, false),
			Where: t.Where()}
		if t.Status == handoff.Waiting {
			row.Claim = v.Volunteer.Serves(t.Area)
			waiting = append(waiting, row)
		} else {
			assigned = append(assigned, row)
		}
	}
	// the viewer's own tickets first among the assigned
	slices.SortStableFunc(assigned, func(a, b queueRow) int {
		switch {
		case a.Mine == b.Mine:
			return 0
		case a.Mine:
			return -1
		}
		return 1
	})
	s.render(w, r, v, "queue", map[string]any{"Waiting": waiting, "Assigned": assigned, "Area": q.Area,
		"Areas": s.scopeAreas(v)})
}

// ticketView is a ticket's page.
type ticketView struct {
	Ticket   handoff.Ticket
	Mine     bool
	Claim    bool
	Resident string
	Where    string
	Assignee string
	Lines    []bot.TranscriptLine
	Audit    []handoff.AuditEntry
	Names    map[string]string // audit actor → name
	Cats     []string
	Photos   bool // the resident's channel takes photos
}

func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	ctx := r.Context()
	lines, err := s.deps.Staff.Transcript(ctx, t.ID)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	audit, err := s.deps.Staff.Audit(ctx, t.ID)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	mine := t.Volunteer == v.Volunteer.ID && t.Status == handoff.Assigned
	if !mine {
		// the transcript is stored masked; only the assignee reads it as
		// stored, everyone else through the mask once more (numbers typed
		// since the rules changed, a name in a note)
		for i := range lines {
			lines[i].Text = bot.MaskPII(lines[i].Text)
		}
	}
	names := map[string]string{}
	if vs, err := s.deps.Staff.Volunteers(ctx); err == nil {
		for _, x := range vs {
			names["volunteer:"+strconv.FormatInt(x.ID, 10)] = cmpOr(x.Name, "#"+strconv.FormatInt(x.ID, 10))
		}
	}
	view := ticketView{Ticket: t, Mine: mine, Claim: t.Status == handoff.Waiting && v.Volunteer.Serves(t.Area),
		Resident: residentLabel(t, mine), Where: t.Where(), Lines: lines, Audit: audit, Names: names,
		Cats: handoffCategories, Photos: t.Resident.Channel.CanSend(bot.MediaPhoto)}
	if t.Volunteer != 0 {
		view.Assignee = names["volunteer:"+strconv.FormatInt(t.Volunteer, 10)]
	}
	if !mine {
		view.Ticket.Callback = ""
		view.Ticket.Summary = bot.MaskPII(t.Summary)
	}
	s.render(w, r, v, "ticket", view)
}

// handoffCategories are how a ticket is resolved (the desk's categories;
// their names are texts cat_<x>).
var handoffCategories = []string{"vneid", "dvc", "scam", "other"}

// openTicket reads the ticket of the path the viewer may open, or answers
// 404 (the same for a ticket that does not exist and one of another area:
// ids are not a way to learn what exists).
func (s *Server) openTicket(w http.ResponseWriter, r *http.Request, v *viewer) (handoff.Ticket, bool) {
	return byPath(s, w, r, v, s.deps.Staff.Ticket, handoff.ErrNotFound, v.mayOpen)
}

// done ends a ticket action: the desk's answer as a notice, back to the
// ticket's page.
func (s *Server) done(w http.ResponseWriter, r *http.Request, v *viewer, t handoff.Ticket, ack bot.Ack) {
	if ack.Text != "" {
		s.notices.add(v.Volunteer.ID, ack.Text, s.cfg.Now())
	}
	http.Redirect(w, r, Prefix+"tickets/"+strconv.FormatInt(t.ID, 10), http.StatusSeeOther)
}

func (s *Server) claim(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	ack, err := s.act(r.Context(), v, r, bot.Inbound{Kind: bot.InButton, Data: "dk:claim:" + strconv.FormatInt(t.ID, 10)})
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	s.done(w, r, v, t, ack)
}

// Limits of what a volunteer writes on the web.
const (
	maxReply = 4000 // runes
	maxForm  = 64 << 10
)

func (s *Server) reply(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	in := bot.Inbound{Kind: bot.InText, ReplyTo: "#" + strconv.FormatInt(t.ID, 10)}
	if r.MultipartForm != nil {
		media, err := s.photo(r, v)
		if err != nil {
			s.formError(w, r, v, err.Error())
			return
		}
		if media != nil {
			in.Kind, in.Media = bot.InMedia, media
		}
	}
	in.Text = strings.TrimSpace(r.PostFormValue("text"))
	if in.Media != nil && in.Text != "" {
		in.Kind = bot.InText // a photo with a caption
	}
	switch {
	case in.Text == "" && in.Media == nil:
		s.formError(w, r, v, s.text.get(v.Lang, "ticket_reply_empty"))
		return
	case !utf8.ValidString(in.Text) || utf8.RuneCountInString(in.Text) > maxReply:
		s.formError(w, r, v, s.text.get(v.Lang, "ticket_reply_long", "max", maxReply))
		return
	}
	ack, err := s.act(r.Context(), v, r, in)
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	s.done(w, r, v, t, ack)
}

// photo reads the reply's photo, if any, into the uploads.
func (s *Server) photo(r *http.Request, v *viewer) (*bot.Media, error) {
	f, _, err := r.FormFile("photo")
	if errors.Is(err, http.ErrMissingFile) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, bot.MaxUpload+1))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, nil
	}
	if len(data) > bot.MaxUpload {
		return nil, errors.New(s.text.get(v.Lang, "ticket_photo_large", "mib", bot.MaxUpload>>20))
	}
	mime := http.DetectContentType(data)
	if !bot.UploadMIME(mime) {
		return nil, errors.New(s.text.get(v.Lang, "ticket_photo_kind"))
	}
	n, err := formNonce(r)
	if err != nil {
		return nil, errors.New(s.text.get(v.Lang, "err_csrf"))
	}
	up, err := s.deps.Uploads.SaveUpload(r.Context(), bot.Upload{Visitor: "dashboard:" + strconv.FormatInt(v.Volunteer.ID, 10),
		MsgID: n, MIME: mime, Data: data, Created: s.cfg.Now()})
	if err != nil {
		return nil, errf("photo", err)
	}
	return &bot.Media{Kind: bot.MediaPhoto, Ref: bot.WebRefPrefix + up.ID, MIME: mime, Size: int64(len(data))}, nil
}

func (s *Server) note(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	text := strings.TrimSpace(r.PostFormValue("text"))
	if text == "" || !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxReply {
		s.formError(w, r, v, s.text.get(v.Lang, "ticket_note_empty"))
		return
	}
	ack, err := s.act(r.Context(), v, r, bot.Inbound{Kind: bot.InCommand, Command: "note", Args: text,
		ReplyTo: "#" + strconv.FormatInt(t.ID, 10)})
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	s.done(w, r, v, t, ack)
}

func (s *Server) release(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	ack, err := s.act(r.Context(), v, r, bot.Inbound{Kind: bot.InCommand, Command: "release", Args: strconv.FormatInt(t.ID, 10)})
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	s.done(w, r, v, t, ack)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request, v *viewer) {
	t, ok := s.openTicket(w, r, v)
	if !ok {
		return
	}
	cat := r.PostFormValue("category")
	if !slices.Contains(handoffCategories, cat) {
		s.formError(w, r, v, s.text.get(v.Lang, "ticket_category_pick"))
		return
	}
	ack, err := s.act(r.Context(), v, r, bot.Inbound{Kind: bot.InButton, Data: "dk:done:" + strconv.FormatInt(t.ID, 10) + ":" + cat})
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	s.done(w, r, v, t, ack)
}

// formError answers a form with a clear message (400).
func (s *Server) formError(w http.ResponseWriter, r *http.Request, v *viewer, what string) {
	s.renderStatus(w, r, v, http.StatusBadRequest, "error",
		map[string]any{"Message": s.text.get(v.Lang, "err_bad_input", "what", what), "Code": http.StatusBadRequest})
}

// tooLarge answers a body over its limit (413) or a broken one (400).
func (s *Server) tooLarge(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.renderStatus(w, r, v, http.StatusRequestEntityTooLarge, "error",
			map[string]any{"Message": s.text.get(v.Lang, "ticket_photo_large", "mib", bot.MaxUpload>>20), "Code": http.StatusRequestEntityTooLarge})
		return
	}
	s.formError(w, r, v, s.text.get(v.Lang, "err_form"))
}

// residentLabel names a ticket's resident: the name they gave (to the
// assignee only) or their channel and the end of their chat id.
func residentLabel(t handoff.Ticket, mine bool) string {
	if n := t.Vars["name"]; n != "" && mine {
		return n
	}
	return string(t.Resident.Channel) + " " + handoff.ShortID(t.Resident.ChatID)
}

// knownArea reports whether code is an area of the deployment ("-": none).
func (s *Server) knownArea(code string) bool {
	if code == "-" {
		return true
	}
	if s.cfg.Areas == nil {
		return false
	}
	_, ok := s.cfg.Areas.Lookup(code)
	return ok
}

// areaChoice is one option of an area filter.
type areaChoice struct{ Code, Name string }

// scopeAreas are the areas a viewer may filter by.
func (s *Server) scopeAreas(v *viewer) []areaChoice {
	if s.cfg.Areas == nil {
		return nil
	}
	var out []areaChoice
	for _, a := range s.cfg.Areas.All() {
		if v.Sees(a.Code) {
			out = append(out, areaChoice{Code: a.Code, Name: a.Name})
		}
	}
	return out
}
