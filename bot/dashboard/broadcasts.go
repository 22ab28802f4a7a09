package dashboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/flows"
)

// The broadcasts page: the newest broadcasts with the progress of their
// latest run, and the form that writes a new one (checked by
// broadcast.Compose, as the command line and the chat wizard do), with the
// live count of who it would reach. A broadcast's own page follows its run
// while it is sending.

func (s *Server) broadcastRoutes() []Route {
	rs := []Route{
		{Method: http.MethodGet, Path: "broadcasts", Role: Organizer, handler: s.broadcastsPage},
		{Method: http.MethodPost, Path: "broadcasts", Role: Organizer, Upload: true, handler: s.createBroadcast},
		// app.js sends the counter's form as multipart
		{Method: http.MethodPost, Path: "broadcasts/count", Role: Organizer, Upload: true, handler: s.countAudience},
		{Method: http.MethodGet, Path: "broadcasts/{id}", Role: Organizer, handler: s.broadcastPage},
	}
	for _, name := range []string{"pause", "resume", "cancel"} {
		rs = append(rs, Route{Method: http.MethodPost, Path: "broadcasts/{id}/" + name, Role: Organizer, handler: s.broadcastState(name)})
	}
	return rs
}

// Limits of the broadcasts page.
const (
	broadcastsListed = 30
	// broadcastImages owns the broadcasts' images among the uploads (as
	// store.BroadcastImages): the transcript retention leaves them.
	broadcastImages = "broadcasts"
	// maxBroadcastText caps a text when the channels set no limit.
	maxBroadcastText = 4096 // characters
	// broadcastExpires is how long a run's deliveries may wait (quiet
	// hours, a pause), as the command line's default.
	broadcastExpires = 24 * time.Hour
)

// broadcastButton is one of the form's deep-link buttons.
type broadcastButton struct{ Label, Flow, Step string }

// broadcastForm is what the organizer typed, kept when it is refused.
type broadcastForm struct {
	Nonce    string
	Text     string
	Audience string
	When     string // now, at, cron
	At       string // a datetime-local value
	Cron     string
	Buttons  []broadcastButton // always maxButtons
	Image    bool              // an image was chosen (it must be chosen again)
}

// fieldError is a problem with one field of a form.
type fieldError struct{ Field, Message string }

// flowChoice is a flow a button may open.
type flowChoice struct{ ID, Title string }

// runView is the latest run of a broadcast, counted.
type runView struct {
	Run                                                                  broadcast.Run
	Total, Settled, Delivered, Blocked, Failed, Skipped, Pending, Tapped int64
	Reasons                                                              []reasonCount
}

type reasonCount struct {
	Reason string
	N      int64
}

// broadcastRow is a broadcast as the pages show it.
type broadcastRow struct {
	broadcast.Broadcast
	Last   *runView // nil: never ran
	Manage bool     // the viewer may pause, resume or cancel it
}

// Sending reports whether its latest run is going out now.
func (b broadcastRow) Sending() bool {
	return b.State == broadcast.Active && b.Last != nil && b.Last.Run.State == broadcast.RunSending
}

// StateKey names its state's text.
func (b broadcastRow) StateKey() string {
	if b.Missed {
		return "bc_state_missed"
	}
	return "bc_state_" + string(b.State)
}

// MayPause, MayResume and MayCancel tell which buttons it has.
func (b broadcastRow) MayPause() bool  { return b.Manage && b.State == broadcast.Active }
func (b broadcastRow) MayResume() bool { return b.Manage && b.State == broadcast.Paused }
func (b broadcastRow) MayCancel() bool {
	return b.Manage && (b.State == broadcast.Active || b.State == broadcast.Paused)
}

// Excerpt is the start of its text.
func (b broadcastRow) Excerpt() string {
	if r := []rune(b.Text); len(r) > 140 {
		return string(r[:139]) + "…"
	}
	return b.Text
}

type broadcastsView struct {
	List   []broadcastRow
	Form   broadcastForm
	Errors []fieldError
	Flows  []flowChoice
	Scope  []string // the areas the viewer's broadcasts are limited to (nil: none)
	MaxMiB int
}

