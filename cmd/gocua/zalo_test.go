package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
	"github.com/gocua/gocua/bot/zalo/zalotest"
	"github.com/gocua/gocua/config"
	"github.com/gocua/gocua/store/storetest"
)

// zaloSecret is the Zalo bot's webhook secret in these tests.
const zaloSecret = "zalo-webhook-secret-for-tests"

// zaloHarness is gocua with both Zalo channels on, against fake Zalo
// servers, besides the fake Telegram of harness.
type zaloHarness struct {
	*deskHarness
	zb *zalotest.Server
	oa *oatest.Server
}

var zaloIDs atomic.Int64

// newZaloChat is a fresh Zalo bot chat id (hex-like, as Zalo's are).
func newZaloChat() string { return fmt.Sprintf("6ede9afa%012x", zaloIDs.Add(1)) }

// newOAUser is a fresh 19-digit OA user id.
func newOAUser() string { return oatest.UserID(int(zaloIDs.Add(1))) }

// freeAddr is a local address nothing listens on: gocua's public address
// must be known before it starts, for the photo addresses it gives Zalo.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// zaloOptions turns both Zalo channels on against zb and oas.
func zaloOptions(t testing.TB, zb *zalotest.Server, oas *oatest.Server) []option {
	addr := freeAddr(t)
	return []option{
		withEnv("GOCUA_HTTP_ADDR", addr),
		withEnv("GOCUA_PUBLIC_URL", "http://"+addr),
		withEnv("GOCUA_ZALO_BOT_TOKEN", zalotest.Token),
		withEnv("GOCUA_ZALO_BOT_WEBHOOK_SECRET", zaloSecret),
		withEnv("GOCUA_ZALO_BOT_API_URL", zb.URL()),
		withEnv("GOCUA_ZALO_OA_APP_ID", oatest.AppID),
		withEnv("GOCUA_ZALO_OA_APP_SECRET", oatest.AppSecret),
		withEnv("GOCUA_ZALO_OA_SECRET_KEY", oatest.SecretKey),
		withEnv("GOCUA_ZALO_OA_REFRESH_TOKEN", oatest.RefreshToken),
		withEnv("GOCUA_ZALO_OA_API_URL", oas.URL()),
		withEnv("GOCUA_ZALO_OA_OAUTH_URL", oas.URL()),
		withMain(func(m *Main) { m.AllowPrivateMedia = true }),
	}
}

// startZalo starts gocua with both Zalo channels, a volunteers' group, an
// organizer and a database of the test's own.
func startZalo(t *testing.T, opts ...option) *zaloHarness {
	t.Helper()
	zb, oas := zalotest.New(t), oatest.New(t)
	d := startDeskWith(t, nil, append(zaloOptions(t, zb, oas), opts...)...)
	return &zaloHarness{deskHarness: d, zb: zb, oa: oas}
}

// zaloBot posts u to the Zalo bot webhook and fails unless it is taken.
func (h *zaloHarness) zaloBot(u zalotest.Update) {
	h.t.Helper()
	if u.Date == 0 {
		u.Date = time.Now().UnixMilli() + zaloIDs.Add(1)
	}
	code, err := zalotest.PostURL(context.Background(), webhookClient, h.url+zalo.WebhookPath, zaloSecret, u.Body())
	if err != nil || code != http.StatusOK {
		h.t.Fatalf("zalo bot webhook answered %d, %v", code, err)
	}
	h.settle()
}

var oaClock atomic.Int64

// oaAt is a fresh event time: increasing, so each resident's events keep
// their order (their Seq).
func oaAt() time.Time {
	return time.Now().Add(time.Duration(oaClock.Add(1)) * time.Millisecond)
}

// oaPost posts a signed OA event and waits until the resident's
// conversation has handled it and its replies are out (the webhook only
// queues it).
func (h *zaloHarness) oaPost(user string, body []byte, at time.Time) {
	h.t.Helper()
	if code := oatest.Post(h.t, h.url+oa.WebhookPath, body); code != http.StatusOK {
		h.t.Fatalf("zalo oa webhook answered %d", code)
	}
	h.waitSeq(bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user}, at.UnixMilli())
}

// waitSeq waits until key's conversation handled the update numbered seq
// and the OA's worker finished what it took (it hands the replies to the
// sender after the commit), then until every reply is out.
func (h *harness) waitSeq(key bot.ConvKey, seq int64) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conv, _, err := h.main.Redis.Load(context.Background(), key, "")
		if err == nil && conv.LastSeq >= seq && (h.main.ZaloOA == nil || h.main.ZaloOA.Busy() == 0) {
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not handle update %d: %+v %v", key, seq, conv, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.settle()
}

// oaText is the resident typing (or, with "#gc:" + data, tapping) text.
func (h *zaloHarness) oaText(user, text string) {
	h.t.Helper()
	at := oaAt()
	h.oaPost(user, oatest.UserText(user, "oam"+strconv.FormatInt(zaloIDs.Add(1), 10), text, at), at)
}

