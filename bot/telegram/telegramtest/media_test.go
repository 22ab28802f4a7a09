package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

func TestSendMedia(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	kb := models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Nhận", CallbackData: "t:1:claim"}}}}
	photo, err := b.SendPhoto(ctx, &tgbot.SendPhotoParams{
		ChatID: 42, Photo: &models.InputFileString{Data: "AgAC-1_x"}, Caption: "ảnh <b>lỗi</b>", ParseMode: models.ParseModeHTML, ReplyMarkup: kb,
	})
	if err != nil {
		t.Fatal(err)
	}
	if photo.ID != 1 || len(photo.Photo) != 1 || photo.Photo[0].FileID != "AgAC-1_x" {
		t.Fatalf("answer %+v", photo)
	}
	doc, err := b.SendDocument(ctx, &tgbot.SendDocumentParams{
		ChatID: 42, Document: &models.InputFileUpload{Filename: "đơn.pdf", Data: bytes.NewReader([]byte("%PDF-1.4 bytes"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if doc.ID != 2 || doc.Document == nil || doc.Document.FileID == "" {
		t.Fatalf("answer %+v", doc)
	}
	for _, send := range []func() error{
		func() error {
			_, err := b.SendVoice(ctx, &tgbot.SendVoiceParams{ChatID: -100, Voice: &models.InputFileString{Data: "v"}})
			return err
		},
		func() error {
			_, err := b.SendAudio(ctx, &tgbot.SendAudioParams{ChatID: -100, Audio: &models.InputFileString{Data: "a"}})
			return err
		},
		func() error {
			_, err := b.SendVideo(ctx, &tgbot.SendVideoParams{ChatID: -100, Video: &models.InputFileString{Data: "vd"}})
			return err
		},
	} {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	media := s.MediaSent()
	if len(media) != 5 || len(s.Sent()) != 5 {
		t.Fatalf("media %+v", media)
	}
	p := media[0]
	if p.Method != "sendPhoto" || p.ChatID != "42" || p.Plain != "ảnh lỗi" || p.File.FileID != "AgAC-1_x" || p.File.Uploaded ||
		len(p.Keyboard) != 1 || p.Keyboard[0][0].CallbackData != "t:1:claim" {
		t.Fatalf("photo %+v %+v", p, p.File)
	}
	d := media[1]
	if d.Method != "sendDocument" || !d.File.Uploaded || d.File.Name != "đơn.pdf" || d.File.Size != 14 || string(d.File.Data) != "%PDF-1.4 bytes" || d.Text != "" {
		t.Fatalf("document %+v %+v", d, d.File)
	}
	// an upload can be fetched back by its new file_id
	f, err := b.GetFile(ctx, &tgbot.GetFileParams{FileID: d.File.FileID})
	if err != nil || f.FileSize != 14 {
		t.Fatalf("getFile %+v %v", f, err)
	}
	if ids := []int{media[2].MessageID, media[3].MessageID, media[4].MessageID}; ids[0] != 1 || ids[1] != 2 || ids[2] != 3 {
		t.Fatalf("group message ids %v, want 1 2 3 (per chat)", ids)
	}
	if media[2].Method != "sendVoice" || media[3].Method != "sendAudio" || media[4].Method != "sendVideo" {
		t.Fatalf("methods %+v", media[2:])
	}
}

func TestSendMediaRefusals(t *testing.T) {
	s := New(t)
	tests := []struct {
		name, method, body, want string
	}{
		{"caption over 1024 units", "sendPhoto", `{"chat_id":1,"photo":"x","caption":"` + strings.Repeat("🙂", 513) + `"}`, "caption is too long"},
		{"a ref, not a file_id", "sendPhoto", `{"chat_id":1,"photo":"telegram:x"}`, "wrong file identifier"},
		{"no file", "sendDocument", `{"chat_id":1}`, "there is no document"},
		{"no chat", "sendVoice", `{"voice":"x"}`, "chat_id is empty"},
		{"bad caption HTML", "sendVideo", `{"chat_id":1,"video":"x","caption":"<x>","parse_mode":"HTML"}`, "can't parse entities"},
		{"bad keyboard", "sendAudio", `{"chat_id":1,"audio":"x","reply_markup":{"inline_keyboard":[[{"text":"x"}]]}}`, "BUTTON_DATA_INVALID"},
	}
	for _, tt := range tests {
		code, out := call(t, s, tt.method, tt.body)
		if code != 400 || !strings.Contains(out["description"].(string), tt.want) {
			t.Errorf("%s: %d %v", tt.name, code, out)
		}
	}
	if code, _ := call(t, s, "sendPhoto", `{"chat_id":1,"photo":"x","caption":"`+strings.Repeat("🙂", 512)+`"}`); code != 200 {
		t.Fatalf("caption of exactly 1024 units: %d", code)
	}
	if n := len(s.Sent()); n != 1 {
		t.Fatalf("%d sent", n)
	}
}

func TestEditMessageText(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	m, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: -100, Text: "#12 chờ"})
	if err != nil {
		t.Fatal(err)
	}
	kb := models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Nhận", CallbackData: "t:12:claim"}}}}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: m.ID, Text: "#12 <b>đã nhận</b>", ParseMode: models.ParseModeHTML, ReplyMarkup: kb}); err != nil {
		t.Fatal(err)
	}
	// the same again is "not modified"; only the keyboard changing is an edit
	_, err = b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: m.ID, Text: "#12 <b>đã nhận</b>", ParseMode: models.ParseModeHTML, ReplyMarkup: kb})
	if err == nil || !strings.Contains(err.Error(), "message is not modified") {
		t.Fatalf("unchanged edit: %v", err)
	}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: m.ID, Text: "#12 <b>đã nhận</b>", ParseMode: models.ParseModeHTML}); err != nil {
		t.Fatalf("removing the keyboard: %v", err)
	}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: 99, Text: "x"}); err == nil || !strings.Contains(err.Error(), "message to edit not found") {
		t.Fatalf("unknown message: %v", err)
	}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -200, MessageID: m.ID, Text: "x"}); err == nil || !strings.Contains(err.Error(), "message to edit not found") {
		t.Fatalf("another chat's message: %v", err)
	}
	p, err := b.SendPhoto(ctx, &tgbot.SendPhotoParams{ChatID: -100, Photo: &models.InputFileString{Data: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: p.ID, Text: "x"}); err == nil || !strings.Contains(err.Error(), "no text") {
		t.Fatalf("editing a photo's text: %v", err)
	}
	e := s.Edits()
	if len(e) != 2 || e[0].ChatID != "-100" || e[0].MessageID != m.ID || e[0].Plain != "#12 đã nhận" || len(e[0].Keyboard) != 1 || e[1].Keyboard != nil {
		t.Fatalf("edits %+v", e)
	}
}

