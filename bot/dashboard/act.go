package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"github.com/gocua/gocua/bot"
)

// A web action (a claim, a reply, an approval) is an update of the
// viewer's bot.ChannelDashboard conversation, handled by the same desk as
// a tap on Telegram. Its update id comes from the form's nonce, made when
// the page was drawn: a form submitted twice (a double tap, a retry after
// a timeout) is handled once.

// errNonce: a form without a well-formed nonce.
var errNonce = errors.New("dashboard: form without a nonce")

// nonce makes a form's nonce: 16 random bytes, hex.
func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// formNonce reads and checks the form's nonce.
func formNonce(r *http.Request) (string, error) {
	n := r.PostFormValue("nonce")
	if len(n) != 32 {
		return "", errNonce
	}
	if _, err := hex.DecodeString(n); err != nil {
		return "", errNonce
	}
	return n, nil
}

// conv is a staff member's web conversation.
func conv(volunteer int64) bot.ConvKey {
	return bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: strconv.FormatInt(volunteer, 10)}
}

// act hands in to the core as the viewer's web update: Key, UserID, Name,
// At, Seq and UpdateID (from the form's nonce) are filled in; Kind and
// Text, Data, Command, Args, Media or ReplyTo are the caller's.
func (s *Server) act(ctx context.Context, v *viewer, r *http.Request, in bot.Inbound) (bot.Ack, error) {
	n, err := formNonce(r)
	if err != nil {
		return bot.Ack{}, err
	}
	now := s.cfg.Now()
	in.Key = conv(v.Volunteer.ID)
	in.UserID = in.Key.ChatID
	in.Name = v.Volunteer.Name
	in.UpdateID = "web:" + n
	in.Seq = now.UnixNano()
	in.At = now
	ack, err := s.deps.Core.HandleTap(ctx, in)
	if err != nil {
		return bot.Ack{}, errf("web action", err)
	}
	s.live.poke("queue")
	return ack, nil
}

// actFailed answers a failed act: a form without a nonce is the client's
// fault, anything else the system's.
func (s *Server) actFailed(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	if errors.Is(err, errNonce) {
		s.fail(w, r, v, http.StatusBadRequest, "err_csrf")
		return
	}
	s.unavailable(w, r, v, err)
}
