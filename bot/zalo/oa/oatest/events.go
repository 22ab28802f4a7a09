package oatest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Webhook bodies for tests, in the shapes Zalo documents (the image and
// follow events) or integrations describe (the other attachments). Ids are
// strings, the timestamp is epoch milliseconds as a string, and every
// event is for AppID and OAID.

// UserID is a 19-digit user id for test user n (0 ≤ n < 10^17): more digits
// than float64 keeps exactly, so an id that went through one shows.
func UserID(n int) string { return strconv.FormatInt(5_000_000_000_000_000_001+int64(n)*2, 10) }

// Millis is t as Zalo's timestamp string.
func Millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// byApp is the app-scoped id events carry besides the OA-scoped one.
func byApp(user string) string {
	if user == "" {
		return ""
	}
	return "7" + user[1:]
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values
	}
	return b
}

// Message is a message event: from a user to the OA (user_send_*) or, for
// oa_send_* events, from the OA to the user, with msg as its message.
func Message(event, user string, msg map[string]any, at time.Time) []byte {
	sender, recipient := user, OAID
	if strings.HasPrefix(event, "oa_send_") {
		sender, recipient = OAID, user
	}
	return marshal(map[string]any{
		"app_id": AppID, "user_id_by_app": byApp(user), "event_name": event, "timestamp": Millis(at),
		"sender": map[string]any{"id": sender}, "recipient": map[string]any{"id": recipient}, "message": msg,
	})
}

// attached is a message with one attachment.
func attached(event, user, msgID, text, typ string, payload map[string]any, at time.Time) []byte {
	return Message(event, user, map[string]any{
		"msg_id": msgID, "text": text, "attachments": []any{map[string]any{"type": typ, "payload": payload}},
	}, at)
}

// UserText is user_send_text: the resident typed text (or tapped a query
// button whose payload is text).
func UserText(user, msgID, text string, at time.Time) []byte {
	return Message("user_send_text", user, map[string]any{"msg_id": msgID, "text": text}, at)
}

// UserImage is user_send_image with one photo at imageURL and a caption ("" for none).
func UserImage(user, msgID, imageURL, caption string, at time.Time) []byte {
	return attached("user_send_image", user, msgID, caption, "image",
		map[string]any{"url": imageURL, "thumbnail": imageURL + "?thumb"}, at)
}

// UserLink is user_send_link: a shared link and the text sent with it.
func UserLink(user, msgID, link, text string, at time.Time) []byte {
	return attached("user_send_link", user, msgID, text, "link",
		map[string]any{"url": link, "description": "", "thumbnail": ""}, at)
}

// UserSticker is user_send_sticker.
func UserSticker(user, msgID string, at time.Time) []byte {
	return attached("user_send_sticker", user, msgID, "", "sticker",
		map[string]any{"id": "bfe458bf64fa8da4d4eb", "url": "https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid=1"}, at)
}

// UserGIF is user_send_gif.
func UserGIF(user, msgID string, at time.Time) []byte {
	return attached("user_send_gif", user, msgID, "", "gif",
		map[string]any{"url": "https://gif.zdn.vn/x.gif", "thumbnail": "https://gif.zdn.vn/x.jpg"}, at)
}

// UserFile is user_send_file with a file at fileURL.
func UserFile(user, msgID, fileURL, name string, size int64, at time.Time) []byte {
	return attached("user_send_file", user, msgID, "", "file",
		map[string]any{"url": fileURL, "name": name, "size": strconv.FormatInt(size, 10), "type": "pdf", "checksum": "c0ffee"}, at)
}

// UserAudio is user_send_audio (a voice message) at audioURL.
func UserAudio(user, msgID, audioURL string, at time.Time) []byte {
	return attached("user_send_audio", user, msgID, "", "audio", map[string]any{"url": audioURL}, at)
}

// UserVideo is user_send_video at videoURL.
func UserVideo(user, msgID, videoURL string, at time.Time) []byte {
	return attached("user_send_video", user, msgID, "", "video",
		map[string]any{"url": videoURL, "thumbnail": videoURL + ".jpg", "description": ""}, at)
}