// ErrorFor is the message of a field ("" when it is fine).
func (v broadcastsView) ErrorFor(field string) string {
	var msgs []string
	for _, e := range v.Errors {
		if e.Field == field {
			msgs = append(msgs, e.Message)
		}
	}
	return strings.Join(msgs, " ")
}

// mayManage reports whether the viewer may pause, resume or cancel a
// broadcast: any organizer of every area, and an organizer limited to
// some areas the broadcasts they made (here or in their chat).
func (v *viewer) mayManage(b broadcast.Broadcast) bool {
	if v.Scope == nil {
		return true
	}
	u := v.Volunteer.User
	return b.CreatedBy == webAuthor(v) || (u.ChatID != "" && b.CreatedBy == string(u.Channel)+":"+u.ChatID)
}

// webAuthor is Broadcast.CreatedBy of a broadcast made on the dashboard.
func webAuthor(v *viewer) string {
	return string(bot.ChannelDashboard) + ":" + strconv.FormatInt(v.Volunteer.ID, 10)
}

// broadcastEnv is what a web draft is checked against.
func (s *Server) broadcastEnv(now time.Time) broadcast.Env {
	if s.cfg.BroadcastEnv != nil {
		return s.cfg.BroadcastEnv(now)
	}
	env := broadcast.Env{Flows: s.cfg.Flows(), Location: s.cfg.Location, Now: now}
	if env.Flows != nil {
		env.Known.Langs = env.Flows.Langs()
	}
	if a := s.cfg.Areas; a != nil {
		env.Known.Areas = func(code string) bool { _, ok := a.Lookup(code); return ok }
	}
	return env
}

// known is what an audience's names are checked against (as Compose does).
func known(env broadcast.Env) broadcast.Known {
	k := env.Known
	if env.Flows != nil {
		set := env.Flows
		k.Flows = func(id string) ([]string, bool) {
			f, ok := set.Flow(id)
			if !ok {
				return nil, false
			}
			steps := make([]string, len(f.Steps))
			for i, st := range f.Steps {
				steps[i] = st.ID
			}
			return steps, true
		}
		k.FlowIDs = nil
		for _, f := range set.Flows() {
			k.FlowIDs = append(k.FlowIDs, f.ID)
		}
	}
	return k
}

// audience parses and checks what the organizer wrote ("" : all). An
// organizer limited to some areas reaches only their residents: the
// expression sent is theirs within those areas.
func (s *Server) audience(v *viewer, src string, env broadcast.Env) (string, broadcast.Audience, []error) {
	src = strings.TrimSpace(src)
	if src == "" {
		src = "all"
	}
	aud, err := broadcast.Parse(src)
	if err != nil {
		return "", aud, []error{err}
	}
	if errs := broadcast.Validate(aud, known(env)); len(errs) > 0 {
		return "", aud, errs
	}
	if v.Scope == nil {
		return src, aud, nil
	}
	expr := "area:" + strings.Join(v.Scope, ",") + " and (" + src + ")"
	if aud, err = broadcast.Parse(expr); err != nil {
		return "", aud, []error{err}
	}
	return expr, aud, nil
}

// countAudience answers the live counter: how many residents the
// expression reaches now, or what is wrong with it, as plain text.
func (s *Server) countAudience(w http.ResponseWriter, r *http.Request, v *viewer) {
	now := s.cfg.Now()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, aud, errs := s.audience(v, r.PostFormValue("audience"), s.broadcastEnv(now))
	if len(errs) > 0 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, strings.ToValidUTF8(errors.Join(errs...).Error(), "?"))
		return
	}
	n, err := s.deps.Broadcasts.CountAudience(r.Context(), aud, s.cfg.BroadcastRules, now)
	if err != nil {
		s.log.Error("dashboard: count audience", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, s.text.get(v.Lang, "err_unavailable"))
		return
	}
	_, _ = io.WriteString(w, s.describeCount(v.Lang, n))
}

