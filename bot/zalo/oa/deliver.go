package oa

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/gocua/gocua/bot"
)

// ErrInvalidMessage is wrapped by Deliver's errors for a message Zalo
// would refuse as it is, or that this adapter cannot send (a sticker, a
// button without text); sending it again cannot help. It wraps
// bot.ErrRejected, so the sender drops it at once.
var ErrInvalidMessage = fmt.Errorf("zalo oa: message cannot be sent on Zalo OA: %w", bot.ErrRejected)

// csRequest is a consultation message.
type csRequest struct {
	Recipient recipient `json:"recipient"`
	Message   csMessage `json:"message"`
}

type recipient struct {
	UserID string `json:"user_id"`
}

type csMessage struct {
	Text       string        `json:"text,omitempty"`
	Attachment *csAttachment `json:"attachment,omitempty"`
}

type csAttachment struct {
	Type    string          `json:"type"` // "template"
	Payload templatePayload `json:"payload"`
}

// templatePayload is either buttons (no template_type) or a media
// template with one image.
type templatePayload struct {
	TemplateType string    `json:"template_type,omitempty"`
	Elements     []element `json:"elements,omitempty"`
	Buttons      []button  `json:"buttons,omitempty"`
}

type element struct {
	MediaType    string `json:"media_type"`
	AttachmentID string `json:"attachment_id"`
}

// button is a Zalo button: oa.query.hide sends its payload (a string) back
// as the resident's hidden text; oa.open.url opens payload.url.
type button struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Payload any    `json:"payload"`
}

type urlPayload struct {
	URL string `json:"url"`
}

// part is one cs message an Outbound becomes.
type part struct {
	text    string
	buttons []button
	photo   *bot.Media
}

// Deliver sends one message as consultation messages (the "cs" endpoint).
// It implements bot.Deliverer.
//
// The text is sent as typed (bot.PlainText drops the flows' **bold**
// markers), cut into messages of at most MaxText characters. Buttons are
// flattened, at most MaxButtons per message, on the last text part: more
// choices follow in messages of their own, under the locale's "menu_more"
// text. Payload buttons come back as the resident's hidden text
// ButtonPrefix+Data, link buttons open their address. A photo is uploaded
// (its attachment id kept for 6 days, so a broadcast uploads it once) and
// sent with the first text part as its caption, or before the text when
// there are buttons. Media other than photos is refused
// (ErrInvalidMessage); AskContact and ClearKeyboard are ignored (Zalo's
// request_user_info form is not used yet): the text goes alone.
//
// When a message needs several calls and one fails in a way worth
// retrying, the next Deliver of the same Outbound (by ID) goes on from
// that call. Zalo's refusals come as an *APIError, wrapped: -230 and -232
// (the 7-day window is over) in bot.ErrWindow; -32 and HTTP 429 in a
// *bot.RetryAfterError; -213, -227 and -244 (not a follower, inactive,
// refusing) in bot.ErrUnreachable; refusals of the message itself and
// errors only the operator can fix (quota, package, permission, billing:
// APIError.Fix) in bot.ErrRejected. An access token refused (-216, -220)
// is refreshed and the call made once more; a refresh token Zalo refused
// is a *ReauthorizeError inside a *bot.RetryAfterError of reauthorizeWait:
// messages wait in the outbox, with no call to Zalo, until the operator
// configures a new refresh token. Everything else is worth retrying.
// reauthorizeWait is how long a message waits before it is tried again
// while the OA needs authorizing again (each try reads the stored pair,
// which another replica may have mended, and calls nobody otherwise).
const reauthorizeWait = time.Minute

func (a *Adapter) Deliver(ctx context.Context, out bot.Outbound) error {
	if out.Key.Channel != bot.ChannelZaloOA {
		return fmt.Errorf("zalo oa: message %s is for channel %q: %w", out.ID, out.Key.Channel, bot.ErrRejected)
	}
	if !validID(out.Key.ChatID) {
		return fmt.Errorf("%w: message %s: malformed user id", ErrInvalidMessage, out.ID)
	}
	parts, err := a.render(out)
	if err != nil {
		return fmt.Errorf("%w: message %s: %w", ErrInvalidMessage, out.ID, err)
	}
	// ids are unique per conversation only: the chat is part of the key
	pid := out.Key.ChatID + " " + out.ID
	for i := a.progress.next(pid, len(parts)); i < len(parts); i++ {
		if err := a.send(ctx, out, parts[i]); err != nil {
			if re := (*ReauthorizeError)(nil); errors.As(err, &re) {
				// Nothing can go until a person authorizes gocua again: the
				// message waits (as for a rate limit, without spending its
				// tries) instead of being given up after a few minutes.
				a.progress.put(pid, i, len(parts))
				return &bot.RetryAfterError{After: reauthorizeWait, Err: err}
			}
			if errors.Is(err, bot.ErrRejected) || errors.Is(err, bot.ErrUnreachable) {
				a.progress.forget(pid)
			} else {
				a.progress.put(pid, i, len(parts))
			}
			return err
		}
	}
	a.progress.forget(pid)
	return nil
}

