package handoff

import (
	"errors"

	"github.com/gocua/gocua/bot"
)

// The web dashboard (bot/dashboard) sends what a staff member does on it
// as updates of their bot.ChannelDashboard conversation, whose chat id and
// user id are their volunteers.id. The desk handles them as it handles
// their private chat, except that it never sends them the context of a
// ticket they claim (the page shows it) and never runs an application from
// there.

// web handles an update from a staff member's web dashboard: only an
// active staff member acts from it.
func (u *turn) web() error {
	v, err := u.webVolunteer()
	if err != nil {
		return err
	}
	if !v.Active() {
		u.notActive(v)
		return nil
	}
	return u.staffUpdate(v)
}

// webVolunteer is the staff member a dashboard update is from: the zero
// Volunteer when its chat is not a volunteers.id in decimal, or another
// user sent it.
func (u *turn) webVolunteer() (Volunteer, error) {
	in := u.t.In
	n, ok := parseID(in.Key.ChatID)
	if !ok || id(n) != in.Key.ChatID || in.UserID != in.Key.ChatID {
		return Volunteer{}, nil
	}
	v, err := u.d.st.VolunteerByID(u.ctx, n)
	if errors.Is(err, ErrNotFound) {
		return Volunteer{}, nil
	}
	if err != nil {
		return Volunteer{}, fmtErr("dashboard staff", err)
	}
	return v, nil
}

// dashboard answers /dashboard with a one-time login link to the web
// dashboard, or says why there is none.
func (u *turn) dashboard(v Volunteer) error {
	if u.d.cfg.Links == nil {
		u.reply(u.text("desk_dashboard_off", nil))
		return nil
	}
	link, ttl, err := u.d.cfg.Links.MintLink(u.ctx, v.ID, u.t.Now)
	if err != nil {
		return fmtErr("dashboard link", err)
	}
	u.reply(u.text("desk_dashboard_link", vars("link", link, "minutes", minutes(ttl))),
		[]bot.Button{{Text: u.text("desk_dashboard_open", nil), URL: link}})
	return nil
}
