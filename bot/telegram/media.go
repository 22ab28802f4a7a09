package telegram

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/gocua/gocua/bot"
)

// MediaSource opens a file kept outside Telegram (a web chat upload) for upload.
type MediaSource interface {
	OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error)
}

// WithMediaSource lets Deliver send media whose Ref is not "telegram:…" by
// uploading the bytes src opens. Without one such media is refused.
func WithMediaSource(src MediaSource) Option { return func(o *options) { o.media = src } }

// Telegram's limits for files a bot uploads (multipart), in bytes.
const (
	MaxUploadPhoto = 10 << 20
	MaxUpload      = 50 << 20
)

// ErrFileTooLarge is wrapped by FetchMedia's errors for a file over the
// caller's limit. It wraps bot.ErrRejected: fetching it again cannot help.
var ErrFileTooLarge = fmt.Errorf("telegram: file is over the size limit: %w", bot.ErrRejected)

// deliverMedia sends out.Media with out.Text as its caption (optional).
func (a *Adapter) deliverMedia(ctx context.Context, out bot.Outbound) error {
	md := out.Media
	if !md.Kind.Relayable() {
		return fmt.Errorf("%w: message %s: %q media cannot be sent", ErrInvalidMessage, out.ID, md.Kind)
	}
	caption, units := render(out.Text)
	if strings.TrimSpace(out.Text) == "" {
		caption = ""
	}
	if units > MaxCaption {
		return fmt.Errorf("%w: message %s: caption is %d UTF-16 units, over %d", ErrInvalidMessage, out.ID, units, MaxCaption)
	}
	markup, err := replyMarkup(out.Buttons)
	if err != nil {
		return fmt.Errorf("%w: message %s: %w", ErrInvalidMessage, out.ID, err)
	}
	file, closeFile, err := a.inputFile(ctx, out.ID, md)
	if err != nil {
		return err
	}
	defer closeFile()
	method, msg, err := a.sendMedia(ctx, md.Kind, out.Key.ChatID, file, caption, markup, out.Paid)
	if _, upload := file.(*models.InputFileUpload); err == nil && upload {
		if id := sentFileID(msg); id != "" {
			a.uploaded.put(md.Ref, id)
		}
	}
	return mapError(method, err)
}

// fileIDs maps refs of uploaded files to Telegram's file_id, bounded: when
// full it starts again (a file is then uploaded once more). Uploads of one
// ref take turns, so the others can use the first one's file_id.
type fileIDs struct {
	mu   sync.Mutex
	ids  map[string]string
	busy map[string]chan struct{} // refs being uploaded: closed when done
}

// lock waits until no upload of ref is going on (or ctx ends) and marks
// one; the returned function ends it.
func (f *fileIDs) lock(ctx context.Context, ref string) func() {
	for {
		f.mu.Lock()
		ch, busy := f.busy[ref]
		if !busy {
			if f.busy == nil {
				f.busy = make(map[string]chan struct{})
			}
			ch = make(chan struct{})
			f.busy[ref] = ch
			f.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					f.mu.Lock()
					delete(f.busy, ref)
					f.mu.Unlock()
					close(ch)
				})
			}
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return func() {}
		}
	}
}

const maxFileIDs = 512

func (f *fileIDs) get(ref string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ids[ref]
}

func (f *fileIDs) put(ref, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil || len(f.ids) >= maxFileIDs {
		f.ids = make(map[string]string)
	}
	f.ids[ref] = id
}

// sentFileID is the file_id of what a media message carried (a photo's
// largest size).
func sentFileID(m *models.Message) string {
	switch {
	case m == nil:
		return ""
	case len(m.Photo) > 0:
		return m.Photo[len(m.Photo)-1].FileID
	case m.Document != nil:
		return m.Document.FileID
	case m.Voice != nil:
		return m.Voice.FileID
	case m.Audio != nil:
		return m.Audio.FileID
	case m.Video != nil:
		return m.Video.FileID
	}
	return ""
}

