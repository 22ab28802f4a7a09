package oa

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo"
)

// attachmentTTL is how long an uploaded image's attachment id is used:
// Zalo keeps uploads 7 days.
const attachmentTTL = 6 * 24 * time.Hour

// telegramPrefix starts the Ref of a file Telegram keeps.
const telegramPrefix = "telegram:"

// attachmentID returns the attachment id of md's image: the one uploaded
// for its Ref in the last attachmentTTL, else a new upload. Uploads of one
// Ref take turns, so a broadcast's photo is uploaded once.
func (a *Adapter) attachmentID(ctx context.Context, outID string, md *bot.Media) (string, error) {
	unlock, err := a.attachments.lock(ctx, md.Ref)
	if err != nil {
		return "", fmt.Errorf("zalo oa: message %s: %w", outID, err)
	}
	defer unlock()
	if id := a.attachments.get(md.Ref, a.now()); id != "" {
		return id, nil
	}
	data, mime, err := a.photoBytes(ctx, md)
	if err != nil {
		return "", fmt.Errorf("zalo oa: message %s: photo %q: %w", outID, md.Ref, err)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	h := make(textproto.MIMEHeader)
	name := "photo.jpg"
	if mime == "image/png" {
		name = "photo.png"
	}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
	h.Set("Content-Type", mime)
	fw, err := w.CreatePart(h)
	if err == nil {
		_, err = fw.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return "", fmt.Errorf("zalo oa: message %s: building the upload: %w", outID, err)
	}
	res, err := a.call(ctx, pathUpload, w.FormDataContentType(), body.Bytes())
	if err != nil {
		return "", err
	}
	var up struct {
		AttachmentID flexString `json:"attachment_id"`
	}
	if !present(res) || json.Unmarshal(res, &up) != nil || up.AttachmentID == "" {
		return "", fmt.Errorf("zalo oa: message %s: %s answered without an attachment_id", outID, pathUpload)
	}
	a.attachments.put(md.Ref, string(up.AttachmentID), a.now())
	return string(up.AttachmentID), nil
}

// photoBytes reads the photo to upload, at most MaxImage bytes: from
// Telegram (WithFetcher), from Zalo's CDN (a resident's photo), or from
// the MediaSource (web chat uploads and anything else). Zalo takes JPEG
// and PNG; the type is read from the bytes.
func (a *Adapter) photoBytes(ctx context.Context, md *bot.Media) ([]byte, string, error) {
	var rc io.ReadCloser
	switch {
	case strings.HasPrefix(md.Ref, telegramPrefix):
		if a.fetcher == nil {
			return nil, "", fmt.Errorf("no Telegram fetcher configured: %w", bot.ErrRejected)
		}
		r, size, err := a.fetcher.FetchMedia(ctx, md.Ref, MaxImage)
		if err != nil {
			return nil, "", err
		}
		if size > MaxImage {
			r.Close()
			return nil, "", tooLarge(size)
		}
		rc = r
	case strings.HasPrefix(md.Ref, RefPrefix):
		_, r, err := a.OpenMedia(ctx, md.Ref)
		if err != nil {
			return nil, "", err
		}
		rc = r
	default:
		if a.media == nil {
			return nil, "", fmt.Errorf("no media source configured: %w", bot.ErrRejected)
		}
		meta, r, err := a.media.OpenMedia(ctx, md.Ref)
		if err != nil {
			if errors.Is(err, bot.ErrNoUpload) {
				return nil, "", fmt.Errorf("%w: %w", err, bot.ErrRejected)
			}
			return nil, "", err
		}
		if meta.Size > MaxImage {
			r.Close()
			return nil, "", tooLarge(meta.Size)
		}
		rc = r
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxImage+1))
	if err != nil {
		return nil, "", fmt.Errorf("reading: %w", err)
	}
	if len(data) > MaxImage {
		return nil, "", tooLarge(int64(len(data)))
	}
	mime := http.DetectContentType(data)
	if mime != "image/jpeg" && mime != "image/png" {
		return nil, "", fmt.Errorf("%w: Zalo OA takes JPEG and PNG photos, this is %s", ErrInvalidMessage, mime)
	}
	return data, mime, nil
}