func TestAnswerCallbackQuery(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	if _, err := b.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: "q1", Text: "Đã nhận #12", ShowAlert: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: "q2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AnswerCallbackQuery(ctx, &tgbot.AnswerCallbackQueryParams{CallbackQueryID: "q3", Text: strings.Repeat("x", 201)}); err == nil {
		t.Fatal("201 characters accepted")
	}
	a := s.Answers()
	if len(a) != 2 || a[0] != (Answer{CallbackQueryID: "q1", Text: "Đã nhận #12", ShowAlert: true, At: a[0].At}) || a[1].Text != "" || a[1].ShowAlert {
		t.Fatalf("answers %+v", a)
	}
}

func TestGetFileAndDownload(t *testing.T) {
	s := New(t)
	b := client(t, s)
	ctx := context.Background()
	data := []byte("\x89PNG fake image")
	s.AddFile("AgAC", data)
	f, err := b.GetFile(ctx, &tgbot.GetFileParams{FileID: "AgAC"})
	if err != nil || f.FileSize != int64(len(data)) || f.FilePath == "" {
		t.Fatalf("getFile %+v %v", f, err)
	}
	resp, err := http.Get(b.FileDownloadLink(f))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download %d %q", resp.StatusCode, got)
	}
	if _, err := b.GetFile(ctx, &tgbot.GetFileParams{FileID: "nope"}); err == nil {
		t.Fatal("unknown file_id accepted")
	}
	s.AddFile("big", make([]byte, 20<<20+1))
	if _, err := b.GetFile(ctx, &tgbot.GetFileParams{FileID: "big"}); err == nil || !strings.Contains(err.Error(), "file is too big") {
		t.Fatalf("a file over 20 MB: %v", err)
	}
	for _, path := range []string{"/file/botWRONG/" + f.FilePath, "/file/bot" + Token + "/files/nope"} {
		resp, err := http.Get(s.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("%s served", path)
		}
	}
}