// describeCount says who an audience reaches: "1.234 người nhận".
func (s *Server) describeCount(lang string, n broadcast.Count) string {
	p := &page{s: s, Lang: lang}
	text := p.T("bc_count", "n", p.Num(int64(n.Recipients)))
	if n.Matched > n.Recipients {
		text += " " + p.T("bc_count_more", "matched", p.Num(int64(n.Matched)), "consent", p.Num(int64(n.NoConsent)),
			"blocked", p.Num(int64(n.Unreachable)), "window", p.Num(int64(n.Window)))
	}
	return text
}

// flowChoices are the flows a broadcast's button may open.
func (s *Server) flowChoices(lang string) []flowChoice {
	set := s.cfg.Flows()
	if set == nil {
		return nil
	}
	var out []flowChoice
	for _, f := range set.Flows() {
		if f.ID == flows.VolunteerFlow {
			continue
		}
		out = append(out, flowChoice{ID: f.ID, Title: cmpOr(cmpOr(f.Title[lang], f.Title["vi"]), f.ID)})
	}
	return out
}

// broadcastRow reads a broadcast's latest run.
func (s *Server) broadcastRow(ctx context.Context, v *viewer, b broadcast.Broadcast) (broadcastRow, error) {
	row := broadcastRow{Broadcast: b, Manage: v.mayManage(b)}
	run, err := s.deps.Broadcasts.LastRun(ctx, b.ID)
	if errors.Is(err, broadcast.ErrNotFound) {
		return row, nil
	}
	if err != nil {
		return row, err
	}
	rep, err := s.deps.Broadcasts.Report(ctx, run.ID)
	if err != nil {
		return row, err
	}
	rv := &runView{Run: run, Total: int64(rep.Run.Total), Settled: int64(rep.Settled()), Delivered: int64(rep.Delivered),
		Blocked: int64(rep.Blocked), Failed: int64(rep.Failed), Skipped: int64(rep.SkippedTotal()), Pending: int64(rep.Pending),
		Tapped: int64(rep.Tapped)}
	if rep.Run.ID == 0 {
		rv.Total = int64(run.Total)
	}
	for _, reason := range []string{broadcast.ReasonNoConsent, broadcast.ReasonUnreachable, broadcast.ReasonWindow,
		broadcast.ReasonExpired, broadcast.ReasonCancelled} {
		if n := rep.Skipped[reason]; n > 0 {
			rv.Reasons = append(rv.Reasons, reasonCount{Reason: reason, N: int64(n)})
		}
	}
	row.Last = rv
	return row, nil
}

// broadcastsData is the list and an empty (or kept) form.
func (s *Server) broadcastsData(ctx context.Context, v *viewer, form broadcastForm) (broadcastsView, error) {
	view := broadcastsView{Form: form, Flows: s.flowChoices(v.Lang), Scope: v.Scope, MaxMiB: bot.MaxUpload >> 20}
	if view.Form.Nonce == "" {
		view.Form.Nonce = nonce()
	}
	for len(view.Form.Buttons) < broadcast.MaxButtons {
		view.Form.Buttons = append(view.Form.Buttons, broadcastButton{})
	}
	if view.Form.When == "" {
		view.Form.When = "now"
	}
	list, err := s.deps.Broadcasts.Broadcasts(ctx, broadcastsListed)
	if err != nil {
		return view, err
	}
	for _, b := range list {
		row, err := s.broadcastRow(ctx, v, b)
		if err != nil {
			return view, err
		}
		view.List = append(view.List, row)
	}
	return view, nil
}

func (s *Server) broadcastsPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	view, err := s.broadcastsData(r.Context(), v, broadcastForm{})
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	s.render(w, r, v, "broadcasts", view)
}

// keep is a typed value as the form shows it again.
func keep(s string) string { return clipBytes(strings.ToValidUTF8(s, "\uFFFD"), 64<<10) }

