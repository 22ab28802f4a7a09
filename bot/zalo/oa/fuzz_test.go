package oa

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

// eventSeeds are webhook bodies a fuzzer starts from: every kind gocua
// reads, kinds it ignores, and broken ones.
func eventSeeds() [][]byte {
	at := time.UnixMilli(1700000000000)
	u := oatest.UserID(1)
	seeds := [][]byte{
		oatest.UserText(u, "m1", "Tôi cần hỏi về CCCD", at),
		oatest.UserText(u, "m2", "#gc:s:ABC", at),
		oatest.UserText(u, "m3", "/start  install_vneid", at),
		oatest.UserText(u, "m4", "\u0000\u202e\u200b#gc:", at),
		oatest.UserImage(u, "m5", "https://f6.photo.talk.zdn.vn/a.jpg", "ảnh", at),
		oatest.UserLink(u, "m6", "https://dichvucong.gov.vn", "xem", at),
		oatest.UserSticker(u, "m7", at),
		oatest.UserGIF(u, "m8", at),
		oatest.UserFile(u, "m9", "https://f.zdn.vn/a.pdf", "đơn.pdf", 10, at),
		oatest.UserAudio(u, "m10", "https://v.zdn.vn/a.amr", at),
		oatest.UserVideo(u, "m11", "https://v.zdn.vn/a.mp4", at),
		oatest.UserLocation(u, "m12", 10.8, 106.6, at),
		oatest.Follow(u, at),
		oatest.Unfollow(u, at),
		oatest.SubmitInfo(u, "Lan", "+84 912-345-678", at),
		oatest.OAText(u, "e1", "Chào Bác", at),
		oatest.Seen(u, []string{"a"}, at),
	}
	for _, s := range []string{
		`{"app_id":"1","event_name":"user_send_text","timestamp":"1700000000000","sender":{"id":9007199254740993123},"message":{"msg_id":"x","text":"a"}}`,
		`{"app_id":"1","event_name":"user_send_image","timestamp":"1","sender":{"id":"1"},"message":{"attachments":[{"payload":{"url":"http://[::1]:80/x"}},{"payload":null},{}]}}`,
		`{"app_id":"1","event_name":"user_send_file","timestamp":"1","sender":{"id":"1"},"message":{"attachments":[{"payload":{"url":"https://a/b","size":"99999999999999999999","name":"\u202e"}}]}}`,
		`{"app_id":"1","event_name":"oa_send_text","timestamp":"1","sender":"x","recipient":{"id":["1"]},"message":7}`,
		`{"app_id":"1","event_name":"follow","timestamp":"9223372036854775807","follower":{"id":"` + strings.Repeat("9", 70) + `"}}`,
		`{"app_id":"1","event_name":"user_submit_info","timestamp":"1","sender":{"id":"1"},"info":{"phone":"++++++","name":"\n\t"}}`,
		`{"app_id":1.5e3,"event_name":"x","timestamp":-1}`, `{"app_id":"1","event_name":"","timestamp":""}`,
		`{"app_id":"0","event_name":"user_send_a 000","sender":{"id":"0"},"timestamp":"0"}`,
		`{}`, `[]`, `null`, `{`, ``, `{"app_id":"1"} trailing`, "{\"app_id\":\"1\",\"event_name\":\"user_send_text\",\"timestamp\":\"1\",\"sender\":{\"id\":\"1\"},\"message\":{\"text\":\"\xff\xfe\"}}",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// The event decoder never panics, and what it accepts is what the core and
// the inbox expect.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := decodeEvent(body)
		if err != nil {
			return
		}
		for _, oaID := range []string{"", oatest.OAID} {
			ins, _ := convert(ev, oaID)
			for _, in := range ins {
				checkInbound(t, in, ins[0].Key)
			}
			if len(ins) == 0 {
				continue
			}
			data, err := encodeEntry(ins)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			back, err := decodeEntry(data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for i := range back {
				if !back[i].At.Equal(ins[i].At) {
					t.Fatalf("time changed in the inbox: %v / %v", ins[i].At, back[i].At)
				}
				back[i].At = ins[i].At
			}
			if !reflect.DeepEqual(back, ins) {
				t.Fatalf("inbox changed the updates:\n %+v\n %+v", ins, back)
			}
		}
	})
}