// inputFile is the file of a media message: a Telegram file_id as it is, or
// the bytes of another store's file to upload. closeFile releases them.
func (a *Adapter) inputFile(ctx context.Context, id string, md *bot.Media) (file models.InputFile, closeFile func(), err error) {
	nop := func() {}
	if fileID, ok := strings.CutPrefix(md.Ref, refPrefix); ok {
		if !validFileID(fileID) {
			return nil, nop, fmt.Errorf("%w: message %s: malformed Telegram file id", ErrInvalidMessage, id)
		}
		return &models.InputFileString{Data: fileID}, nop, nil
	}
	if md.Ref == "" || a.media == nil {
		return nil, nop, fmt.Errorf("%w: message %s: no source for media %q", ErrInvalidMessage, id, md.Ref)
	}
	// one upload per file at a time: those waiting send the file_id it gets
	unlock := a.uploaded.lock(ctx, md.Ref)
	if fileID := a.uploaded.get(md.Ref); fileID != "" { // uploaded before: Telegram keeps it
		unlock()
		return &models.InputFileString{Data: fileID}, nop, nil
	}
	meta, rc, err := a.media.OpenMedia(ctx, md.Ref)
	if err != nil {
		unlock()
		return nil, nop, fmt.Errorf("telegram: message %s: opening media %q: %w", id, md.Ref, err)
	}
	limit := int64(MaxUpload)
	if md.Kind == bot.MediaPhoto {
		limit = MaxUploadPhoto
	}
	if meta.Size > limit {
		rc.Close()
		unlock()
		return nil, nop, fmt.Errorf("%w: message %s: media is %d bytes, over Telegram's %d", ErrInvalidMessage, id, meta.Size, limit)
	}
	r := &syncReader{r: rc}
	name := uploadName(cmp.Or(meta.Name, md.Name), md.Kind)
	return &models.InputFileUpload{Filename: name, Data: r}, func() { _ = r.Close(); unlock() }, nil
}

// sendMedia calls the method for kind; it returns the method's name for
// errors.
func (a *Adapter) sendMedia(ctx context.Context, kind bot.MediaKind, chatID string, file models.InputFile, caption string, markup models.ReplyMarkup, paid bool) (string, *models.Message, error) {
	var m *models.Message
	var err error
	switch kind {
	case bot.MediaPhoto:
		m, err = a.client.SendPhoto(ctx, &tgbot.SendPhotoParams{ChatID: chatID, Photo: file, AllowPaidBroadcast: paid, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup})
		return "sendPhoto", m, err
	case bot.MediaDocument:
		m, err = a.client.SendDocument(ctx, &tgbot.SendDocumentParams{ChatID: chatID, Document: file, AllowPaidBroadcast: paid, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup})
		return "sendDocument", m, err
	case bot.MediaVoice:
		m, err = a.client.SendVoice(ctx, &tgbot.SendVoiceParams{ChatID: chatID, Voice: file, AllowPaidBroadcast: paid, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup})
		return "sendVoice", m, err
	case bot.MediaAudio:
		m, err = a.client.SendAudio(ctx, &tgbot.SendAudioParams{ChatID: chatID, Audio: file, AllowPaidBroadcast: paid, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup})
		return "sendAudio", m, err
	case bot.MediaVideo:
		m, err = a.client.SendVideo(ctx, &tgbot.SendVideoParams{ChatID: chatID, Video: file, AllowPaidBroadcast: paid, Caption: caption, ParseMode: models.ParseModeHTML, ReplyMarkup: markup})
		return "sendVideo", m, err
	}
	return "send", nil, fmt.Errorf("%w: %q media cannot be sent", ErrInvalidMessage, kind)
}

// maxUploadName bounds an upload's file name, in bytes.
const maxUploadName = 200

// uploadName is a file name safe for a multipart header and for the
// resident to see: cleaned, one line, no path, not empty.
func uploadName(name string, kind bot.MediaKind) string {
	name = oneLine(bot.CleanText(name))
	name = strings.Map(func(r rune) rune {
		switch r {
		case '/', '\\', '"':
			return '_'
		}
		return r
	}, name)
	for len(name) > maxUploadName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if strings.Trim(name, "._ ") == "" {
		return string(kind)
	}
	return name
}