// readBroadcastForm reads the form's fields.
func readBroadcastForm(r *http.Request) broadcastForm {
	f := broadcastForm{Text: r.PostFormValue("text"), Audience: r.PostFormValue("audience"), When: r.PostFormValue("when"),
		At: strings.TrimSpace(r.PostFormValue("at")), Cron: strings.TrimSpace(r.PostFormValue("cron"))}
	for i := 1; i <= broadcast.MaxButtons; i++ {
		n := strconv.Itoa(i)
		f.Buttons = append(f.Buttons, broadcastButton{Label: strings.TrimSpace(r.PostFormValue("button" + n + "_label")),
			Flow: strings.TrimSpace(r.PostFormValue("button" + n + "_flow")), Step: strings.TrimSpace(r.PostFormValue("button" + n + "_step"))})
	}
	return f
}

// kept is the form as it is shown again: valid UTF-8, bounded.
func (f broadcastForm) kept() broadcastForm {
	f.Text, f.Audience, f.At, f.Cron = keep(f.Text), keep(f.Audience), keep(f.At), keep(f.Cron)
	for i, b := range f.Buttons {
		f.Buttons[i] = broadcastButton{Label: keep(b.Label), Flow: keep(b.Flow), Step: keep(b.Step)}
	}
	switch f.When {
	case "now", "at", "cron":
	default:
		f.When = ""
	}
	return f
}

// composeFields name Compose's fields (the start of its messages).
var composeFields = []string{"text", "image", "buttons", "button", "audience", "at", "cron", "schedule", "expires"}

// fieldOf is the field a Compose problem is about, and its detail.
func fieldOf(err error) (field, detail string) {
	msg := err.Error()
	var ae *broadcast.Error
	if errors.As(err, &ae) {
		return "audience", strings.TrimPrefix(msg, "audience: ")
	}
	head, rest, ok := strings.Cut(msg, ":")
	if !ok {
		return "form", msg
	}
	name := head
	if n, ok := strings.CutPrefix(head, "button "); ok {
		if _, err := strconv.Atoi(n); err == nil {
			name = "button" + n
		}
	}
	if !slices.Contains(composeFields, strings.TrimRight(name, "0123456789")) {
		return "form", msg
	}
	return name, strings.TrimSpace(rest)
}