func tooLarge(size int64) error {
	return fmt.Errorf("%w: the photo is %d bytes, over Zalo OA's %d", ErrInvalidMessage, size, MaxImage)
}

// attachmentCache maps Refs of uploaded images to their attachment id,
// each for attachmentTTL; bounded (when full, expired ids go first, then
// everything).
type attachmentCache struct {
	mu   sync.Mutex
	ids  map[string]cachedID
	busy map[string]chan struct{} // refs being uploaded: closed when done
}

type cachedID struct {
	id      string
	expires time.Time
}

const maxAttachments = 512

// lock waits until no upload of ref is going on (or ctx ends) and marks
// one; the returned function ends it.
func (c *attachmentCache) lock(ctx context.Context, ref string) (func(), error) {
	for {
		c.mu.Lock()
		ch, busy := c.busy[ref]
		if !busy {
			if c.busy == nil {
				c.busy = make(map[string]chan struct{})
			}
			ch = make(chan struct{})
			c.busy[ref] = ch
			c.mu.Unlock()
			return func() {
				c.mu.Lock()
				delete(c.busy, ref)
				c.mu.Unlock()
				close(ch)
			}, nil
		}
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *attachmentCache) get(ref string, now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.ids[ref]; ok && now.Before(e.expires) {
		return e.id
	}
	return ""
}

func (c *attachmentCache) put(ref, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = make(map[string]cachedID)
	}
	if len(c.ids) >= maxAttachments {
		for r, e := range c.ids {
			if !now.Before(e.expires) {
				delete(c.ids, r)
			}
		}
		if len(c.ids) >= maxAttachments {
			c.ids = make(map[string]cachedID)
		}
	}
	c.ids[ref] = cachedID{id: id, expires: now.Add(attachmentTTL)}
}

func (c *attachmentCache) drop(ref string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ids, ref)
}

// OpenMedia downloads a file a resident sent, by its "zalo-oa:<url>" Ref
// (so a volunteer on Telegram sees a Zalo OA resident's photo): at most
// MaxFetch bytes, from a public address only unless
// Config.AllowPrivateMedia. The Media it returns has the type read from the
// first bytes (never the server's claim) and the size the server
// announced (0 when it did not). Other refs wrap bot.ErrRejected. The
// caller closes the reader.
func (a *Adapter) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	u, ok := strings.CutPrefix(ref, RefPrefix)
	if !ok || cleanURL(u) == "" {
		return bot.Media{}, nil, fmt.Errorf("zalo oa: %q is not a Zalo OA file ref: %w", clip(ref, 64), bot.ErrRejected)
	}
	body, size, _, err := zalo.Fetch(ctx, a.fetchc, u, MaxFetch)
	if err != nil {
		return bot.Media{}, nil, fmt.Errorf("zalo oa: %w", err)
	}
	br := bufio.NewReaderSize(body, 512)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		body.Close()
		return bot.Media{}, nil, fmt.Errorf("zalo oa: downloading a resident's file: %w", err)
	}
	mime := http.DetectContentType(head)
	if i := strings.IndexByte(mime, ';'); i >= 0 {
		mime = mime[:i]
	}
	md := bot.Media{Kind: kindOf(mime), Ref: ref, MIME: mime, Size: max(size, 0)}
	return md, readCloser{br, body}, nil
}

// kindOf is the media kind of a detected MIME type.
func kindOf(mime string) bot.MediaKind {
	switch {
	case strings.HasPrefix(mime, "image/"):
		return bot.MediaPhoto
	case strings.HasPrefix(mime, "audio/"):
		return bot.MediaAudio
	case strings.HasPrefix(mime, "video/"):
		return bot.MediaVideo
	}
	return bot.MediaDocument
}

type readCloser struct {
	io.Reader
	io.Closer
}