// UserLocation is user_send_location.
func UserLocation(user, msgID string, lat, lng float64, at time.Time) []byte {
	return attached("user_send_location", user, msgID, "", "location",
		map[string]any{"coordinates": map[string]any{"latitude": fmt.Sprint(lat), "longitude": fmt.Sprint(lng)}}, at)
}

// OAText is oa_send_text: the OA wrote text to user (gocua through the
// API, or a person in OA Manager) and Zalo reports it back.
func OAText(user, msgID, text string, at time.Time) []byte {
	return Message("oa_send_text", user, map[string]any{"msg_id": msgID, "text": text}, at)
}

// Follow is the follow event: user started following the OA.
func Follow(user string, at time.Time) []byte {
	return follow("follow", user, at)
}

// Unfollow is the unfollow event.
func Unfollow(user string, at time.Time) []byte {
	return follow("unfollow", user, at)
}

func follow(event, user string, at time.Time) []byte {
	return marshal(map[string]any{
		"app_id": AppID, "oa_id": OAID, "user_id_by_app": byApp(user), "event_name": event,
		"source": "oa_profile", "timestamp": Millis(at), "follower": map[string]any{"id": user},
	})
}

// SubmitInfo is user_submit_info: user answered a request_user_info form.
func SubmitInfo(user, name, phone string, at time.Time) []byte {
	return marshal(map[string]any{
		"app_id": AppID, "user_id_by_app": byApp(user), "event_name": "user_submit_info", "timestamp": Millis(at),
		"sender": map[string]any{"id": user}, "recipient": map[string]any{"id": OAID},
		"info": map[string]any{"name": name, "phone": phone, "address": "", "city": "", "district": "", "ward": ""},
	})
}

// Seen is user_seen_message: user read the OA's messages msgIDs.
func Seen(user string, msgIDs []string, at time.Time) []byte {
	return Message("user_seen_message", user, map[string]any{"msg_ids": msgIDs}, at)
}

// Sign is the MAC of a webhook body: lowercase hex SHA-256 of appID, the
// raw body, the timestamp and the OA secret key, concatenated (not an HMAC).
// The header Zalo sends is "mac=" followed by it.
func Sign(appID string, body []byte, timestamp, secretKey string) string {
	h := sha256.New()
	h.Write([]byte(appID))
	h.Write(body)
	h.Write([]byte(timestamp))
	h.Write([]byte(secretKey))
	return hex.EncodeToString(h.Sum(nil))
}

// Request is the POST Zalo makes for body: signed for AppID with SecretKey
// and the body's own timestamp, to path (a full URL, or a path for a
// handler).
func Request(t testing.TB, path string, body []byte) *http.Request {
	t.Helper()
	var env struct {
		Timestamp string `json:"timestamp"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("oatest: body has no timestamp: %v", err)
	}
	var r *http.Request
	if strings.HasPrefix(path, "/") {
		r = httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	} else {
		var err error
		if r, err = http.NewRequest(http.MethodPost, path, bytes.NewReader(body)); err != nil {
			t.Fatalf("oatest: %v", err)
		}
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-ZEvent-Signature", "mac="+Sign(AppID, body, env.Timestamp, SecretKey))
	return r
}

// Post signs body and posts it to target: a URL (string) or an
// http.Handler (called directly, at the webhook path). It returns the
// HTTP status.
func Post(t testing.TB, target any, body []byte) int {
	t.Helper()
	switch tg := target.(type) {
	case string:
		resp, err := http.DefaultClient.Do(Request(t, tg, body))
		if err != nil {
			t.Fatalf("oatest: post: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	case http.Handler:
		w := httptest.NewRecorder()
		tg.ServeHTTP(w, Request(t, "/webhook/zalo-oa", body))
		return w.Code
	}
	t.Fatalf("oatest: Post to %T", target)
	return 0
}