// createBroadcast checks the form and stores the broadcast once per form
// (its nonce is the broadcast's Source), with its image in the uploads.
func (s *Server) createBroadcast(w http.ResponseWriter, r *http.Request, v *viewer) {
	// the guard has read the form, within bot.MaxUpload and the fields
	n, err := formNonce(r)
	if err != nil {
		s.actFailed(w, r, v, err)
		return
	}
	ctx := r.Context()
	now := s.cfg.Now()
	env := s.broadcastEnv(now)
	form := readBroadcastForm(r)
	form.Nonce = n
	var errs []fieldError
	bad := func(field, key string, args ...any) {
		errs = append(errs, fieldError{Field: field, Message: s.text.get(v.Lang, key, args...)})
	}
	status := http.StatusBadRequest

	image, mime, imgKey := s.broadcastImage(r)
	switch imgKey {
	case "":
	case "bc_image_large":
		status = http.StatusRequestEntityTooLarge
		bad("image", imgKey, "mib", bot.MaxUpload>>20)
	default:
		bad("image", imgKey)
	}
	form.Image = image != nil

	// the channels' limit (Compose checks it too, in English), else Telegram's
	limit := env.MaxText
	if image != nil {
		limit = env.MaxCaption
	}
	if limit <= 0 {
		limit = maxBroadcastText
	}
	switch text := strings.TrimSpace(form.Text); {
	case text == "":
		bad("text", "bc_text_empty")
	case !utf8.ValidString(text):
		bad("text", "bc_text_utf8")
	case bot.TextLen(text) > limit && image != nil:
		bad("text", "bc_caption_long", "max", limit, "n", bot.TextLen(text))
	case bot.TextLen(text) > limit:
		bad("text", "bc_text_long", "max", limit, "n", bot.TextLen(text))
	}

	d := broadcast.Draft{Text: form.Text, By: webAuthor(v), Expires: broadcastExpires}
	if image != nil {
		d.Image = bot.WebRefPrefix + "pending" // the real one once it is kept
	}
	var rows []int // the form's row of each of d.Buttons (empty rows are left out)
	for i, b := range form.Buttons {
		if b == (broadcastButton{}) {
			continue
		}
		field := "button" + strconv.Itoa(i+1)
		switch {
		case b.Label == "":
			bad(field, "bc_button_label", "n", i+1)
			continue
		case strings.Contains(b.Label, "="):
			bad(field, "bc_button_equals", "n", i+1)
			continue
		case b.Flow == "":
			bad(field, "bc_button_flow", "n", i+1)
			continue
		}
		spec := b.Label + "=" + b.Flow
		if b.Step != "" {
			spec += ":" + b.Step
		}
		d.Buttons = append(d.Buttons, spec)
		rows = append(rows, i+1)
	}

	expr, _, audErrs := s.audience(v, form.Audience, env)
	for _, err := range audErrs {
		_, detail := fieldOf(err)
		errs = append(errs, fieldError{Field: "audience", Message: s.text.get(v.Lang, "bc_field_audience") + ": " + detail})
	}
	d.Audience = cmpOr(expr, "all")

	switch form.When {
	case "now":
		d.Now = true
	case "at":
		if form.At == "" {
			bad("at", "bc_at_missing")
		} else {
			d.At = strings.Replace(form.At, "T", " ", 1)
		}
	case "cron":
		if form.Cron == "" {
			bad("cron", "bc_cron_missing")
		} else {
			d.Cron = form.Cron
		}
	default:
		bad("schedule", "bc_when_pick")
	}

	b, _, cerrs := broadcast.Compose(d, env)
	mine := map[string]bool{}
	for _, e := range errs {
		mine[e.Field] = true
	}
	for _, err := range cerrs {
		field, detail := fieldOf(err)
		if k, ok := strings.CutPrefix(field, "button"); ok {
			if i, err := strconv.Atoi(k); err == nil && i >= 1 && i <= len(rows) {
				field = "button" + strconv.Itoa(rows[i-1]) // Compose counts the buttons given
			}
		}
		if mine[field] || (field == "schedule" && (mine["at"] || mine["cron"])) {
			continue // said already, in the organizer's language
		}
		label := s.text.get(v.Lang, "bc_field_"+strings.TrimRight(field, "0123456789"), "n", strings.TrimLeft(field, "abcdefghijklmnopqrstuvwxyz"))
		errs = append(errs, fieldError{Field: field, Message: label + ": " + detail})
	}
	if len(errs) > 0 {
		view, err := s.broadcastsData(ctx, v, form.kept())
		if err != nil {
			s.unavailable(w, r, v, err)
			return
		}
		view.Errors = errs
		s.renderStatus(w, r, v, status, "broadcasts", view)
		return
	}
	if image != nil {
		sum := sha256.Sum256(image)
		up, err := s.deps.Uploads.SaveUpload(ctx, bot.Upload{Visitor: broadcastImages, MsgID: hex.EncodeToString(sum[:16]),
			MIME: mime, Size: int64(len(image)), Data: image, Created: now})
		if err != nil {
			s.unavailable(w, r, v, errf("broadcast image", err))
			return
		}
		b.Image = bot.WebRefPrefix + up.ID
	}
	b.Source = "web:" + n
	id, err := s.deps.Broadcasts.CreateBroadcast(ctx, b)
	if err != nil {
		s.unavailable(w, r, v, errf("create broadcast", err))
		return
	}
	s.log.Info("dashboard: broadcast created", "broadcast", id, "by", v.Volunteer.ID, "audience", b.Audience)
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	s.redirect(w, r, Prefix+"broadcasts/"+strconv.FormatInt(id, 10), "notice_bc_created")
}

// broadcastImage reads the form's image, if one was chosen: its bytes and
// type, or the key of what is wrong with it.
func (s *Server) broadcastImage(r *http.Request) (data []byte, mime, problem string) {
	if r.MultipartForm == nil || len(r.MultipartForm.File["image"]) == 0 {
		return nil, "", ""
	}
	fh := r.MultipartForm.File["image"][0]
	if fh.Size > bot.MaxUpload {
		return nil, "", "bc_image_large"
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "", "bc_image_kind"
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, bot.MaxUpload+1))
	switch {
	case err != nil:
		return nil, "", "bc_image_kind"
	case len(data) > bot.MaxUpload:
		return nil, "", "bc_image_large"
	case len(data) == 0:
		return nil, "", "" // an empty file: as if none was chosen
	}
	mime = http.DetectContentType(data)
	if !bot.UploadMIME(mime) {
		return nil, "", "bc_image_kind"
	}
	return data, mime, ""
}

