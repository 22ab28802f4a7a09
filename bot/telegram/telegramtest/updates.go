package telegramtest

import (
	"encoding/json"
	"strconv"
)

// Webhook bodies for tests, as Telegram sends them. Chat types follow the
// chat id: negative is a supergroup, positive a private chat with that user.

func chatJSON(chatID int64) map[string]any {
	return map[string]any{"id": chatID, "type": chatType(strconv.FormatInt(chatID, 10))}
}

func userJSON(id int64) map[string]any {
	return map[string]any{"id": id, "is_bot": false, "first_name": "User" + strconv.FormatInt(id, 10)}
}

func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of plain values
	}
	return string(b)
}

// TextMessage is an update with a text message from fromID in chatID.
func TextMessage(updateID, chatID, fromID int64, text string) string {
	return marshal(map[string]any{"update_id": updateID, "message": map[string]any{
		"message_id": updateID, "date": 1700000000, "chat": chatJSON(chatID), "from": userJSON(fromID), "text": text,
	}})
}

// PhotoMessage is an update with a photo (one size, 1280×960) and a caption
// ("" for none) from fromID in chatID.
func PhotoMessage(updateID, chatID, fromID int64, fileID, caption string) string {
	m := map[string]any{
		"message_id": updateID, "date": 1700000000, "chat": chatJSON(chatID), "from": userJSON(fromID),
		"photo": []any{map[string]any{"file_id": fileID, "file_unique_id": "u" + fileID, "width": 1280, "height": 960, "file_size": 1000}},
	}
	if caption != "" {
		m["caption"] = caption
	}
	return marshal(map[string]any{"update_id": updateID, "message": m})
}

// Callback is an update for fromID tapping a button with data on message
// messageID the bot sent to chatID (a group when negative). The query id is
// "q<updateID>".
func Callback(updateID, chatID, fromID int64, messageID int, data string) string {
	return marshal(map[string]any{"update_id": updateID, "callback_query": map[string]any{
		"id": "q" + strconv.FormatInt(updateID, 10), "from": userJSON(fromID), "chat_instance": "ci", "data": data,
		"message": map[string]any{
			"message_id": messageID, "date": 1700000000, "chat": chatJSON(chatID),
			"from": map[string]any{"id": BotID, "is_bot": true, "first_name": "gocua"}, "text": "…",
		},
	}})
}