// TestGoldenTranscriptsZaloBot walks every bundled flow on the Zalo Bot
// Platform, answering the numbered menus by number, through the real
// webhook against the fake Bot API, and compares what Zalo received with
// testdata/golden/zalo-bot/<flow>.txt.
func TestGoldenTranscriptsZaloBot(t *testing.T) {
	zb, oas := zalotest.New(t), oatest.New(t)
	// a database of its own: the OA's token pair is rotated by this test's fake OAuth
	h := &zaloHarness{deskHarness: &deskHarness{harness: start(t, nil, append(zaloOptions(t, zb, oas),
		withEnv("GOCUA_DATABASE_URL", freshDatabase(t)))...)}, zb: zb, oa: oas}
	for _, f := range h.main.Flows.Flows() {
		t.Run(f.ID, func(t *testing.T) {
			chat := newZaloChat()
			k := bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chat}
			var log strings.Builder
			seen := 0
			n := 0
			say := func(text string) {
				t.Helper()
				n++
				h.zaloBot(zalotest.Text(chat+"-"+strconv.Itoa(n), chat, text))
				all := h.zb.Sent(chat)
				fmt.Fprintf(&log, "> %s\n", text)
				for _, m := range all[seen:] {
					if m.Method == "sendPhoto" {
						fmt.Fprintf(&log, "< [photo] %s\n", m.Caption)
						continue
					}
					for _, line := range strings.Split(m.Text, "\n") {
						if strings.HasPrefix(line, "🕐") {
							line = "🕐 (place in the queue, expected wait)"
						}
						fmt.Fprintf(&log, "< %s\n", line)
					}
					if bot.TextLen(m.Text) > zalo.MaxText {
						t.Errorf("a message of %d characters went to Zalo", bot.TextLen(m.Text))
					}
				}
				if len(all) == seen {
					t.Fatalf("%q: no reply", text)
				}
				seen = len(all)
			}
			menu := func() bot.Menu {
				t.Helper()
				m, err := h.main.Redis.Menu(context.Background(), k)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			say("/start")
			if f.Menu > 0 {
				i := slices.IndexFunc(menu().Choices, func(b bot.Button) bool { return b.Text == f.Title["vi"] })
				if i < 0 {
					t.Fatalf("the menu has no %q: %+v", f.Title["vi"], menu())
				}
				say(strconv.Itoa(i + 1))
			} else {
				say(f.Keywords["vi"][0])
			}
			tapped := map[string]bool{}
			for step := 0; ; step++ {
				conv, _, err := h.main.Redis.Load(context.Background(), k, "")
				if err != nil {
					t.Fatal(err)
				}
				if conv.Flow.Flow == "" {
					break
				}
				if step == 60 {
					t.Fatalf("flow %s did not end after 60 answers", f.ID)
				}
				if text, typed := typedAnswer(h.main.Flows, conv.Flow.Flow, conv.Flow.Step); typed && !tapped["typed:"+conv.Flow.Step] {
					tapped["typed:"+conv.Flow.Step] = true
					say(text)
					continue
				}
				choices := menu().Choices
				pick := -1
				for i, b := range choices {
					if isContent(b.Data) && !isReminder(b.Text) && !tapped[b.Data] {
						pick = i
						break
					}
				}
				if pick < 0 {
					pick = slices.IndexFunc(choices, func(b bot.Button) bool { return isContent(b.Data) && !isReminder(b.Text) })
				}
				if pick < 0 {
					t.Fatalf("flow %s stuck at %s/%s: no content choice in %+v", f.ID, conv.Flow.Flow, conv.Flow.Step, choices)
				}
				tapped[choices[pick].Data] = true
				say(strconv.Itoa(pick + 1))
			}
			compareGolden(t, filepath.Join("testdata", "golden", "zalo-bot", f.ID+".txt"), log.String())
		})
	}
}

// TestGoldenTranscriptsZaloOA walks every bundled flow on a Zalo Official
// Account, tapping its buttons (quick replies carrying the choice's id),
// through the signed webhook, the inbox and the fake OA API, and compares
// what Zalo received with testdata/golden/zalo-oa/<flow>.txt.
func TestGoldenTranscriptsZaloOA(t *testing.T) {
	zb, oas := zalotest.New(t), oatest.New(t)
	// a database of its own: the OA's token pair is rotated by this test's fake OAuth
	h := &zaloHarness{deskHarness: &deskHarness{harness: start(t, nil, append(zaloOptions(t, zb, oas),
		withEnv("GOCUA_DATABASE_URL", freshDatabase(t)))...)}, zb: zb, oa: oas}
	for _, f := range h.main.Flows.Flows() {
		t.Run(f.ID, func(t *testing.T) {
			user := newOAUser()
			var log strings.Builder
			var last []oatest.SentMessage
			seen := 0
			input := func(label, text string) {
				t.Helper()
				h.oaText(user, text)
				all := h.oa.Sent(user)
				last = all[seen:]
				seen = len(all)
				fmt.Fprintf(&log, "> %s\n", label)
				for _, m := range last {
					for _, line := range strings.Split(m.Text, "\n") {
						if strings.HasPrefix(line, "🕐") {
							line = "🕐 (place in the queue, expected wait)"
						}
						fmt.Fprintf(&log, "< %s\n", line)
					}
					if len(m.Buttons) > oatest.MaxButtons {
						t.Errorf("%d buttons on one message", len(m.Buttons))
					}
					var cells []string
					for _, b := range m.Buttons {
						switch {
						case b.URL != "":
							cells = append(cells, b.Title+" → "+b.URL)
						case isContent(strings.TrimPrefix(b.Payload, "#gc:")):
							cells = append(cells, b.Title)
						default:
							cells = append(cells, b.Title+" ("+b.Payload+")")
						}
					}
					if len(cells) > 0 {
						fmt.Fprintf(&log, "  [%s]\n", strings.Join(cells, " | "))
					}
				}
				if len(last) == 0 {
					t.Fatalf("%s: no reply", label)
				}
			}
			find := func(title string) string {
				t.Helper()
				for _, m := range last {
					for _, b := range m.Buttons {
						if b.Title == title {
							return b.Payload
						}
					}
				}
				t.Fatalf("no button %q in the last replies", title)
				return ""
			}
			input("/start", "/start")
			if f.Menu > 0 {
				input("tap "+quote(f.Title["vi"]), find(f.Title["vi"]))
			} else {
				input("type "+quote(f.Keywords["vi"][0]), f.Keywords["vi"][0])
			}
			tapped := map[string]bool{}
			k := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user}
			for step := 0; ; step++ {
				conv, _, err := h.main.Redis.Load(context.Background(), k, "")
				if err != nil {
					t.Fatal(err)
				}
				if conv.Flow.Flow == "" {
					break
				}
				if step == 60 {
					t.Fatalf("flow %s did not end after 60 taps", f.ID)
				}
				if text, typed := typedAnswer(h.main.Flows, conv.Flow.Flow, conv.Flow.Step); typed && !tapped["typed:"+conv.Flow.Step] {
					tapped["typed:"+conv.Flow.Step] = true
					input("type "+quote(text), text)
					continue
				}
				b, ok := nextOAButton(last, tapped)
				if !ok {
					t.Fatalf("flow %s stuck at %s/%s: no content button", f.ID, conv.Flow.Flow, conv.Flow.Step)
				}
				tapped[b.Payload] = true
				input("tap "+quote(b.Title), b.Payload)
			}
			compareGolden(t, filepath.Join("testdata", "golden", "zalo-oa", f.ID+".txt"), log.String())
		})
	}
}

