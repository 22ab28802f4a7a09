package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	tgbot "github.com/go-telegram/bot"
)

// maxAPIAnswer bounds the Bot API answer call reads: a sent message with
// its entities and keyboard is a few KiB.
const maxAPIAnswer = 1 << 20

// apiAnswer is the Bot API's envelope around every answer.
type apiAnswer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// call posts a Bot API method with params sent as one JSON body and, when
// dest is not nil, decodes the result into it. Failures are the errors
// go-telegram/bot returns for the same answers (its ErrorForbidden,
// *TooManyRequestsError, …), so mapError reads both alike; its callers
// name the method.
//
// It is for the methods every resident's update makes (sendMessage,
// editMessageText, answerCallbackQuery). The library encodes each call as a
// multipart form, field by field through reflection, in a goroutine of its
// own writing into an io.Pipe: an eighth of gocua's CPU under load
// (cmd/gocua-load's profile at 1000 updates/s) for a body of a few hundred
// bytes. The rest (uploads, setWebhook, getFile…) still goes through it.
func (a *Adapter) call(ctx context.Context, method string, params, dest any) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // the text is HTML already; \u003c is valid but longer
	if err := enc.Encode(params); err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.APIURL+"/bot"+a.cfg.Token+"/"+method, &body)
	if err != nil {
		return a.redact(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.httpc.Do(req)
	if err != nil {
		return a.redact(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer+1))
	if err != nil {
		return fmt.Errorf("read answer: %w", a.redact(err))
	}
	if len(raw) > maxAPIAnswer {
		return fmt.Errorf("answer over %d bytes (HTTP %d)", maxAPIAnswer, resp.StatusCode)
	}
	var ans apiAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fmt.Errorf("HTTP %d, answer is not the Bot API's: %w", resp.StatusCode, err)
	}
	if !ans.OK {
		return answerError(method, ans)
	}
	if dest != nil {
		if err := json.Unmarshal(ans.Result, dest); err != nil {
			return fmt.Errorf("decode result: %w", err)
		}
	}
	return nil
}

// answerError is the error go-telegram/bot returns for a failed answer.
func answerError(method string, ans apiAnswer) error {
	switch ans.ErrorCode {
	case http.StatusTooManyRequests:
		return &tgbot.TooManyRequestsError{
			Message:    fmt.Sprintf("%s, %s", tgbot.ErrorTooManyRequests, ans.Description),
			RetryAfter: ans.Parameters.RetryAfter,
		}
	case http.StatusBadRequest:
		if ans.Parameters.MigrateToChatID != 0 {
			return &tgbot.MigrateError{
				Message:         fmt.Sprintf("%s: %s", tgbot.ErrorBadRequest, ans.Description),
				MigrateToChatID: int(ans.Parameters.MigrateToChatID),
			}
		}
		return fmt.Errorf("%w, %s", tgbot.ErrorBadRequest, ans.Description)
	case http.StatusForbidden:
		return fmt.Errorf("%w, %s", tgbot.ErrorForbidden, ans.Description)
	case http.StatusUnauthorized:
		return fmt.Errorf("%w, %s", tgbot.ErrorUnauthorized, ans.Description)
	case http.StatusNotFound:
		return fmt.Errorf("%w, %s", tgbot.ErrorNotFound, ans.Description)
	case http.StatusConflict:
		return fmt.Errorf("%w, %s", tgbot.ErrorConflict, ans.Description)
	}
	return fmt.Errorf("error response from telegram for method %s, %d %s", method, ans.ErrorCode, ans.Description)
}