// render cuts an Outbound into the cs messages it becomes.
func (a *Adapter) render(out bot.Outbound) ([]part, error) {
	var texts []string
	if text := bot.PlainText(out.Text); strings.TrimSpace(text) != "" {
		texts = bot.SplitText(text, MaxText)
	}
	buttons, err := flatten(out.Buttons)
	if err != nil {
		return nil, err
	}
	var pages [][]button
	for len(buttons) > 0 {
		n := min(len(buttons), MaxButtons)
		pages = append(pages, buttons[:n])
		buttons = buttons[n:]
	}
	more := ""
	if len(pages) > 0 {
		more = a.texts.Text(cmp.Or(out.Lang, "vi"), "menu_more", nil)
		if strings.TrimSpace(more) == "" {
			return nil, errors.New(`the locale has no "menu_more" text`)
		}
	}
	var parts []part
	if md := out.Media; md != nil {
		if md.Kind != bot.MediaPhoto {
			return nil, fmt.Errorf("%q media cannot be sent on Zalo OA", md.Kind)
		}
		if md.Ref == "" {
			return nil, errors.New("photo without a ref")
		}
		p := part{photo: md}
		if len(pages) == 0 && len(texts) > 0 {
			// a media message carries no buttons: with buttons, the text
			// goes after the photo, with them
			p.text, texts = texts[0], texts[1:]
		}
		parts = append(parts, p)
	}
	if len(texts) == 0 && len(pages) > 0 {
		texts = []string{more} // buttons need a text to stand under
	}
	for _, t := range texts {
		parts = append(parts, part{text: t})
	}
	if len(pages) > 0 {
		parts[len(parts)-1].buttons = pages[0]
		for _, pg := range pages[1:] {
			parts = append(parts, part{text: more, buttons: pg})
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("no text")
	}
	return parts, nil
}

// flatten turns rows of buttons into Zalo's buttons, in reading order.
func flatten(rows [][]bot.Button) ([]button, error) {
	var out []button
	for _, row := range rows {
		for _, b := range row {
			title := clip(oneLine(bot.PlainText(b.Text)), MaxButtonTitle)
			switch {
			case title == "":
				return nil, errors.New("a button has no text")
			case b.URL != "":
				if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					return nil, fmt.Errorf("button %q: not an http(s) address", title)
				}
				out = append(out, button{Title: title, Type: "oa.open.url", Payload: urlPayload{URL: b.URL}})
			case b.Data == "":
				return nil, fmt.Errorf("button %q has neither data nor URL", title)
			case len(ButtonPrefix)+len(b.Data) > MaxButtonPayload:
				return nil, fmt.Errorf("button %q: data is %d bytes, over %d", title, len(b.Data), MaxButtonPayload-len(ButtonPrefix))
			default:
				out = append(out, button{Title: title, Type: "oa.query.hide", Payload: ButtonPrefix + b.Data})
			}
		}
	}
	return out, nil
}

// clip cuts s to at most limit UTF-16 code units on a rune boundary,
// ending a cut text with "…".
func clip(s string, limit int) string {
	if bot.TextLen(s) <= limit {
		return s
	}
	units := 0
	for i, r := range s {
		if units+utf16.RuneLen(r)+1 > limit { // room for the ellipsis
			return s[:i] + "…"
		}
		units += utf16.RuneLen(r)
	}
	return s
}