// nextOAButton is the first content button not tapped yet of the last
// replies that have any (a paginated menu's second message included),
// or else their first content button.
func nextOAButton(last []oatest.SentMessage, tapped map[string]bool) (oatest.Button, bool) {
	var first *oatest.Button
	for i := len(last) - 1; i >= 0; i-- {
		for _, b := range last[i].Buttons {
			if b.URL != "" || !isContent(strings.TrimPrefix(b.Payload, "#gc:")) || isReminder(b.Title) {
				continue
			}
			if !tapped[b.Payload] {
				return b, true
			}
			if first == nil {
				first = &b
			}
		}
		if first != nil {
			return *first, true
		}
	}
	return oatest.Button{}, false
}

// isContent reports whether a button's data leads into flow content.
func isContent(data string) bool {
	return data != "" && !strings.HasPrefix(data, "nav:") && !strings.HasPrefix(data, "lang:")
}

// zaloBotSay sends text from a Zalo bot resident.
func (h *zaloHarness) zaloBotSay(chat, text string) {
	h.t.Helper()
	h.zaloBot(zalotest.Text("zm"+strconv.FormatInt(zaloIDs.Add(1), 10), chat, text))
}

// choose answers the Zalo bot's last numbered menu with the number of the
// choice whose data is data.
func (h *zaloHarness) choose(chat, data string) {
	h.t.Helper()
	m, err := h.main.Redis.Menu(context.Background(), bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chat})
	if err != nil {
		h.t.Fatal(err)
	}
	i := slices.IndexFunc(m.Choices, func(b bot.Button) bool { return b.Data == data })
	if i < 0 {
		h.t.Fatalf("no choice %q in the menu %+v", data, m.Choices)
	}
	h.zaloBotSay(chat, strconv.Itoa(i+1))
}

