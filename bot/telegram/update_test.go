package telegram

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// convertBody decodes and converts one webhook body as the webhook does.
func convertBody(t *testing.T, body string, pc parseConfig) (bot.Inbound, bool) {
	t.Helper()
	u, err := decodeUpdate([]byte(body))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return convert(u, time.Unix(1700000500, 0), pc)
}

func TestConvertMedia(t *testing.T) {
	msg := func(fields string) string {
		return `{"update_id":70,"message":{"message_id":1,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},` + fields + `}}`
	}
	longID := strings.Repeat("A", maxFileID+1)
	hugeCaption := strings.Repeat("ảnh lỗi 🙂 ", 20000)
	tests := []struct {
		name     string
		fields   string
		wantKind bot.InboundKind
		text     string
		media    *bot.Media
	}{
		{"largest photo size, whatever the order",
			`"photo":[{"file_id":"small","width":90,"height":60,"file_size":900},{"file_id":"big","width":1280,"height":960,"file_size":99000},{"file_id":"mid","width":320,"height":240,"file_size":9000}]`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:big", Size: 99000}},
		{"photo with a caption stays InMedia",
			`"photo":[{"file_id":"AgAC-x_1","width":1,"height":1}],"caption":"l\u0000ỗi\u202e này"`,
			bot.InMedia, "lỗi này", &bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:AgAC-x_1"}},
		{"photo without sizes", `"photo":[]`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"photo in an unexpected shape", `"photo":{"file_id":"x"}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"document",
			`"document":{"file_id":"BQAC","file_unique_id":"u","file_name":"đơn xin\n\u202egpj.pdf\u0000","mime_type":"Application/PDF","file_size":123456}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaDocument, Ref: "telegram:BQAC", Name: "đơn xin gpj.pdf", MIME: "application/pdf", Size: 123456}},
		{"document with a bad MIME type and a negative size",
			`"document":{"file_id":"BQAC","mime_type":"not a mime","file_size":-5}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaDocument, Ref: "telegram:BQAC"}},
		{"document without file_id", `"document":{"file_name":"a.pdf"}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"file_id with odd characters", `"document":{"file_id":"ảnh/../x"}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"file_id too long", `"voice":{"file_id":"` + longID + `"}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"voice", `"voice":{"file_id":"AwAC","duration":3,"mime_type":"audio/ogg","file_size":4000}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaVoice, Ref: "telegram:AwAC", MIME: "audio/ogg", Size: 4000}},
		{"audio", `"audio":{"file_id":"CQAC","duration":3,"file_name":"bai hat.mp3","mime_type":"audio/mpeg"}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaAudio, Ref: "telegram:CQAC", Name: "bai hat.mp3", MIME: "audio/mpeg"}},
		{"video", `"video":{"file_id":"BAAC","width":1,"height":1,"duration":1,"file_size":7}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaVideo, Ref: "telegram:BAAC", Size: 7}},
		{"video note is a video", `"video_note":{"file_id":"DQAC","length":1,"duration":1}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaVideo, Ref: "telegram:DQAC"}},
		{"sticker", `"sticker":{"file_id":"CAAC","type":"regular","width":1,"height":1,"is_animated":false,"is_video":false}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaSticker, Ref: "telegram:CAAC"}},
		{"sticker without file_id", `"sticker":{}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaSticker}},
		{"location", `"location":{"latitude":10.77,"longitude":106.7}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaLocation}},
		{"contact", `"contact":{"phone_number":"0901234567","first_name":"Lan"}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaContact}},
		{"animation, also described as a document", `"animation":{"file_id":"CgAC","width":1,"height":1,"duration":1},"document":{"file_id":"CgAC"}`,
			bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"dice", `"dice":{"emoji":"🎲","value":3}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"a kind Telegram adds later", `"some_future_attachment":{"x":1},"caption":"xem"`, bot.InMedia, "xem", &bot.Media{Kind: bot.MediaOther}},
		{"text that cleaning empties", `"text":"\u0000\u200b"`, bot.InMedia, "", &bot.Media{Kind: bot.MediaOther}},
		{"huge caption passes cleaned, never cut", `"photo":[{"file_id":"p","width":1,"height":1}],"caption":"` + hugeCaption + `\u0007"`,
			bot.InMedia, hugeCaption, &bot.Media{Kind: bot.MediaPhoto, Ref: "telegram:p"}},
		{"plain text has no media", `"text":"xin chào"`, bot.InText, "xin chào", nil},
		{"location with a null photo", `"photo":null,"location":{"latitude":1,"longitude":2}`, bot.InMedia, "", &bot.Media{Kind: bot.MediaLocation}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ok := convertBody(t, msg(tt.fields), fuzzParse)
			if !ok {
				t.Fatal("not converted")
			}
			if in.Kind != tt.wantKind || in.Text != tt.text {
				t.Fatalf("kind %v text %.40q, want %v %.40q", in.Kind, in.Text, tt.wantKind, tt.text)
			}
			if !reflect.DeepEqual(in.Media, tt.media) {
				t.Fatalf("media %+v, want %+v", in.Media, tt.media)
			}
		})
	}
}

func TestConvertReplyTo(t *testing.T) {
	const botFrom = `"from":{"id":123456789,"is_bot":true,"first_name":"gocua"}`
	msg := func(reply string) string {
		return `{"update_id":71,"message":{"message_id":3,"date":1700000000,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"text":"dạ vâng","reply_to_message":` + reply + `}}`
	}
	tests := []struct{ name, reply, want string }{
		{"the bot's text", `{"message_id":2,"date":1,"chat":{"id":42,"type":"private"},` + botFrom + `,"text":"#12 · Bác\u202e cần gì?\u0000"}`, "#12 · Bác cần gì?"},
		{"the bot's caption", `{"message_id":2,"date":1,"chat":{"id":42,"type":"private"},` + botFrom + `,"photo":[{"file_id":"p","width":1,"height":1}],"caption":"#13 · ảnh"}`, "#13 · ảnh"},
		{"text that cleaning empties falls back to the caption", `{"message_id":2,` + botFrom + `,"text":"\u0000","caption":"#14"}`, "#14"},
		{"someone else's message", `{"message_id":2,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Lan"},"text":"#12 · giả"}`, ""},
		{"no sender", `{"message_id":2,"date":1,"chat":{"id":42,"type":"private"},"text":"#12"}`, ""},
		{"an unexpected shape", `"#12"`, ""},
		{"null", `null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, ok := convertBody(t, msg(tt.reply), fuzzParse)
			if !ok || in.Kind != bot.InText || in.Text != "dạ vâng" {
				t.Fatalf("converted %v: %+v", ok, in)
			}
			if in.ReplyTo != tt.want {
				t.Fatalf("ReplyTo %q, want %q", in.ReplyTo, tt.want)
			}
		})
	}
	// Without a bot id (a token that does not say) nothing is the bot's.
	in, _ := convertBody(t, msg(`{"message_id":2,`+botFrom+`,"text":"#12"}`), parseConfig{})
	if in.ReplyTo != "" {
		t.Fatalf("ReplyTo %q without a bot id", in.ReplyTo)
	}
}

func TestConvertVolunteerTaps(t *testing.T) {
	tap := func(chatID, chatType, data string) string {
		return `{"update_id":72,"callback_query":{"id":"qv","from":{"id":7,"is_bot":false,"first_name":"Minh\u202e","last_name":"Trần","language_code":"vi"},"chat_instance":"c","data":"` + data + `","message":{"message_id":5,"date":1,"chat":{"id":` + chatID + `,"type":"` + chatType + `"},"text":"#12"}}}`
	}
	pc := parseConfig{volunteerChat: -1001234, botID: 123456789}
	want := bot.Inbound{
		Key: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "-1001234"}, UpdateID: "72", Seq: 72, GlobalSeq: true,
		Kind: bot.InButton, Data: "t:12:claim", UserID: "7", Name: "Minh Trần", LangHint: "vi", At: time.Unix(1700000500, 0),
	}
	for _, typ := range []string{"supergroup", "group"} {
		in, ok := convertBody(t, tap("-1001234", typ, `t:12:cl\u0000aim`), pc)
		if !ok || !reflect.DeepEqual(in, want) {
			t.Fatalf("%s tap: %v %+v\nwant %+v", typ, ok, in, want)
		}
	}
	ignored := []struct{ name, body string }{
		{"another group", tap("-1009999", "supergroup", "t:12:claim")},
		{"the volunteers' id as a channel", tap("-1001234", "channel", "t:12:claim")},
		{"no data left", tap("-1001234", "supergroup", `\u0000`)},
		{"a message in the volunteers' group", `{"update_id":73,"message":{"message_id":1,"date":1,"chat":{"id":-1001234,"type":"supergroup"},"from":{"id":7,"is_bot":false,"first_name":"M"},"text":"nhận #12"}}`},
		{"an edit in the volunteers' group", `{"update_id":74,"edited_message":{"message_id":1,"date":1,"chat":{"id":-1001234,"type":"supergroup"},"text":"x"}}`},
		// a private chat's id is its user's, above 0 (found by FuzzDecodeUpdate's long run)
		{"a private chat with a group's id", `{"update_id":75,"message":{"message_id":1,"date":1,"chat":{"id":-1001234,"type":"private"},"text":"x"}}`},
		{"a private chat with id 0", `{"update_id":76,"message":{"message_id":1,"date":1,"chat":{"id":0,"type":"private"},"text":"x"}}`},
		{"a private tap with a group's id", tap("-1001234", "private", "t:12:claim")},
		{"a block in a private chat with a group's id", `{"update_id":77,"my_chat_member":{"chat":{"id":-5,"type":"private"},"from":{"id":7,"is_bot":false,"first_name":"M"},"date":1,"old_chat_member":{"status":"member","user":{"id":1,"is_bot":true,"first_name":"b"}},"new_chat_member":{"status":"kicked","user":{"id":1,"is_bot":true,"first_name":"b"}}}}`},
	}
	for _, tt := range ignored {
		if in, ok := convertBody(t, tt.body, pc); ok {
			t.Errorf("%s: converted to %+v", tt.name, in)
		}
	}
	if in, ok := convertBody(t, tap("-1001234", "supergroup", "t:12:claim"), parseConfig{}); ok {
		t.Errorf("group tap converted without a volunteers' group: %+v", in)
	}
}