// broadcastTarget reads the broadcast of the path, or answers 404.
func (s *Server) broadcastTarget(w http.ResponseWriter, r *http.Request, v *viewer) (broadcast.Broadcast, bool) {
	return byPath(s, w, r, v, s.deps.Broadcasts.Broadcast, broadcast.ErrNotFound, func(broadcast.Broadcast) bool { return true })
}

// broadcastView is a broadcast's page.
type broadcastView struct {
	Row    broadcastRow
	Live   bool   // it is sending: the page reloads itself
	Author string // who made it
}

// authorName names who made a broadcast (Broadcast.CreatedBy): a staff
// member, found by their dashboard id or chat identity, or "" for the
// command line and anyone unknown.
func (s *Server) authorName(ctx context.Context, by string) string {
	ch, id, ok := strings.Cut(by, ":")
	if !ok {
		return ""
	}
	vs, err := s.deps.Staff.Volunteers(ctx)
	if err != nil {
		return ""
	}
	for _, x := range vs {
		if ch == string(bot.ChannelDashboard) && strconv.FormatInt(x.ID, 10) == id ||
			x.User == (bot.ConvKey{Channel: bot.Channel(ch), ChatID: id}) {
			return x.Name
		}
	}
	return ""
}

// broadcastPage shows one broadcast and its latest run; while it sends,
// the page reloads every 5 seconds (a meta refresh: no script needed).
func (s *Server) broadcastPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	b, ok := s.broadcastTarget(w, r, v)
	if !ok {
		return
	}
	row, err := s.broadcastRow(r.Context(), v, b)
	if err != nil {
		s.unavailable(w, r, v, err)
		return
	}
	view := broadcastView{Row: row, Live: row.Sending(), Author: s.authorName(r.Context(), b.CreatedBy)}
	if view.Live {
		w.Header().Set("Refresh", "5")
	}
	s.render(w, r, v, "broadcast", view)
}

// broadcastStates are the organizer's changes of a broadcast.
var broadcastStates = map[string]struct {
	from   []broadcast.State
	to     broadcast.State
	notice string
}{
	"pause":  {from: []broadcast.State{broadcast.Active}, to: broadcast.Paused, notice: "notice_bc_paused"},
	"resume": {from: []broadcast.State{broadcast.Paused}, to: broadcast.Active, notice: "notice_bc_resumed"},
	"cancel": {from: []broadcast.State{broadcast.Active, broadcast.Paused}, to: broadcast.Cancelled, notice: "notice_bc_cancelled"},
}

// broadcastState pauses, resumes or cancels a broadcast, from the states
// that allow it (another organizer may have changed it meanwhile).
func (s *Server) broadcastState(name string) func(http.ResponseWriter, *http.Request, *viewer) {
	change := broadcastStates[name]
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		b, ok := s.broadcastTarget(w, r, v)
		if !ok {
			return
		}
		if !v.mayManage(b) {
			s.fail(w, r, v, http.StatusForbidden, "bc_not_yours")
			return
		}
		back := Prefix + "broadcasts/" + strconv.FormatInt(b.ID, 10)
		err := s.deps.Broadcasts.SetState(r.Context(), b.ID, change.from, change.to, false, s.cfg.Now())
		switch {
		case errors.Is(err, broadcast.ErrNotFound):
			s.fail(w, r, v, http.StatusNotFound, "err_not_found")
			return
		case errors.Is(err, broadcast.ErrState):
			s.redirect(w, r, back, "notice_bc_state")
			return
		case err != nil:
			s.unavailable(w, r, v, err)
			return
		}
		s.log.Info("dashboard: broadcast "+name, "broadcast", b.ID, "by", v.Volunteer.ID)
		if s.cfg.Wake != nil {
			s.cfg.Wake()
		}
		s.redirect(w, r, back, change.notice)
	}
}
