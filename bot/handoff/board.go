package handoff

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// The volunteers' group sees the queue: a card per new ticket with a claim
// button while traffic is light, and one queue board, edited in place, that
// lists every waiting ticket when it is not. A Telegram group takes about
// 20 bot messages a minute (every forum topic shares it), so every send and
// edit to the group goes through one limit shared by all replicas, and the
// board is kept by one replica at a time (a lock). What the group shows is
// derived from the tickets each round, so a restart loses nothing: it
// catches up.

// Poster posts and edits messages in a group (the Telegram adapter).
type Poster interface {
	Post(ctx context.Context, chatID, text string, buttons [][]bot.Button) (messageID string, err error)
	Edit(ctx context.Context, chatID, messageID, text string, buttons [][]bot.Button) error
}

// Coordinator is what replicas share through Redis (store.Redis).
type Coordinator interface {
	// Allow takes one message from a limit of n per per with a burst.
	Allow(ctx context.Context, name string, n int, per time.Duration, burst int) (bool, time.Duration, error)
	// Lock takes or renews a lock for this process.
	Lock(ctx context.Context, name string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, name string) error
	Value(ctx context.Context, name string) (string, error)
	SetValue(ctx context.Context, name, value string, ttl time.Duration) error
}

// BoardConfig tunes the group's view.
type BoardConfig struct {
	// Rate, Per and Burst are the group's limit: at most Rate+Burst-1
	// messages in any Per (default 17 a minute with a burst of 3: 19, under
	// Telegram's 20).
	Rate  int
	Per   time.Duration
	Burst int
	// Cards is how many waiting tickets without a card may get one each;
	// with more waiting, new tickets only go on the board (default 3).
	Cards int
	// BoardEvery is the shortest time between two edits of the board
	// (default 20 s).
	BoardEvery time.Duration
	// Lines is how many waiting tickets the board lists with a claim
	// button (default 60).
	Lines int
}

func (c BoardConfig) withDefaults() BoardConfig {
	if c.Rate <= 0 || c.Per <= 0 {
		c.Rate, c.Per = 17, time.Minute
	}
	if c.Burst <= 0 {
		c.Burst = 3
	}
	if c.Cards <= 0 {
		c.Cards = 3
	}
	if c.BoardEvery <= 0 {
		c.BoardEvery = 20 * time.Second
	}
	if c.Lines <= 0 {
		c.Lines = 60
	}
	return c
}

// board is the group view's state kept in Redis: the board message and
// the last text shown, so a restart edits rather than posts.
type board struct {
	ID     string
	Text   string
	Edited time.Time
}

func (b board) String() string {
	return b.ID + "\x1f" + strconv.FormatInt(b.Edited.UnixMilli(), 10) + "\x1f" + b.Text
}

func parseBoard(s string) board {
	parts := strings.SplitN(s, "\x1f", 3)
	if len(parts) != 3 {
		return board{}
	}
	ms, _ := strconv.ParseInt(parts[1], 10, 64)
	return board{ID: parts[0], Edited: time.UnixMilli(ms), Text: parts[2]}
}

// groupLimit names the group's shared limit.
func (d *Desk) groupLimit() string { return "group:" + d.cfg.Group.String() }

// take asks the group's limit for one message.
func (d *Desk) take(ctx context.Context) (bool, error) {
	bc := d.cfg.Board.withDefaults()
	ok, _, err := d.coord.Allow(ctx, d.groupLimit(), bc.Rate, bc.Per, bc.Burst)
	return ok, err
}

// view renders what the group should show. set gives the texts, in the
// deployment's default language.
type view struct {
	d   *Desk
	set *flows.Set
	now time.Time
}

func (v view) text(key string, vs map[string]string) string {
	return v.set.Text(v.d.cfg.Lang, key, vs)
}

func (v view) area(t Ticket) string {
	if t.Area == "" {
		return v.text("desk_area_unknown", nil)
	}
	if v.d.cfg.Areas != nil {
		if a, ok := v.d.cfg.Areas.Lookup(t.Area); ok {
			return a.Name
		}
	}
	return t.Area
}

// Zalo OA's windows after a resident's last message: consultation messages
// are free for 48 hours and refused after 7 days.
const (
	oaFreeWindow = 48 * time.Hour
	oaLastWindow = 7 * 24 * time.Hour
)

// window is the card's line saying until when a Zalo OA resident can be
// answered ("" on other channels), counted from their last message.
func (v view) window(t Ticket) string {
	if t.Resident.Channel != bot.ChannelZaloOA {
		return ""
	}
	last := t.CreatedAt
	if t.ResidentSaid.After(last) {
		last = t.ResidentSaid
	}
	at := func(d time.Duration) string { return last.Add(d).In(v.d.cfg.Location).Format("15:04 02/01") }
	return v.text("desk_card_window", vars("free", at(oaFreeWindow), "last", at(oaLastWindow)))
}

// card is a ticket's card: what it says and its buttons.
func (v view) card(t Ticket, volunteer string) (string, [][]bot.Button) {
	switch t.Status {
	case Waiting:
		preview := bot.MaskPII(t.Summary)
		if r := []rune(preview); len(r) > 120 {
			preview = string(r[:119]) + "…"
		}
		text := v.text("desk_card", vars("id", id(t.ID), "where", t.Where(), "area", v.area(t),
			"channel", string(t.Resident.Channel), "lang", t.Lang, "time", t.CreatedAt.In(v.d.cfg.Location).Format("15:04"),
			"preview", preview, "window", v.window(t)))
		return text, [][]bot.Button{{{Text: v.text("desk_card_claim", vars("id", id(t.ID))), Data: dataClaim + id(t.ID)}}}
	case Assigned:
		return v.text("desk_card_taken", vars("id", id(t.ID), "where", t.Where(), "volunteer", volunteer)), nil
	default:
		return v.text("desk_card_closed", vars("id", id(t.ID), "where", t.Where())), nil
	}
}

