package oa

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

// Every event kind the webhook handles becomes the right Inbound(s) in the
// inbox.
func TestEventKinds(t *testing.T) {
	user := oatest.UserID(42)
	at := time.Now().Truncate(time.Millisecond)
	ms := at.UnixMilli()
	ts := oatest.Millis(at)
	base := func(id string) bot.Inbound {
		return bot.Inbound{Key: key(user), UpdateID: id, Seq: ms, UserID: user, At: time.UnixMilli(ms)}
	}
	with := func(in bot.Inbound, f func(*bot.Inbound)) bot.Inbound { f(&in); return in }
	img := "https://f6.photo.talk.zdn.vn/1/a.jpg"
	tests := []struct {
		name string
		body []byte
		want []bot.Inbound
	}{
		{"text", oatest.UserText(user, "m1", "Tôi cần hỏi về CCCD", at), []bot.Inbound{with(base("m1"), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "Tôi cần hỏi về CCCD"
		})}},
		{"text is cleaned", oatest.UserText(user, "m2", "ma\u0303 \u202eOTP\u0000", at), []bot.Inbound{with(base("m2"), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "mã OTP"
		})}},
		{"button tap", oatest.UserText(user, "m3", "#gc:s:ABC", at), []bot.Inbound{with(base("m3"), func(in *bot.Inbound) {
			in.Kind, in.Data = bot.InButton, "s:ABC"
		})}},
		{"empty button payload is text", oatest.UserText(user, "m4", "#gc:", at), []bot.Inbound{with(base("m4"), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "#gc:"
		})}},
		{"command", oatest.UserText(user, "m5", "/Start  install_vneid", at), []bot.Inbound{with(base("m5"), func(in *bot.Inbound) {
			in.Kind, in.Command, in.Args = bot.InCommand, "start", "install_vneid"
		})}},
		{"only control characters", oatest.UserText(user, "m6", "\u0000\u200b", at), []bot.Inbound{with(base("m6"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
		})}},
		{"image with caption", oatest.UserImage(user, "m7", img, "ảnh CCCD", at), []bot.Inbound{with(base("m7"), func(in *bot.Inbound) {
			in.Kind, in.Text, in.Media = bot.InMedia, "ảnh CCCD", &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-oa:" + img}
		})}},
		{"two images", oatest.Message("user_send_image", user, map[string]any{"msg_id": "m8", "text": "hai ảnh", "attachments": []any{
			map[string]any{"type": "image", "payload": map[string]any{"url": img}},
			map[string]any{"type": "image", "payload": map[string]any{"url": img + "?2"}},
		}}, at), []bot.Inbound{
			with(base("m8"), func(in *bot.Inbound) {
				in.Kind, in.Text, in.Media = bot.InMedia, "hai ảnh", &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-oa:" + img}
			}),
			with(base("m8#2"), func(in *bot.Inbound) {
				in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaPhoto, Ref: "zalo-oa:" + img + "?2"}
			}),
		}},
		{"image with an unusable address", oatest.UserImage(user, "m9", "javascript:alert(1)", "", at), []bot.Inbound{with(base("m9"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
		})}},
		{"image in an unexpected shape", oatest.Message("user_send_image", user, map[string]any{"msg_id": "m10", "text": "x", "attachments": "nope"}, at),
			[]bot.Inbound{with(base("m10"), func(in *bot.Inbound) {
				in.Kind, in.Text, in.Media = bot.InMedia, "x", &bot.Media{Kind: bot.MediaOther}
			})}},
		{"link", oatest.UserLink(user, "m11", "https://dichvucong.gov.vn/p/home", "xem giúp", at), []bot.Inbound{with(base("m11"), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "xem giúp\nhttps://dichvucong.gov.vn/p/home"
		})}},
		{"link in its text", oatest.UserLink(user, "m12", "https://vneid.gov.vn", "https://vneid.gov.vn", at), []bot.Inbound{with(base("m12"), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "https://vneid.gov.vn"
		})}},
		{"sticker", oatest.UserSticker(user, "m13", at), []bot.Inbound{with(base("m13"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaSticker}
		})}},
		{"gif", oatest.UserGIF(user, "m14", at), []bot.Inbound{with(base("m14"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaSticker}
		})}},
		{"file", oatest.UserFile(user, "m15", "https://f.zdn.vn/don.pdf", "đơn\u202e.pdf", 12345, at), []bot.Inbound{with(base("m15"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaDocument, Ref: "zalo-oa:https://f.zdn.vn/don.pdf", Name: "đơn.pdf", Size: 12345}
		})}},
		{"voice", oatest.UserAudio(user, "m16", "https://v.zdn.vn/a.amr", at), []bot.Inbound{with(base("m16"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaVoice, Ref: "zalo-oa:https://v.zdn.vn/a.amr"}
		})}},
		{"video", oatest.UserVideo(user, "m17", "https://v.zdn.vn/b.mp4", at), []bot.Inbound{with(base("m17"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaVideo, Ref: "zalo-oa:https://v.zdn.vn/b.mp4"}
		})}},
		{"location", oatest.UserLocation(user, "m18", 10.8231, 106.6297, at), []bot.Inbound{with(base("m18"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaLocation}
		})}},
		{"business card", oatest.Message("user_send_business_card", user, map[string]any{"msg_id": "m19", "attachments": []any{}}, at), []bot.Inbound{with(base("m19"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaContact}
		})}},
		{"a message kind Zalo adds later", oatest.Message("user_send_hologram", user, map[string]any{"msg_id": "m20"}, at), []bot.Inbound{with(base("m20"), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaOther}
		})}},
		{"message without msg_id", oatest.Message("user_send_text", user, map[string]any{"text": "chào"}, at), []bot.Inbound{with(base("user_send_text:"+user+":"+ts), func(in *bot.Inbound) {
			in.Kind, in.Text = bot.InText, "chào"
		})}},
		{"follow", oatest.Follow(user, at), []bot.Inbound{with(base("follow:"+user+":"+ts), func(in *bot.Inbound) {
			in.Kind, in.Command = bot.InCommand, "start"
		})}},
		{"unfollow", oatest.Unfollow(user, at), []bot.Inbound{with(base("unfollow:"+user+":"+ts), func(in *bot.Inbound) {
			in.Kind = bot.InBlocked
		})}},
		{"submitted info", oatest.SubmitInfo(user, " Nguyễn  Văn A ", "84 912 345 678", at), []bot.Inbound{with(base("user_submit_info:"+user+":"+ts), func(in *bot.Inbound) {
			in.Kind, in.Name, in.Media = bot.InMedia, "Nguyễn Văn A", &bot.Media{Kind: bot.MediaContact}
			in.Contact = &bot.Contact{Phone: "84912345678", Own: true}
		})}},
		{"submitted info without a phone", oatest.SubmitInfo(user, "", "", at), []bot.Inbound{with(base("user_submit_info:"+user+":"+ts), func(in *bot.Inbound) {
			in.Kind, in.Media = bot.InMedia, &bot.Media{Kind: bot.MediaContact}
		})}},
		{"echo of the OA's message", oatest.OAText(user, "e1", "Chào Bác", at), []bot.Inbound{with(base("e1"), func(in *bot.Inbound) {
			in.Kind, in.Text, in.UserID = bot.InTakeover, "Chào Bác", oatest.OAID
		})}},
		{"echo of an image", oatest.Message("oa_send_image", user, map[string]any{"msg_id": "e2", "attachments": []any{}}, at), []bot.Inbound{with(base("e2"), func(in *bot.Inbound) {
			in.Kind, in.UserID = bot.InTakeover, oatest.OAID
		})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, nil)
			f.clock.t = at
			if got := f.post(t, tt.body); got != 200 {
				t.Fatalf("status %d", got)
			}
			q := f.queuedInbounds(t)
			if len(q) != 1 {
				t.Fatalf("%d entries queued, want 1", len(q))
			}
			if !reflect.DeepEqual(q[0], tt.want) {
				t.Fatalf("queued\n %+v\nwant\n %+v", q[0], tt.want)
			}
			if m := q[0][0].Media; m != nil && m.Kind.Relayable() && m.Ref == "" {
				t.Fatalf("relayable media without a ref: %+v", m)
			}
		})
	}
}