// syncReader makes Close wait for a Read in progress: the library copies an
// upload from its own goroutine, which may still be reading when the call
// has already returned (the server answered before reading it all).
type syncReader struct {
	mu     sync.Mutex
	r      io.ReadCloser
	closed bool
}

func (s *syncReader) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errors.New("telegram: upload closed")
	}
	return s.r.Read(p)
}

func (s *syncReader) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.r.Close()
}

// FetchMedia downloads a file by its "telegram:<file_id>" ref, refusing files over max bytes
// (the Bot API serves files up to 20 MB).
//
// It calls getFile and then GETs {APIURL}/file/bot{token}/{file_path}. A
// file Telegram says is over max, or a download announced as larger, is
// refused with an error wrapping ErrFileTooLarge (so bot.ErrRejected), and
// the reader returned yields at most max bytes: a server sending more makes
// it fail with ErrFileTooLarge. size is the file's size as Telegram gave it,
// else the download's Content-Length, -1 when neither is known. The caller
// closes the reader. Errors never hold the token.
func (a *Adapter) FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error) {
	fileID, ok := strings.CutPrefix(ref, refPrefix)
	if !ok || !validFileID(fileID) {
		return nil, 0, fmt.Errorf("telegram: %q is not a Telegram file ref: %w", ref, bot.ErrRejected)
	}
	if max <= 0 {
		return nil, 0, fmt.Errorf("telegram: fetching %s: limit %d: %w", ref, max, ErrFileTooLarge)
	}
	f, err := a.client.GetFile(ctx, &tgbot.GetFileParams{FileID: fileID})
	if err != nil {
		return nil, 0, mapError("getFile", err)
	}
	if f.FileSize > max {
		return nil, 0, fmt.Errorf("telegram: fetching %s: %d bytes, over %d: %w", ref, f.FileSize, max, ErrFileTooLarge)
	}
	path, err := filePath(f.FilePath)
	if err != nil {
		return nil, 0, fmt.Errorf("telegram: fetching %s: %w", ref, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.APIURL+"/file/bot"+a.cfg.Token+"/"+path, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("telegram: fetching %s: %w", ref, a.redact(err))
	}
	resp, err := a.httpc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("telegram: fetching %s: %w", ref, a.redact(err))
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		resp.Body.Close()
		// a file_path lasts an hour: a later try gets a fresh one
		return nil, 0, fmt.Errorf("telegram: fetching %s: download answered %s", ref, resp.Status)
	case resp.ContentLength > max:
		resp.Body.Close()
		return nil, 0, fmt.Errorf("telegram: fetching %s: download is %d bytes, over %d: %w", ref, resp.ContentLength, max, ErrFileTooLarge)
	}
	size := f.FileSize
	if size <= 0 {
		size = resp.ContentLength
	}
	return &cappedBody{r: io.LimitReader(resp.Body, max+1), c: resp.Body, max: max}, size, nil
}

// filePath checks a file_path from getFile ("photos/file_1.jpg") before it
// goes into a URL, and escapes its segments.
func filePath(p string) (string, error) {
	if p == "" {
		return "", errors.New("getFile gave no file_path")
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return "", errors.New("getFile gave a malformed file_path")
		}
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/"), nil
}

// redact removes the token from an error's text (a *url.Error quotes the URL).
func (a *Adapter) redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = strings.ReplaceAll(ue.URL, a.cfg.Token, "***")
		return err
	}
	if strings.Contains(err.Error(), a.cfg.Token) {
		return errors.New(strings.ReplaceAll(err.Error(), a.cfg.Token, "***"))
	}
	return err
}

// cappedBody yields at most max bytes of a download; the first byte beyond
// is ErrFileTooLarge instead.
type cappedBody struct {
	r   io.Reader // the body limited to max+1 bytes
	c   io.Closer
	max int64
	n   int64
	err error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	k, err := b.r.Read(p)
	b.n += int64(k)
	if b.n > b.max {
		b.err = fmt.Errorf("telegram: download goes past %d bytes: %w", b.max, ErrFileTooLarge)
		return k - int(b.n-b.max), b.err
	}
	return k, err
}

func (b *cappedBody) Close() error { return b.c.Close() }