// send makes the call(s) for one part: a photo is uploaded first, and
// uploaded again once when Zalo says its attachment id has expired.
func (a *Adapter) send(ctx context.Context, out bot.Outbound, p part) error {
	msg := csMessage{Text: p.text}
	if len(p.buttons) > 0 {
		msg.Attachment = &csAttachment{Type: "template", Payload: templatePayload{Buttons: p.buttons}}
	}
	if p.photo == nil {
		return a.sendCS(ctx, out.Key, msg)
	}
	for try := 0; ; try++ {
		id, err := a.attachmentID(ctx, out.ID, p.photo)
		if err != nil {
			return err
		}
		msg.Attachment = &csAttachment{Type: "template", Payload: templatePayload{
			TemplateType: "media", Elements: []element{{MediaType: "image", AttachmentID: id}},
		}}
		err = a.sendCS(ctx, out.Key, msg)
		if try > 0 || !isCode(err, codeExpired) {
			return err
		}
		a.attachments.drop(p.photo.Ref)
	}
}

// sendCS sends one cs message, marking it as gocua's own: a send in
// progress before the call (Zalo's echo may come before its answer), the
// message id after.
func (a *Adapter) sendCS(ctx context.Context, key bot.ConvKey, msg csMessage) error {
	body, err := json.Marshal(csRequest{Recipient: recipient{UserID: key.ChatID}, Message: msg})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if err := a.own.Sending(ctx, key, true); err != nil {
		// without the mark its echo would be taken for a person answering
		return fmt.Errorf("zalo oa: marking a send in progress: %w", err)
	}
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	defer func() {
		if err := a.own.Sending(bg, key, false); err != nil {
			a.log.Warn("zalo oa: send in progress not unmarked; the mark expires on its own", "chat_id", key.ChatID, "err", err)
		}
	}()
	data, err := a.call(ctx, pathCS, "application/json", body)
	if err != nil {
		return err
	}
	// Sent: from here nothing may fail the delivery, or the sender would
	// send it twice.
	var res struct {
		MessageID flexString `json:"message_id"`
	}
	if present(data) {
		_ = json.Unmarshal(data, &res)
	}
	if id := string(res.MessageID); id != "" {
		if err := a.own.MarkOwn(bg, key, id); err != nil {
			a.log.Warn("zalo oa: own message not recorded; its echo may be taken for a person answering", "chat_id", key.ChatID, "err", err)
		}
	} else {
		a.log.Warn("zalo oa: cs answer without message_id; its echo may be taken for a person answering", "chat_id", key.ChatID)
	}
	a.recent.add(key, msg.Text, time.Now())
	return nil
}

// progressCache remembers how far a multi-call Outbound got, so a retry
// does not send its first parts twice.
type progressCache struct {
	mu   sync.Mutex
	done map[string]progress
}

type progress struct{ sent, total int }

const maxProgress = 1024

// next is the first part of Outbound id still to send.
func (p *progressCache) next(id string, total int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr, ok := p.done[id]; ok && pr.total == total {
		return pr.sent
	}
	return 0
}

func (p *progressCache) put(id string, sent, total int) {
	if sent == 0 {
		p.forget(id)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil || len(p.done) >= maxProgress {
		p.done = make(map[string]progress)
	}
	p.done[id] = progress{sent, total}
}

func (p *progressCache) forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.done, id)
}

// recentSends remembers the texts sent to each resident in the last
// minutes, a second way to know an echo as gocua's own when its message id
// was not recorded (the echo's msg_id not matching the cs answer's
// message_id, the own-message store down). A person typing the very same
// text meanwhile is missed, which is harmless.
type recentSends struct {
	mu   sync.Mutex
	sent map[recentKey]time.Time
}

type recentKey struct {
	chat string
	text string
}

const (
	recentFor = 2 * time.Minute
	maxRecent = 4096
)

func (r *recentSends) add(key bot.ConvKey, text string, now time.Time) {
	text = strings.TrimSpace(bot.CleanText(text)) // as an echo's text is read
	if text == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sent == nil {
		r.sent = make(map[recentKey]time.Time)
	}
	if len(r.sent) >= maxRecent {
		for k, at := range r.sent {
			if now.Sub(at) > recentFor {
				delete(r.sent, k)
			}
		}
		if len(r.sent) >= maxRecent {
			r.sent = make(map[recentKey]time.Time)
		}
	}
	r.sent[recentKey{key.ChatID, text}] = now
}

func (r *recentSends) has(key bot.ConvKey, text string, now time.Time) bool {
	text = strings.TrimSpace(text)
	if text == "" {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.sent[recentKey{key.ChatID, text}]
	return ok && now.Sub(at) <= recentFor
}