// Zalo's ids have 19 digits, more than float64 keeps: they reach the core
// exactly, whether sent as strings or as numbers.
func TestBigIDsRoundTrip(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.run(t)
	now := f.clock.Now()
	const user = "9007199254740993123" // 2^53+1 followed by digits: a float64 would round it
	f.post(t, oatest.UserText(user, "m1", "chào", now))
	asNumber := bytes.Replace(oatest.UserText(user, "m2", "lần hai", now.Add(time.Millisecond)),
		[]byte(`"sender":{"id":"`+user+`"}`), []byte(`"sender":{"id":`+user+`}`), 1)
	if !bytes.Contains(asNumber, []byte(`{"id":`+user+`}`)) {
		t.Fatalf("body %s", asNumber)
	}
	f.post(t, asNumber)
	f.post(t, oatest.Follow(user, now.Add(2*time.Millisecond)))
	got := f.rec.wait(t, 3)
	for _, in := range got {
		if in.Key.ChatID != user || in.UserID != user {
			t.Fatalf("id changed on the way: %+v", in)
		}
	}
}

// A follower is welcomed; one who unfollows is marked unreachable.
func TestFollowUnfollow(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.run(t)
	user := oatest.UserID(5)
	now := f.clock.Now()
	f.post(t, oatest.Follow(user, now))
	f.post(t, oatest.Unfollow(user, now.Add(time.Second)))
	f.post(t, oatest.Follow(user, now.Add(2*time.Second)))
	got := f.rec.wait(t, 3)
	kinds := []bot.InboundKind{got[0].Kind, got[1].Kind, got[2].Kind}
	if !reflect.DeepEqual(kinds, []bot.InboundKind{bot.InCommand, bot.InBlocked, bot.InCommand}) || got[0].Command != "start" {
		t.Fatalf("got %+v", got)
	}
	if got[0].UpdateID == got[2].UpdateID {
		t.Fatal("a second follow has the first one's update id")
	}
}