// Telegram's group limit counts every message to the group, media and edits
// included.
func TestGroupRateLimitCountsMediaAndEdits(t *testing.T) {
	s := New(t, WithGroupRateLimit(PerMinute(3)))
	b := client(t, s)
	ctx := context.Background()
	m, err := b.SendMessage(ctx, &tgbot.SendMessageParams{ChatID: -100, Text: "#1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: m.ID, Text: "#1 đã nhận"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendPhoto(ctx, &tgbot.SendPhotoParams{ChatID: -100, Photo: &models.InputFileString{Data: "x"}}); err != nil {
		t.Fatal(err)
	}
	_, err = b.EditMessageText(ctx, &tgbot.EditMessageTextParams{ChatID: -100, MessageID: m.ID, Text: "#1 xong"})
	var tmr *tgbot.TooManyRequestsError
	if !asTooMany(err, &tmr) || tmr.RetryAfter < 59 {
		t.Fatalf("fourth group call: %v", err)
	}
	if _, err := b.SendPhoto(ctx, &tgbot.SendPhotoParams{ChatID: -100, Photo: &models.InputFileString{Data: "x"}}); !asTooMany(err, &tmr) {
		t.Fatalf("fifth group call: %v", err)
	}
	if v := s.ViolationLog(); len(v) != 2 || v[0].Limit != "group" || v[0].ChatID != "-100" {
		t.Fatalf("violations %+v", v)
	}
	if len(s.Edits()) != 1 {
		t.Fatalf("edits %+v", s.Edits())
	}
	// private chats are not groups
	for range 5 {
		if _, err := b.SendPhoto(ctx, &tgbot.SendPhotoParams{ChatID: 42, Photo: &models.InputFileString{Data: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
}

func asTooMany(err error, target **tgbot.TooManyRequestsError) bool {
	t, ok := err.(*tgbot.TooManyRequestsError)
	if ok {
		*target = t
	}
	return ok
}

func TestUpdateBuilders(t *testing.T) {
	var u struct {
		UpdateID int64 `json:"update_id"`
		Message  *struct {
			Chat struct {
				ID   int64  `json:"id"`
				Type string `json:"type"`
			} `json:"chat"`
			Text    string `json:"text"`
			Caption string `json:"caption"`
			Photo   []struct {
				FileID string `json:"file_id"`
			} `json:"photo"`
		} `json:"message"`
		CallbackQuery *struct {
			ID      string `json:"id"`
			Data    string `json:"data"`
			Message struct {
				MessageID int `json:"message_id"`
				Chat      struct {
					ID   int64  `json:"id"`
					Type string `json:"type"`
				} `json:"chat"`
			} `json:"message"`
		} `json:"callback_query"`
	}
	if err := json.Unmarshal([]byte(PhotoMessage(5, 42, 42, "AgAC", `ảnh "lỗi"`)), &u); err != nil {
		t.Fatal(err)
	}
	if u.UpdateID != 5 || u.Message.Chat.Type != "private" || u.Message.Photo[0].FileID != "AgAC" || u.Message.Caption != `ảnh "lỗi"` {
		t.Fatalf("photo %+v", u.Message)
	}
	u.Message = nil
	if err := json.Unmarshal([]byte(Callback(6, -100, 7, 3, "t:1:claim")), &u); err != nil {
		t.Fatal(err)
	}
	q := u.CallbackQuery
	if q.ID != "q6" || q.Data != "t:1:claim" || q.Message.MessageID != 3 || q.Message.Chat.ID != -100 || q.Message.Chat.Type != "supergroup" {
		t.Fatalf("callback %+v", q)
	}
	if err := json.Unmarshal([]byte(TextMessage(7, 42, 42, "xin\nchào")), &u); err != nil || u.Message.Text != "xin\nchào" {
		t.Fatalf("text %+v %v", u.Message, err)
	}
}
