package zalo

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
)

// MediaPath is where MediaHandler serves the photos the adapter sends:
// MediaPath + "<upload id>/<mac>[.jpg|.png|.webp]".
const MediaPath = "/zalo-bot/media/"

// telegramRefPrefix starts the ref of a file Telegram keeps (a volunteer's
// photo), fetched through the Fetcher.
const telegramRefPrefix = "telegram:"

// bulkVisitor owns the photos of bulk messages (broadcasts) fetched from
// another platform: one copy per file, whoever receives it.
const bulkVisitor = RefPrefix + "bulk"

// photoMemoTTL is how long a fetched photo's upload is reused without
// asking the store again.
const photoMemoTTL = time.Hour

var uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// deriveMediaKey is the key that signs media addresses, derived from the
// webhook secret so that it is never the secret itself.
func deriveMediaKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("gocua zalo-bot media address key"))
	return m.Sum(nil)
}

// mac is the part of a media address that proves gocua made it: the first
// 16 bytes of HMAC-SHA256(media key, "zalo-bot-media:"+id), in hex.
func (a *Adapter) mac(id string) string {
	m := hmac.New(sha256.New, a.mediaKey)
	m.Write([]byte("zalo-bot-media:" + id))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// extensions are the media addresses' endings, by MIME type.
var extensions = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

// mediaAddress is the stable public address of upload id (of type mime)
// that MediaHandler serves under Config.PublicURL, or "" when the adapter
// has no public address or no webhook secret to sign it with.
func (a *Adapter) mediaAddress(id, mt string) string {
	if a.cfg.PublicURL == "" || a.mediaKey == nil || !uploadIDRE.MatchString(id) {
		return ""
	}
	return strings.TrimRight(a.cfg.PublicURL, "/") + MediaPath + id + "/" + a.mac(id) + extensions[mt]
}

// MediaHandler serves GET (and HEAD) MediaPath<id>/<mac>[.ext]: the photos
// Deliver sends, for Zalo to fetch. A wrong mac, an unknown or deleted
// upload and a type that is not a photo are all the same 404. Photos are
// public to whoever holds the address (Zalo, and the resident's devices),
// cached for a day: an upload never changes. Mount it at MediaPath as it
// is (it reads the whole path: no http.StripPrefix), on the server behind
// Config.PublicURL.
func (a *Adapter) MediaHandler() http.Handler { return http.HandlerFunc(a.serveMedia) }

func (a *Adapter) serveMedia(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	notFound := func() { http.Error(w, "not found", http.StatusNotFound) }
	rest, ok := strings.CutPrefix(r.URL.Path, MediaPath)
	if !ok || a.uploads == nil || a.mediaKey == nil {
		notFound()
		return
	}
	id, sig, _ := strings.Cut(rest, "/")
	sig, ext, _ := strings.Cut(sig, ".")
	switch ext {
	case "", "jpg", "png", "webp":
	default:
		notFound()
		return
	}
	if !uploadIDRE.MatchString(id) || subtle.ConstantTimeCompare([]byte(sig), []byte(a.mac(id))) != 1 {
		notFound()
		return
	}
	now := a.now()
	up, cached := a.cache.get(id, now)
	if !cached {
		var err error
		up, err = a.uploads.Upload(r.Context(), id)
		switch {
		case errors.Is(err, bot.ErrNoUpload):
			notFound()
			return
		case err != nil:
			if r.Context().Err() == nil {
				a.log.Error("zalo bot photo not read", "err", err)
			}
			w.Header().Set("Retry-After", "2")
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		if bot.UploadMIME(up.MIME) {
			a.cache.put(up, now)
		}
	}
	if !bot.UploadMIME(up.MIME) {
		notFound()
		return
	}
	h := w.Header()
	h.Set("Content-Type", up.MIME)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "public, max-age=86400, immutable")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("ETag", `"`+up.ID+`"`)
	http.ServeContent(w, r, "", up.Created, bytes.NewReader(up.Data))
}

// reject is an error wrapping bot.ErrRejected for message id.
func reject(id, format string, args ...any) error {
	return fmt.Errorf("zalo: message %s: %w: %s", id, bot.ErrRejected, fmt.Sprintf(format, args...))
}

// checkPhoto refuses, before anything is sent, media this adapter cannot
// send as it is configured.
func (a *Adapter) checkPhoto(out bot.Outbound) error {
	md := out.Media
	if md.Kind != bot.MediaPhoto {
		return reject(out.ID, "a %q cannot be sent on the Zalo Bot Platform, only photos", md.Kind)
	}
	ref := md.Ref
	switch {
	case strings.HasPrefix(ref, "https://"):
		if _, ok := mediaURL(ref); !ok {
			return reject(out.ID, "malformed photo address")
		}
		return nil
	case strings.HasPrefix(ref, bot.WebRefPrefix):
		if !uploadIDRE.MatchString(strings.TrimPrefix(ref, bot.WebRefPrefix)) {
			return reject(out.ID, "malformed upload id")
		}
	case strings.HasPrefix(ref, telegramRefPrefix):
		if a.fetcher == nil {
			return reject(out.ID, "a Telegram file cannot be fetched: Telegram is off")
		}
	case strings.HasPrefix(ref, bot.FlowRefPrefix):
		if a.fetcher == nil {
			return reject(out.ID, "a guide's picture cannot be read: no fetcher")
		}
	case strings.HasPrefix(ref, RefPrefix):
		if _, ok := mediaURL(strings.TrimPrefix(ref, RefPrefix)); !ok {
			return reject(out.ID, "malformed Zalo file address")
		}
	default:
		return reject(out.ID, "no source for media %q", clip(ref))
	}
	switch {
	case a.cfg.PublicURL == "":
		return reject(out.ID, "GOCUA_PUBLIC_URL is empty: Zalo takes photos by address, and gocua serves them under it")
	case a.uploads == nil:
		return reject(out.ID, "no upload store to serve photos from")
	case a.mediaKey == nil:
		return reject(out.ID, "GOCUA_ZALO_BOT_WEBHOOK_SECRET is empty: it signs the photos' addresses")
	}
	return nil
}

// sendPhoto sends out's photo (checked by checkPhoto) with caption.
func (a *Adapter) sendPhoto(ctx context.Context, out bot.Outbound, caption string) error {
	a.typing(ctx, out.Key.ChatID)
	addr, err := a.photoAddress(ctx, out)
	if err != nil {
		return err
	}
	return a.call(ctx, "sendPhoto", sendPhotoParams{ChatID: out.Key.ChatID, Photo: addr, Caption: caption}, nil)
}

// photoAddress is the address Zalo fetches out's photo from.
func (a *Adapter) photoAddress(ctx context.Context, out bot.Outbound) (string, error) {
	ref := out.Media.Ref
	if strings.HasPrefix(ref, "https://") {
		return ref, nil
	}
	if id, ok := strings.CutPrefix(ref, bot.WebRefPrefix); ok {
		mt, err := a.uploadMIME(ctx, out.ID, id)
		if err != nil {
			return "", err
		}
		return a.mediaAddress(id, mt), nil
	}
	up, err := a.storeFetched(ctx, out)
	if err != nil {
		return "", err
	}
	return a.mediaAddress(up.ID, up.MIME), nil
}

// uploadMIME is the type of upload id, checking once that it exists and
// is a photo (its bytes go to the serving cache: Zalo asks for them next).
func (a *Adapter) uploadMIME(ctx context.Context, msgID, id string) (string, error) {
	if mt, ok := a.mimes.get(id); ok {
		return mt, nil
	}
	up, err := a.uploads.Upload(ctx, id)
	switch {
	case errors.Is(err, bot.ErrNoUpload):
		return "", reject(msgID, "the upload is gone")
	case err != nil:
		return "", fmt.Errorf("zalo: message %s: reading its photo: %w", msgID, err)
	case !bot.UploadMIME(up.MIME):
		return "", reject(msgID, "the upload is not a JPEG, PNG or WebP photo")
	}
	a.mimes.put(id, up.MIME)
	a.cache.put(up, a.now())
	return up.MIME, nil
}

// fetchedPhoto is a memo entry: the upload holding a fetched photo.
type fetchedPhoto struct {
	up bot.Upload
	at time.Time
}

// storeFetched fetches out's photo from the platform that keeps it and
// stores it as an upload: of the resident ("zalo-bot:<chat id>", message
// out.ID), or, for bulk messages, one copy per file for every recipient.
// Saving is idempotent, and what was saved is remembered, so a retry or the
// next recipient neither fetches nor stores it again.
func (a *Adapter) storeFetched(ctx context.Context, out bot.Outbound) (bot.Upload, error) {
	ref := out.Media.Ref
	visitor, msgID := RefPrefix+out.Key.ChatID, out.ID
	if out.Lane == bot.LaneBulk || strings.HasPrefix(ref, bot.FlowRefPrefix) { // the same file for everyone
		sum := sha256.Sum256([]byte(ref))
		visitor, msgID = bulkVisitor, "ref-"+hex.EncodeToString(sum[:16])
	}
	key := visitor + " " + msgID
	unlock := a.photos.lock(ctx, key)
	defer unlock()
	now := a.now()
	if p, ok := a.photos.get(key); ok && now.Sub(p.at) < photoMemoTTL && !now.Before(p.at) {
		return p.up, nil
	}
	data, err := a.fetchPhoto(ctx, out.ID, ref)
	if err != nil {
		return bot.Upload{}, err
	}
	ctype, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if !bot.UploadMIME(ctype) {
		return bot.Upload{}, reject(out.ID, "the file is not a JPEG, PNG or WebP photo")
	}
	up, err := a.uploads.SaveUpload(ctx, bot.Upload{Visitor: visitor, MsgID: msgID, MIME: ctype, Data: data, Created: now})
	if err != nil {
		return bot.Upload{}, fmt.Errorf("zalo: message %s: storing its photo: %w", out.ID, err)
	}
	if !bot.UploadMIME(up.MIME) {
		return bot.Upload{}, reject(out.ID, "the stored upload is not a photo")
	}
	up.Data = nil
	a.photos.put(key, fetchedPhoto{up: up, at: now})
	a.mimes.put(up.ID, up.MIME)
	if up.MIME == ctype {
		cached := up
		cached.Data, cached.Size = data, int64(len(data))
		a.cache.put(cached, now)
	}
	return up, nil
}

// fetchPhoto reads a photo kept by Telegram (the Fetcher) or by Zalo, at
// most bot.MaxUpload bytes. A file that cannot be had is an error wrapping
// bot.ErrRejected; any other failure is worth retrying.
func (a *Adapter) fetchPhoto(ctx context.Context, msgID, ref string) ([]byte, error) {
	var rc io.ReadCloser
	var err error
	if strings.HasPrefix(ref, telegramRefPrefix) || strings.HasPrefix(ref, bot.FlowRefPrefix) {
		rc, _, err = a.fetcher.FetchMedia(ctx, ref, bot.MaxUpload)
	} else {
		rc, _, _, err = Fetch(ctx, a.fetchc, strings.TrimPrefix(ref, RefPrefix), bot.MaxUpload)
	}
	var data []byte
	if err == nil {
		data, err = io.ReadAll(io.LimitReader(rc, bot.MaxUpload+1))
		rc.Close()
	}
	switch {
	case err != nil: // wraps bot.ErrRejected when the file cannot be had
		return nil, fmt.Errorf("zalo: message %s: fetching its photo: %w", msgID, err)
	case len(data) > bot.MaxUpload:
		return nil, reject(msgID, "the photo is over %d bytes", bot.MaxUpload)
	case len(data) == 0:
		return nil, reject(msgID, "the photo is empty")
	}
	return data, nil
}

// OpenMedia opens a file a Zalo resident sent, by its "zalo-bot:<url>" ref,
// for another channel to pass on (telegram.MediaSource: a resident's photo
// shown to a Telegram volunteer). It downloads the address with a client
// that refuses the host's own networks (NewFetchClient), at most MaxMedia
// bytes, and gives the type found in the bytes. Other refs, a file over
// MaxMedia, an empty one and one Zalo no longer has are refused with an
// error wrapping bot.ErrRejected; other failures are worth retrying. The
// caller closes the reader.
func (a *Adapter) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	addr, ok := strings.CutPrefix(ref, RefPrefix)
	if !ok {
		return bot.Media{}, nil, fmt.Errorf("zalo: %q is not a Zalo file: %w", clip(ref), bot.ErrRejected)
	}
	if _, ok := mediaURL(addr); !ok {
		return bot.Media{}, nil, fmt.Errorf("zalo: malformed Zalo file address: %w", bot.ErrRejected)
	}
	rc, size, ctype, err := Fetch(ctx, a.fetchc, addr, MaxMedia)
	if err != nil {
		return bot.Media{}, nil, err
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(rc, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		rc.Close()
		return bot.Media{}, nil, fmt.Errorf("zalo: reading a Zalo file: %w", err)
	}
	if n == 0 {
		rc.Close()
		return bot.Media{}, nil, fmt.Errorf("zalo: the Zalo file is empty: %w", bot.ErrRejected)
	}
	head = head[:n]
	mt := sniffType(head, ctype)
	kind := mediaKind(mt)
	md := bot.Media{Kind: kind, Ref: ref, Name: string(kind) + fileExt(mt), MIME: mt, Size: max(size, 0)}
	return md, readCloser{Reader: io.MultiReader(bytes.NewReader(head), rc), Closer: rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// sniffType is a file's type by its first bytes; when they do not say, the
// type the server gave if it looks like a media type, else
// application/octet-stream.
func sniffType(head []byte, declared string) string {
	mt, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	if mt != "application/octet-stream" && mt != "text/plain" {
		return mt
	}
	d, _, err := mime.ParseMediaType(declared)
	if err == nil && len(d) <= 100 {
		for _, p := range []string{"image/", "audio/", "video/"} {
			if strings.HasPrefix(d, p) && len(d) > len(p) {
				return d
			}
		}
	}
	return "application/octet-stream"
}

func mediaKind(mt string) bot.MediaKind {
	switch {
	case strings.HasPrefix(mt, "image/"):
		return bot.MediaPhoto
	case strings.HasPrefix(mt, "audio/"), mt == "application/ogg":
		return bot.MediaVoice
	case strings.HasPrefix(mt, "video/"):
		return bot.MediaVideo
	}
	return bot.MediaDocument
}

// fileExt is a file name's ending for type mt ("" when unknown).
func fileExt(mt string) string {
	if e, ok := extensions[mt]; ok {
		return e
	}
	switch mt {
	case "audio/aac":
		return ".aac"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4", "video/mp4":
		return ".mp4"
	case "application/ogg", "audio/ogg":
		return ".ogg"
	case "image/gif":
		return ".gif"
	}
	return ""
}

// clip shortens a ref for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "") + "…"
	}
	return strings.ToValidUTF8(s, "")
}