// boardText renders the queue board: every waiting ticket (up to Lines,
// within Telegram's 4096 characters) with a claim button each.
func (v view) boardText(waiting []Ticket, lines int) (string, [][]bot.Button) {
	if len(waiting) == 0 {
		return v.text("desk_board_empty", nil), nil
	}
	var b []string
	var rows [][]bot.Button
	var row []bot.Button
	shown := 0
	size := 0
	for _, t := range waiting {
		// Telegram takes 4096 characters: room for the head and the tail
		if shown == lines || size > 3600 {
			break
		}
		mark := ""
		if !t.Reminded.IsZero() {
			mark = " ⏰"
		}
		line := "#" + id(t.ID) + " · " + t.Where()
		if t.Area != "" {
			line += " · " + v.area(t)
		}
		line += " · " + minutes(v.now.Sub(t.CreatedAt)) + "′" + mark
		b = append(b, line)
		size += utf8.RuneCountInString(line) + 1
		row = append(row, bot.Button{Text: "#" + id(t.ID), Data: dataClaim + id(t.ID)})
		if len(row) == 5 {
			rows, row = append(rows, row), nil
		}
		shown++
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	if more := len(waiting) - shown; more > 0 {
		b = append(b, v.text("desk_board_more", vars("count", strconv.Itoa(more))))
	}
	return v.text("desk_board", vars("count", strconv.Itoa(len(waiting)), "lines", strings.Join(b, "\n"))), rows
}

// refreshBoard brings the group up to date as far as its limit allows:
// first the cards that are out of date (a taken ticket must stop inviting
// taps), then cards for new tickets while few wait, then the board.
func (d *Desk) refreshBoard(ctx context.Context, set *flows.Set, now time.Time) error {
	if d.poster == nil || d.cfg.Group == (bot.ConvKey{}) {
		return nil
	}
	bc := d.cfg.Board.withDefaults()
	v := view{d: d, set: set, now: now}
	chat := d.cfg.Group.ChatID

	cards, err := d.st.Cards(ctx, now.Add(-24*time.Hour), 500)
	if err != nil {
		return err
	}
	for _, t := range cards {
		name := ""
		if t.Status == Assigned && t.Volunteer != 0 {
			if vol, err := d.st.VolunteerByID(ctx, t.Volunteer); err == nil {
				name = volunteerName(vol)
			}
		}
		text, buttons := v.card(t, name)
		if text == t.CardText {
			continue
		}
		if ok, err := d.take(ctx); err != nil || !ok {
			return err
		}
		if err := d.poster.Edit(ctx, chat, t.CardID, text, buttons); err != nil && !errors.Is(err, bot.ErrRejected) {
			return fmt.Errorf("edit card of #%d: %w", t.ID, err)
		}
		// a card that cannot be edited any more (deleted) is left as it is
		if err := d.st.SetCard(ctx, t.ID, t.CardID, text); err != nil {
			return err
		}
	}

	waiting, err := d.st.Waiting(ctx, 500)
	if err != nil {
		return err
	}
	var uncarded []Ticket
	for _, t := range waiting {
		if t.CardID == "" {
			uncarded = append(uncarded, t)
		}
	}
	if len(uncarded) <= bc.Cards {
		for _, t := range uncarded {
			if ok, err := d.take(ctx); err != nil || !ok {
				return err
			}
			text, buttons := v.card(t, "")
			msgID, err := d.poster.Post(ctx, chat, text, buttons)
			if err != nil {
				return fmt.Errorf("post card of #%d: %w", t.ID, err)
			}
			if err := d.st.SetCard(ctx, t.ID, msgID, text); err != nil {
				return err
			}
		}
		uncarded = nil
	}

	// the board: needed while tickets wait without a card of their own,
	// kept up to date once it exists
	raw, err := d.coord.Value(ctx, d.boardName())
	if err != nil {
		return err
	}
	b := parseBoard(raw)
	if b.ID == "" && len(uncarded) == 0 {
		return nil
	}
	text, buttons := v.boardText(waiting, bc.Lines)
	if text == b.Text || (b.ID != "" && now.Sub(b.Edited) < bc.BoardEvery) {
		return nil
	}
	if ok, err := d.take(ctx); err != nil || !ok {
		return err
	}
	if b.ID != "" {
		err = d.poster.Edit(ctx, chat, b.ID, text, buttons)
		if errors.Is(err, bot.ErrRejected) {
			b.ID = "" // deleted by an admin: post a new one below, next round
			err = nil
		}
	} else {
		b.ID, err = d.poster.Post(ctx, chat, text, buttons)
	}
	if err != nil {
		return fmt.Errorf("queue board: %w", err)
	}
	b.Text, b.Edited = text, now
	if b.ID == "" {
		b.Text = ""
	}
	return d.coord.SetValue(ctx, d.boardName(), b.String(), 0)
}

func (d *Desk) boardName() string { return "board:" + d.cfg.Group.String() }
