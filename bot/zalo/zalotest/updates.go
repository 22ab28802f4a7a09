package zalotest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
)

// Webhook bodies for tests, as Zalo posts them.

// Event names.
const (
	EventText        = "message.text.received"
	EventImage       = "message.image.received"
	EventSticker     = "message.sticker.received"
	EventVoice       = "message.voice.received"
	EventUnsupported = "message.unsupported.received"
)

// SecretHeader carries the webhook secret.
const SecretHeader = "X-Bot-Api-Secret-Token"

// DefaultDate is the date events carry unless set, in epoch milliseconds
// (the official sample's).
const DefaultDate = 1750316131602

// Update is one webhook event. Zero fields are left out of the body, except
// that a text event always carries text.
type Update struct {
	Event     string
	MessageID string
	ChatID    string
	ChatType  string // "PRIVATE" unless set
	FromID    string // ChatID unless set
	Name      string // from.display_name
	IsBot     bool
	Date      int64 // DefaultDate unless set; negative: no date
	Text      string
	Caption   string
	Photo     string // the photo's address under "photo" (the docs' name)
	PhotoURL  string // … under "photo_url" (what other clients read)
	Sticker   string
	URL       string // a sticker's (or voice's) address
	VoiceURL  string
	// Bare posts the event without the documented {ok, result} envelope.
	Bare bool
}

// Text is a text event from chatID's resident.
func Text(msgID, chatID, text string) Update {
	return Update{Event: EventText, MessageID: msgID, ChatID: chatID, Name: "Lan", Text: text}
}

// Image is an image event with its address under "photo" and a caption
// ("" for none).
func Image(msgID, chatID, photoURL, caption string) Update {
	return Update{Event: EventImage, MessageID: msgID, ChatID: chatID, Name: "Lan", Photo: photoURL, Caption: caption}
}

// Sticker is a sticker event.
func Sticker(msgID, chatID, stickerID, url string) Update {
	return Update{Event: EventSticker, MessageID: msgID, ChatID: chatID, Name: "Lan", Sticker: stickerID, URL: url}
}

// Voice is a voice event with its address under "voice_url".
func Voice(msgID, chatID, voiceURL string) Update {
	return Update{Event: EventVoice, MessageID: msgID, ChatID: chatID, Name: "Lan", VoiceURL: voiceURL}
}

// Unsupported is what Zalo sends instead of a protected resident's message.
func Unsupported(msgID, chatID string) Update {
	return Update{Event: EventUnsupported, MessageID: msgID, ChatID: chatID, Name: "Lan"}
}

// Body is the update as a webhook body.
func (u Update) Body() []byte {
	chatType := u.ChatType
	if chatType == "" {
		chatType = "PRIVATE"
	}
	from := u.FromID
	if from == "" {
		from = u.ChatID
	}
	msg := map[string]any{
		"message_id": u.MessageID,
		"from":       map[string]any{"id": from, "display_name": u.Name, "is_bot": u.IsBot},
		"chat":       map[string]any{"id": u.ChatID, "chat_type": chatType},
	}
	switch {
	case u.Date == 0:
		msg["date"] = int64(DefaultDate)
	case u.Date > 0:
		msg["date"] = u.Date
	}
	if u.Text != "" || u.Event == EventText {
		msg["text"] = u.Text
	}
	for k, v := range map[string]string{
		"caption": u.Caption, "photo": u.Photo, "photo_url": u.PhotoURL,
		"sticker": u.Sticker, "url": u.URL, "voice_url": u.VoiceURL,
	} {
		if v != "" {
			msg[k] = v
		}
	}
	ev := map[string]any{"event_name": u.Event, "message": msg}
	var v any = map[string]any{"ok": true, "result": ev}
	if u.Bare {
		v = ev
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values
	}
	return b
}

// Post sends body to h as Zalo would, with secret in SecretHeader ("" for
// no header), and returns the response.
func Post(h http.Handler, path, secret string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// PostURL sends body to a webhook address with c (nil: the default client)
// as Zalo would, and returns the HTTP status.
func PostURL(ctx context.Context, c *http.Client, url, secret string, body []byte) (int, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("zalotest: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("zalotest: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