// waitZalo waits until the Zalo bot chat received a message containing want.
func (h *zaloHarness) waitZalo(chat, want string) zalotest.SentMessage {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range h.zb.Sent(chat) {
			if strings.Contains(m.Text, want) || strings.Contains(m.Caption, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range h.zb.Sent(chat) {
				got = append(got, m.Text+m.Caption)
			}
			h.t.Fatalf("zalo chat %s got no %q; got %q", chat, want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOA waits until the OA user received a message containing want.
func (h *zaloHarness) waitOA(user, want string) oatest.SentMessage {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range h.oa.Sent(user) {
			if strings.Contains(m.Text, want) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range h.oa.Sent(user) {
				got = append(got, m.Text)
			}
			h.t.Fatalf("oa user %s got no %q; got %q", user, want, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// claimFromGroup has vol claim ticket id from its card in the group.
func (h *zaloHarness) claimFromGroup(vol, id int64) telegramtest.SentMessage {
	h.t.Helper()
	card := h.waitFor(volunteerGroup, "#"+strconv.FormatInt(id, 10))
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, card.MessageID, "dk:claim:"+strconv.FormatInt(id, 10)))
	h.settle()
	return card
}

// ticketOf waits for key's open ticket.
func (h *harness) ticketOf(key bot.ConvKey) int64 {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conv, _, err := h.main.Redis.Load(context.Background(), key, "")
		if err == nil && conv.Ticket != 0 {
			return conv.Ticket
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s has no ticket: %+v %v", key, conv, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A Zalo bot resident asks for a volunteer by answering the numbered
// menus; a Telegram volunteer claims the ticket and answers with text (a
// long one too) and a photo; the resident's photo reaches the volunteer.
// A re-delivered webhook call is answered once.
func TestZaloBotResidentTalksToTelegramVolunteer(t *testing.T) {
	h := startZalo(t)
	vol := h.volunteer()
	chat := newZaloChat()
	h.zaloBotSay(chat, "/start")
	h.choose(chat, "nav:human")
	h.choose(chat, "in:t:vneid") // what the problem is
	h.choose(chat, "in:skip")    // the ward
	h.zaloBotSay(chat, "Em bấm quét NFC mà không được")
	id := h.ticketOf(bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chat})
	card := h.claimFromGroup(vol, id)
	if !strings.Contains(card.Plain, string(bot.ChannelZaloBot)) || strings.Contains(card.Plain, "⏳") {
		t.Errorf("card %q: want the zalo-bot channel and no OA window", card.Plain)
	}
	h.waitFor(vol, "Em bấm quét NFC")
	h.waitZalo(chat, "đã nhận yêu cầu")

	// "1" written to the volunteer is text, not a tap on an old menu
	h.zaloBotSay(chat, "1")
	h.waitFor(vol, ":\n1")

	// text, and a message longer than Zalo takes: two sends of at most 2000
	h.send(textUpdate(nextUpdateID(), vol, "Chào Bác, cháu là Lan."))
	h.waitZalo(chat, "cháu là Lan")
	long := strings.Repeat("Bác mở ứng dụng VNeID rồi bấm vào mục Đăng nhập. ", 50) // 2,500 characters
	before := len(h.zb.Sent(chat))
	h.send(textUpdate(nextUpdateID(), vol, long))
	h.settle()
	parts := h.zb.Sent(chat)[before:]
	if len(parts) != 2 {
		t.Fatalf("a %d-character message went as %d sends, want 2", bot.TextLen(long), len(parts))
	}
	var joined string
	for _, p := range parts {
		if bot.TextLen(p.Text) > zalo.MaxText {
			t.Errorf("a send of %d characters", bot.TextLen(p.Text))
		}
		joined += p.Text + " "
	}
	if strings.Count(joined, "Đăng nhập") != 50 {
		t.Errorf("the parts lost text: %d of 50 sentences", strings.Count(joined, "Đăng nhập"))
	}

	// the volunteer's photo: Zalo fetches it (twice) from gocua's stable address
	volPhoto := testPNG(t, color.RGBA{200, 30, 30, 255})
	h.api.AddFile("AgACvolunteerzalo", volPhoto)
	h.raw(telegramtest.PhotoMessage(nextUpdateID(), vol, vol, "AgACvolunteerzalo", "Bác bấm vào đây"))
	h.settle()
	photo := h.waitZalo(chat, "Bác bấm vào đây")
	if photo.Method != "sendPhoto" || len(photo.Fetches) != zalotest.PhotoFetches {
		t.Fatalf("photo %+v", photo)
	}
	for _, f := range photo.Fetches {
		if f.Status != http.StatusOK || !bytes.Equal(f.Data, volPhoto) {
			t.Fatalf("Zalo fetched %d, %d bytes (%s) from %s", f.Status, len(f.Data), f.Err, photo.Photo)
		}
	}

	// a document cannot go to Zalo: the volunteer is told, the resident gets nothing
	before = len(h.zb.Calls())
	h.send(messageUpdate(nextUpdateID(), vol, map[string]any{
		"document": map[string]any{"file_id": "BQACdoc", "file_unique_id": "u1", "file_name": "huong-dan.pdf", "mime_type": "application/pdf", "file_size": 2048},
		"caption":  "hướng dẫn"}))
	h.settle()
	h.waitFor(vol, "chỉ nhận được ảnh")
	if n := len(h.zb.Calls()) - before; n != 0 {
		t.Fatalf("%d calls to Zalo for a document it cannot take", n)
	}

	// the resident's photo reaches the volunteer as an upload of its bytes
	mine := testPNG(t, color.RGBA{20, 120, 220, 255})
	h.zb.SetPhoto("man-hinh.png", mine, "image/png")
	h.zaloBot(zalotest.Image("zimg"+chat, chat, h.zb.PhotoURL("man-hinh.png"), "ảnh lỗi"))
	h.waitPhoto(vol, mine)

	// Zalo delivers the same message twice: one relay
	dup := zalotest.Text("zdup"+chat, chat, "cảm ơn cháu")
	dup.Date = time.Now().UnixMilli() + zaloIDs.Add(1)
	h.zaloBot(dup)
	h.zaloBot(dup)
	h.waitFor(vol, "cảm ơn cháu")
	if n := countText(h.sentTo(vol), "cảm ơn cháu"); n != 1 {
		t.Fatalf("the volunteer got the re-delivered message %d times", n)
	}
}

// A Zalo OA resident asks for a volunteer with the OA's buttons; the card
// says until when they can be answered; a Telegram volunteer answers with
// text and a photo (uploaded to the OA); the resident's photo reaches the
// volunteer; an agent answering from OA Manager is shown to the volunteer.
func TestZaloOAResidentTalksToTelegramVolunteer(t *testing.T) {
	h := startZalo(t)
	vol := h.volunteer()
	user := newOAUser()
	h.oaText(user, "/start")
	h.oaText(user, "#gc:nav:human")
	h.oaText(user, "#gc:in:t:vneid")
	h.oaText(user, "#gc:in:skip")
	h.oaText(user, "Tài khoản báo sai mật khẩu")
	key := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user}
	id := h.ticketOf(key)
	card := h.claimFromGroup(vol, id)
	if !strings.Contains(card.Plain, "⏳ Zalo OA") {
		t.Errorf("the card of an OA resident does not say until when to answer: %q", card.Plain)
	}
	h.waitFor(vol, "sai mật khẩu")
	h.waitOA(user, "đã nhận yêu cầu")

	h.send(textUpdate(nextUpdateID(), vol, "Chào Bác, cháu là Minh."))
	h.waitOA(user, "cháu là Minh")

	volPhoto := testPNG(t, color.RGBA{10, 160, 60, 255})
	h.api.AddFile("AgACvolunteeroa", volPhoto)
	h.raw(telegramtest.PhotoMessage(nextUpdateID(), vol, vol, "AgACvolunteeroa", "như hình này ạ"))
	h.settle()
	got := h.waitOA(user, "như hình này ạ")
	if got.AttachmentID == "" || !bytes.Equal(got.Image, volPhoto) {
		t.Fatalf("the OA got %+v, want the volunteer's photo by attachment id", got)
	}

	mine := testPNG(t, color.RGBA{220, 120, 20, 255})
	h.oa.AddFile("loi.png", "image/png", mine)
	at := oaAt()
	h.oaPost(user, oatest.UserImage(user, "oaimg"+user, h.oa.FileURL("loi.png"), "màn hình lỗi", at), at)
	h.waitPhoto(vol, mine)

	// Zalo re-delivers an event (its retry after a slow answer): one relay
	at = oaAt()
	dup := oatest.UserText(user, "oa-dup-1", "vâng cháu", at)
	oatest.Post(t, h.url+oa.WebhookPath, dup)
	h.oaPost(user, dup, at)
	h.waitFor(vol, "vâng cháu")
	time.Sleep(200 * time.Millisecond)
	if n := countText(h.sentTo(vol), "vâng cháu"); n != 1 {
		t.Fatalf("the volunteer got the re-delivered event %d times", n)
	}

	// a ward officer answers from OA Manager: the volunteer sees it
	at = oaAt()
	h.oaPost(user, oatest.OAText(user, "manager-msg-1", "Bác ra phường sáng mai nhé", at), at)
	h.waitFor(vol, "Bác ra phường sáng mai nhé")
}

// Two replicas find the OA's access token refused (-216) at the same
// moment: exactly one refresh call reaches Zalo (the single-use refresh
// token is spent once), and both deliver their message with its result.
func TestZaloOATokenRefreshedOnceAcrossReplicas(t *testing.T) {
	h := startZalo(t)
	b := h.replicaAt(t)
	// a first message gets the first access token from the seed
	first := newOAUser()
	h.oaText(first, "/start")
	if n := h.oa.Refreshes(); n != 1 {
		t.Fatalf("%d refreshes to get the first token, want 1", n)
	}
	h.oa.ExpireAccess()
	h.oa.SetRefreshDelay(300 * time.Millisecond) // both are sure to wait on the refresh
	before := len(h.oa.CallsTo(oatest.PathToken))
	users := []string{newOAUser(), newOAUser()}
	errs := make(chan error, 2)
	for i, m := range []*Main{h.main, b.main} {
		go func() {
			errs <- m.ZaloOA.Deliver(context.Background(), bot.Outbound{ID: "both/" + strconv.Itoa(i),
				Key: bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: users[i]}, Text: "Lịch hỗ trợ VNeID: sáng thứ Bảy"})
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("a replica could not deliver after the refresh: %v", err)
		}
	}
	if calls := len(h.oa.CallsTo(oatest.PathToken)) - before; calls != 1 || h.oa.Refreshes() != 2 {
		t.Fatalf("%d refresh calls for two replicas (%d pairs issued), want exactly 1", calls, h.oa.Refreshes())
	}
	for _, u := range users {
		h.waitOA(u, "sáng thứ Bảy")
	}
	// the pair every replica uses is the new one, stored before it was used
	tok, err := h.main.DB.Token(context.Background(), "zalo-oa:"+oatest.AppID)
	if err != nil || tok.Refresh != h.oa.CurrentRefreshToken() || tok.Access != h.oa.AccessToken() {
		t.Fatalf("stored %+v, %v; Zalo's current pair differs", tok, err)
	}
}

// replicaAt starts a second gocua on the same stores and fake platforms,
// at an address of its own.
func (h *zaloHarness) replicaAt(t *testing.T) *harness {
	addr := freeAddr(t)
	return start(t, h.api, append(slices.Clone(h.opts),
		withEnv("GOCUA_HTTP_ADDR", addr), withEnv("GOCUA_PUBLIC_URL", "http://"+addr))...)
}

// Zalo refuses the refresh token (the OA admin removed the app): gocua says
// so loudly — the log tells the operator what to do, /readyz and the
// metric show it — stops calling Zalo's OAuth, keeps serving Telegram, and
// delivers what waited once a new refresh token is configured.
func TestZaloOALostRefreshToken(t *testing.T) {
	h := startZalo(t)
	user := newOAUser()
	h.oaText(user, "/start")
	h.oa.Revoke()
	at := oaAt()
	if code := oatest.Post(t, h.url+oa.WebhookPath, oatest.UserText(user, "lost-1", "menu", at)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	waitUntil(t, 10*time.Second, "the OA to lose its authorization", func() bool { ok, _ := h.main.ZaloOA.Health(); return !ok })
	_, detail := h.main.ZaloOA.Health()
	for _, want := range []string{"GOCUA_ZALO_OA_REFRESH_TOKEN", "/v4/oa/permission"} {
		if !strings.Contains(detail, want) || !strings.Contains(h.logs.String(), want) {
			t.Errorf("the operator is not told %q: %s", want, detail)
		}
	}
	resp, err := http.Get(h.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ready") || !strings.Contains(string(body), "zalo-oa:") {
		t.Fatalf("/readyz %d %q: want ready, with the zalo-oa detail", resp.StatusCode, body)
	}
	resp, err = http.Get(h.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `gocua_channel_authorized{channel="zalo-oa"} 0`) {
		t.Error("the metric does not show the lost authorization")
	}
	// more messages wait without calling OAuth again (the OA's sender keeps
	// them: waiting for every sender to be idle would wait for ever)
	tokenCalls := len(h.oa.CallsTo(oatest.PathToken))
	at = oaAt()
	if code := oatest.Post(t, h.url+oa.WebhookPath, oatest.UserText(user, "lost-2", "còn đó không", at)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	waitUntil(t, 10*time.Second, "the second message to be handled", func() bool {
		conv, _, err := h.main.Redis.Load(context.Background(), bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user}, "")
		return err == nil && conv.LastSeq >= at.UnixMilli()
	})
	time.Sleep(300 * time.Millisecond)
	if n := len(h.oa.CallsTo(oatest.PathToken)); n != tokenCalls {
		t.Fatalf("%d more OAuth calls with a refresh token Zalo refused", n-tokenCalls)
	}
	// Telegram goes on
	resident := newChatID()
	h.send(textUpdate(nextUpdateID(), resident, "/start"))
	waitUntil(t, 10*time.Second, "a Telegram resident's answers", func() bool { return len(h.sentTo(resident)) == startReplies })

	// the operator authorizes again and restarts with the new refresh token
	fresh := h.oa.Authorize()
	if err := h.main.Close(); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	start(t, h.api, append(slices.Clone(h.opts), withEnv("GOCUA_ZALO_OA_REFRESH_TOKEN", fresh),
		withEnv("GOCUA_HTTP_ADDR", addr), withEnv("GOCUA_PUBLIC_URL", "http://"+addr))...)
	h.waitOA(user, plain(h.main.Flows.Text("vi", "menu", nil)))
}

// A broadcast to OA residents skips those whose last message is more than
// 7 days old, and one Zalo refuses as outside its window (-230), both
// counted as "window"; the others get it.
func TestZaloOABroadcastSkipsOutsideTheWindow(t *testing.T) {
	h := startZalo(t, withEnv("GOCUA_QUIET_HOURS", "off"), withMain(fastBroadcasts))
	ctx := context.Background()
	now := time.Now()
	var recent, old []string
	for i := range 5 {
		u := newOAUser()
		k := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: u}
		if err := h.main.DB.SetConsent(ctx, k, bot.ConsentYes, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		seen := now.Add(-time.Duration(i+1) * time.Hour)
		if i >= 3 {
			seen = now.Add(-8 * 24 * time.Hour)
			old = append(old, u)
		} else {
			recent = append(recent, u)
		}
		if err := storetest.SetLastSeen(ctx, h.dbURL(), string(bot.ChannelZaloOA), u, seen); err != nil {
			t.Fatal(err)
		}
	}
	// Zalo counts the window differently for this one (our last_seen is fresher)
	h.oa.FailUser(recent[2], -230)
	bh := &bcHarness{harness: h.harness, t: t, api: h.api}
	b := bh.create(broadcast.Draft{Text: "Thứ Bảy này tổ hỗ trợ cài VNeID tại nhà văn hoá", Audience: "channel:zalo-oa", Now: true})
	rep := bh.report(b.ID, time.Minute)
	if rep.Delivered != 2 || rep.Skipped[broadcast.ReasonWindow] != 3 || rep.Failed != 0 {
		t.Fatalf("report %+v: want 2 delivered, 3 skipped as outside the window", rep)
	}
	for _, u := range recent[:2] {
		h.waitOA(u, "nhà văn hoá")
	}
	for _, u := range append(old, recent[2]) {
		if len(h.oa.Sent(u)) != 0 {
			t.Errorf("%s is outside the window and got %d messages", u, len(h.oa.Sent(u)))
		}
	}
}

// dbURL is the database this gocua runs on.
func (h *zaloHarness) dbURL() string { return h.main.Config.DatabaseURL.Reveal() }

// An agent answers from OA Manager: the bot keeps quiet in that
// conversation (its own echoes do not count), a command brings it back.
func TestZaloOAAgentTakesOver(t *testing.T) {
	h := startZalo(t)
	user := newOAUser()
	h.oaText(user, "/start")
	// the echo of gocua's own message is not a person
	sent := h.oa.Sent(user)
	if code := oatest.Post(t, h.url+oa.WebhookPath, oatest.OAText(user, sent[len(sent)-1].MessageID, sent[len(sent)-1].Text, oaAt())); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	time.Sleep(300 * time.Millisecond) // the echo is dropped: nothing to wait for
	before := len(h.oa.Sent(user))
	h.oaText(user, "cài vneid")
	if len(h.oa.Sent(user)) == before {
		t.Fatal("the bot went quiet after its own echo")
	}
	// a person answers from OA Manager
	at := oaAt()
	h.oaPost(user, oatest.OAText(user, "manager-1", "Chào Bác, em là cán bộ phường đây", at), at)
	before = len(h.oa.Sent(user))
	h.oaText(user, "vâng cảm ơn cháu")
	h.oaText(user, "menu")
	if got := h.oa.Sent(user)[before:]; len(got) != 0 {
		t.Fatalf("the bot talked over the agent: %q", got[0].Text)
	}
	h.oaText(user, "/menu")
	h.waitOA(user, plain(h.main.Flows.Text("vi", "menu", nil)))
	if len(h.oa.Sent(user)) == before {
		t.Fatal("/menu did not bring the bot back")
	}
}

// Both Zalo webhooks refuse what is not Zalo's: wrong secrets and
// signatures, oversized and malformed bodies; what they do not handle is
// acknowledged.
func TestZaloWebhooksRefuseBadInput(t *testing.T) {
	h := startZalo(t)
	post := func(path string, body []byte, header, value string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if header != "" {
			req.Header.Set(header, value)
		}
		resp, err := webhookClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	text := zalotest.Text("bad-1", newZaloChat(), "/start").Body()
	user := newOAUser()
	at := oaAt()
	event := oatest.UserText(user, "bad-oa-1", "/start", at)
	mac := "mac=" + oatest.Sign(oatest.AppID, event, oatest.Millis(at), oatest.SecretKey)
	huge := append([]byte(`{"ok":true,"result":{"event_name":"message.text.received","message":{"text":"`), bytes.Repeat([]byte("a"), 2<<20)...)
	for _, tc := range []struct {
		name          string
		path          string
		body          []byte
		header, value string
		want          int
	}{
		{"bot: no secret", zalo.WebhookPath, text, "", "", http.StatusForbidden},
		{"bot: wrong secret", zalo.WebhookPath, text, zalo.SecretHeader, zaloSecret + "x", http.StatusForbidden},
		{"bot: the Telegram secret", zalo.WebhookPath, text, zalo.SecretHeader, testSecret, http.StatusForbidden},
		{"bot: oversized", zalo.WebhookPath, huge, zalo.SecretHeader, zaloSecret, http.StatusRequestEntityTooLarge},
		{"bot: malformed", zalo.WebhookPath, []byte(`{"ok":true,"result":`), zalo.SecretHeader, zaloSecret, http.StatusBadRequest},
		{"bot: unknown event", zalo.WebhookPath, []byte(`{"ok":true,"result":{"event_name":"message.reaction.received","message":{"message_id":"x","chat":{"id":"y"}}}}`), zalo.SecretHeader, zaloSecret, http.StatusOK},
		{"oa: no signature", oa.WebhookPath, event, "", "", http.StatusUnauthorized},
		{"oa: signed with the app secret", oa.WebhookPath, event, oa.SignatureHeader, "mac=" + oatest.Sign(oatest.AppID, event, oatest.Millis(at), oatest.AppSecret), http.StatusForbidden},
		{"oa: body changed", oa.WebhookPath, bytes.Replace(event, []byte("/start"), []byte("/stop!"), 1), oa.SignatureHeader, mac, http.StatusForbidden},
		{"oa: oversized", oa.WebhookPath, huge, oa.SignatureHeader, mac, http.StatusRequestEntityTooLarge},
		{"oa: malformed", oa.WebhookPath, []byte(`{"app_id":`), oa.SignatureHeader, mac, http.StatusBadRequest},
	} {
		if got := post(tc.path, tc.body, tc.header, tc.value); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := len(h.zb.Calls()) + len(h.oa.CallsTo(oatest.PathCS)); n != 0 {
		t.Fatalf("refused calls reached the core: %d sends", n)
	}
	if strings.Contains(h.logs.String(), zaloSecret) || strings.Contains(h.logs.String(), "/start!") {
		t.Fatal("a secret or a body was logged")
	}
}

// gocua webhook set registers the Zalo bot's webhook with its secret, and
// says where the OA's is set.
func TestWebhookSetRegistersZalo(t *testing.T) {
	zb, oas := zalotest.New(t), oatest.New(t)
	env := map[string]string{
		"GOCUA_PUBLIC_URL":              "https://bot.xa-abc.gov.vn",
		"GOCUA_ZALO_BOT_TOKEN":          zalotest.Token,
		"GOCUA_ZALO_BOT_WEBHOOK_SECRET": zaloSecret,
		"GOCUA_ZALO_BOT_API_URL":        zb.URL(),
		"GOCUA_ZALO_OA_APP_ID":          oatest.AppID,
		"GOCUA_ZALO_OA_APP_SECRET":      oatest.AppSecret,
		"GOCUA_ZALO_OA_SECRET_KEY":      oatest.SecretKey,
		"GOCUA_ZALO_OA_REFRESH_TOKEN":   oatest.RefreshToken,
		"GOCUA_ZALO_OA_API_URL":         oas.URL(),
		"GOCUA_ZALO_OA_OAUTH_URL":       oas.URL(),
	}
	code, out, errs := runCLI(t, env, "webhook", "set")
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	calls := zb.CallsTo("setWebhook")
	if len(calls) != 1 || calls[0].Params["url"] != "https://bot.xa-abc.gov.vn/webhook/zalo-bot" || calls[0].Params["secret_token"] != zaloSecret {
		t.Fatalf("setWebhook calls %+v", calls)
	}
	for _, want := range []string{"zalo bot webhook set to https://bot.xa-abc.gov.vn/webhook/zalo-bot", "https://bot.xa-abc.gov.vn/webhook/zalo-oa"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errs, zaloSecret) || strings.Contains(out+errs, zalotest.Token) {
		t.Error("the output shows a secret")
	}
}

// A replica answers Zalo's webhook (the events are in the inbox) and dies:
// one event it never looked at, two its worker had taken and not finished.
// The next replica handles all three, once each: nothing acknowledged to
// Zalo is lost.
func TestZaloOAEventsOutliveTheReplicaThatTookThem(t *testing.T) {
	h := startZalo(t, withMain(func(m *Main) { m.inboxOff = true }))
	user := newOAUser()
	var last time.Time
	for i, text := range []string{"/start", "/help", "/lang"} {
		last = oaAt()
		if code := oatest.Post(t, h.url+oa.WebhookPath, oatest.UserText(user, "crash-"+strconv.Itoa(i), text, last)); code != http.StatusOK {
			t.Fatalf("webhook answered %d", code)
		}
	}
	// its worker had taken the first two when it died
	taken, err := h.main.Redis.InboxRead(context.Background(), bot.ChannelZaloOA, "replica-that-died", 2, 0, 0)
	if err != nil || len(taken) != 2 {
		t.Fatalf("took %d entries, %v", len(taken), err)
	}
	if err := h.main.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(h.oa.Sent(user)); n != 0 {
		t.Fatalf("%d replies before any replica handled the events", n)
	}
	addr := freeAddr(t)
	c := start(t, h.api, append(slices.Clone(h.opts), withEnv("GOCUA_HTTP_ADDR", addr), withEnv("GOCUA_PUBLIC_URL", "http://"+addr),
		withMain(func(m *Main) { m.inboxOff, m.OAReclaim = false, 300*time.Millisecond }))...)
	k := bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: user}
	c.waitSeq(k, last.UnixMilli())
	waitUntil(t, 20*time.Second, "all three answered", func() bool {
		sent := h.oa.Sent(user)
		return countOA(sent, plain(c.main.Flows.Text("vi", "help", nil))) == 1 && countOA(sent, plain(c.main.Flows.Text("vi", "lang_prompt", nil))) == 1 &&
			countOA(sent, "Tổ công nghệ số cộng đồng") == 1
	})
	time.Sleep(500 * time.Millisecond) // a second handling would show now
	sent := h.oa.Sent(user)
	if n := countOA(sent, plain(c.main.Flows.Text("vi", "help", nil))); n != 1 {
		t.Fatalf("/help answered %d times", n)
	}
}

func countOA(msgs []oatest.SentMessage, want string) int {
	n := 0
	for _, m := range msgs {
		if strings.Contains(m.Text, want) {
			n++
		}
	}
	return n
}

// Both Zalo channels work on the embedded default too: the OA's tokens in
// the SQLite file, its inbox and the bot's menus in the in-process Redis.
func TestZaloOnTheEmbeddedDefault(t *testing.T) {
	zb, oas := zalotest.New(t), oatest.New(t)
	env := map[string]string{"GOCUA_DATA_DIR": t.TempDir()}
	var tune []func(*Main)
	for _, o := range zaloOptions(t, zb, oas) {
		o(env, &tune)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	var banner bytes.Buffer
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	m.Out = &banner
	for _, f := range tune {
		f(m)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if !m.Embedded.Database || !m.Embedded.Redis {
		t.Fatalf("embedded = %+v, want both", m.Embedded)
	}
	for _, want := range []string{"zalo bot     on: POST /webhook/zalo-bot", "zalo oa      on: POST /webhook/zalo-oa"} {
		if !strings.Contains(banner.String(), want) {
			t.Errorf("banner does not say %q:\n%s", want, banner.String())
		}
	}
	base := "http://" + m.Addr
	chat := newZaloChat()
	if code, err := zalotest.PostURL(context.Background(), nil, base+zalo.WebhookPath, zaloSecret, zalotest.Text("emb-1", chat, "/start").Body()); err != nil || code != http.StatusOK {
		t.Fatalf("zalo bot webhook %d %v", code, err)
	}
	user := newOAUser()
	if code := oatest.Post(t, base+oa.WebhookPath, oatest.UserText(user, "emb-oa-1", "/start", oaAt())); code != http.StatusOK {
		t.Fatalf("zalo oa webhook %d", code)
	}
	menu := plain(m.Flows.Text("vi", "menu", nil))
	waitUntil(t, 10*time.Second, "both residents to get the menu", func() bool {
		var onBot, onOA bool
		for _, s := range zb.Sent(chat) {
			onBot = onBot || strings.Contains(s.Text, menu)
		}
		for _, s := range oas.Sent(user) {
			onOA = onOA || strings.Contains(s.Text, menu)
		}
		return onBot && onOA
	})
	// the numbered answer reaches the core as the menu's button
	if code, err := zalotest.PostURL(context.Background(), nil, base+zalo.WebhookPath, zaloSecret,
		zalotest.Update{Event: zalotest.EventText, MessageID: "emb-2", ChatID: chat, Text: "1", Date: time.Now().UnixMilli()}.Body()); err != nil || code != http.StatusOK {
		t.Fatalf("zalo bot webhook %d %v", code, err)
	}
	waitUntil(t, 10*time.Second, "the first guide to open", func() bool {
		conv, _, err := m.Redis.Load(context.Background(), bot.ConvKey{Channel: bot.ChannelZaloBot, ChatID: chat}, "")
		return err == nil && conv.Flow.Flow != ""
	})
	if tok, err := m.DB.Token(context.Background(), "zalo-oa:"+oatest.AppID); err != nil || tok.Access == "" || tok.Refresh != oas.CurrentRefreshToken() {
		t.Fatalf("the SQLite file keeps %+v, %v", tok, err)
	}
}

// With the Zalo OA on, a broadcast photo the OA would refuse (over 1 MiB)
// is refused when the broadcast is made, not at each OA resident.
func TestBroadcastPhotoTheOARefuses(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 700, 700))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(rng.Uint32()) // noise: PNG cannot make it small
	}
	var big bytes.Buffer
	if err := png.Encode(&big, img); err != nil {
		t.Fatal(err)
	}
	if big.Len() <= oa.MaxImage || big.Len() > bot.MaxUpload {
		t.Fatalf("test photo of %d bytes", big.Len())
	}
	path := filepath.Join(dir, "poster.png")
	if err := os.WriteFile(path, big.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GOCUA_DATA_DIR": dir}
	args := []string{"broadcast", "create", "--text", "Thứ Bảy hỗ trợ cài VNeID", "--image", path, "--now"}
	if code, out, errs := runCLI(t, env, args...); code != 0 {
		t.Fatalf("without the OA the photo is fine: %d %s %s", code, out, errs)
	}
	for k, v := range map[string]string{"GOCUA_ZALO_OA_APP_ID": oatest.AppID, "GOCUA_ZALO_OA_APP_SECRET": oatest.AppSecret,
		"GOCUA_ZALO_OA_SECRET_KEY": oatest.SecretKey, "GOCUA_ZALO_OA_REFRESH_TOKEN": oatest.RefreshToken} {
		env[k] = v
	}
	code, _, errs := runCLI(t, env, args...)
	if code == 0 || !strings.Contains(errs, "Zalo OA takes JPEG or PNG photos of at most 1 MiB") {
		t.Fatalf("with the OA on: exit %d, %s", code, errs)
	}
}