// checkInbound asserts what convert promises about an Inbound.
func checkInbound(t *testing.T, in bot.Inbound, first bot.ConvKey) {
	t.Helper()
	if in.Key.Channel != bot.ChannelZaloOA || !validID(in.Key.ChatID) || in.Key != first {
		t.Fatalf("bad key %+v", in.Key)
	}
	if in.UpdateID == "" || !utf8.ValidString(in.UpdateID) || strings.ContainsAny(in.UpdateID, " \n\t") {
		t.Fatalf("update id %q", in.UpdateID)
	}
	if _, ok := kindNames[in.Kind]; !ok {
		t.Fatalf("kind %d", in.Kind)
	}
	strs := map[string]string{"text": in.Text, "data": in.Data, "command": in.Command, "args": in.Args, "name": in.Name, "user": in.UserID}
	if m := in.Media; m != nil {
		strs["file name"], strs["ref"] = m.Name, m.Ref
		if m.Kind.Relayable() && (!strings.HasPrefix(m.Ref, RefPrefix) || cleanURL(strings.TrimPrefix(m.Ref, RefPrefix)) == "") {
			t.Fatalf("relayable media with ref %q", m.Ref)
		}
		if m.Size < 0 {
			t.Fatalf("size %d", m.Size)
		}
	}
	if in.Kind == bot.InMedia && in.Media == nil {
		t.Fatal("InMedia without Media")
	}
	if in.Kind == bot.InButton && strings.TrimSpace(in.Data) == "" {
		t.Fatal("a tap without data")
	}
	if c := in.Contact; c != nil {
		if len(c.Phone) < 6 || len(c.Phone) > 20 || strings.Trim(c.Phone, "+0123456789") != "" {
			t.Fatalf("phone %q", c.Phone)
		}
	}
	for name, s := range strs {
		if !utf8.ValidString(s) || s != bot.CleanText(s) && name != "ref" {
			t.Fatalf("%s %q is not clean", name, s)
		}
	}
	if strings.ContainsAny(in.Name, "\n\t") {
		t.Fatalf("name %q spans lines", in.Name)
	}
}

// Verify never panics and accepts only the right MAC.
func FuzzVerify(f *testing.F) {
	at := time.UnixMilli(1700000000000)
	body := oatest.UserText(oatest.UserID(1), "m1", "chào", at)
	ts := oatest.Millis(at)
	good := oatest.Sign(oatest.AppID, body, ts, oatest.SecretKey)
	for _, h := range []string{"mac=" + good, good, strings.ToUpper(good), "", "mac=", "MAC=" + good[:10], strings.Repeat("0", 64), "mac=" + good + "\x00"} {
		f.Add(body, ts, h)
	}
	f.Add([]byte{}, "", "mac="+oatest.Sign(oatest.AppID, nil, "", oatest.SecretKey))
	f.Fuzz(func(t *testing.T, body []byte, ts, header string) {
		want := mac(oatest.AppID, body, ts, oatest.SecretKey)
		if Verify(oatest.AppID, body, ts, oatest.SecretKey, header) {
			got := strings.TrimSpace(header)
			if len(got) >= 4 && strings.EqualFold(got[:4], "mac=") {
				got = got[4:]
			}
			if strings.ToLower(got) != want {
				t.Fatalf("accepted %q for mac %s", header, want)
			}
		}
		if !Verify(oatest.AppID, body, ts, oatest.SecretKey, "mac="+want) || !Verify(oatest.AppID, body, ts, oatest.SecretKey, want) {
			t.Fatal("the right mac is refused")
		}
		if Verify(oatest.AppID, body, ts, oatest.AppSecret, "mac="+want) {
			t.Fatal("accepted with another key")
		}
	})
}
