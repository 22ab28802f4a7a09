package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/platform"
)

// Photos. A resident's photo is POSTed to /chat/api/upload, checked by its
// bytes (JPEG, PNG or WebP, at most Config.MaxUpload), kept in the durable
// store as a bot.Upload owned by the visitor, and handed to the core as
// bot.InMedia with Media.Ref "web:<upload id>". A photo a volunteer sends
// from Telegram is fetched by Deliver (Config.Media), checked the same way
// and kept as an upload of the visitor it is for. The page shows both from
// GET /chat/media/<id>, which serves an upload only to its visitor.

// Uploads keeps the web chat's photos. Implemented by *store.Uploads.
type Uploads interface {
	// SaveUpload stores up with a new random id and returns it as stored
	// (without its bytes); an upload already saved for the same visitor
	// and MsgID is returned instead, so retries keep one copy.
	SaveUpload(ctx context.Context, up bot.Upload) (bot.Upload, error)
	// Upload returns an upload with its bytes; an error wrapping
	// bot.ErrNoUpload if there is none.
	Upload(ctx context.Context, id string) (bot.Upload, error)
}

// MediaFetcher downloads a file another platform keeps, by its ref,
// refusing files over max bytes with an error wrapping bot.ErrRejected.
// *telegram.Adapter implements it for "telegram:<file_id>".
type MediaFetcher interface {
	FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error)
}

// Notices a message may carry instead of its file (message.Note), shown by
// the page in its language (locale.json).
const (
	noteTooBig      = "media_too_big"     // over MaxUpload
	noteUnsupported = "media_unsupported" // not a JPEG, PNG or WebP photo
	noteUnavailable = "media_unavailable" // gone, or from where this chat cannot fetch
)

const (
	maxUploadField = 8 << 10  // bytes of one form field besides the file
	uploadOverhead = 64 << 10 // multipart headers and fields around the file
)

var uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// sniffPhoto returns the type of a photo by its bytes, or "" when it is not
// a JPEG, PNG or WebP (whatever its name or the client says).
func sniffPhoto(data []byte) string {
	ct, _, _ := mime.ParseMediaType(http.DetectContentType(data))
	if !bot.UploadMIME(ct) {
		return ""
	}
	return ct
}

// uploadRequest is what POST /chat/api/upload carries.
type uploadRequest struct {
	ID      string // client-generated message id: retries reuse it
	Seq     int64
	Caption string
	Data    []byte
	hasFile bool
}

// readUpload reads a multipart form (fields id, seq, caption, file) or a raw
// body (the photo; id, seq and caption in the query).
func (a *Adapter) readUpload(w http.ResponseWriter, r *http.Request) (req uploadRequest, status int, problem string) {
	body := http.MaxBytesReader(w, r.Body, a.cfg.MaxUpload+uploadOverhead)
	readFile := func(src io.Reader) (int, string) {
		if req.hasFile {
			return http.StatusBadRequest, "send one file"
		}
		data, err := io.ReadAll(io.LimitReader(src, a.cfg.MaxUpload+1))
		if err != nil {
			return readErr(err)
		}
		if int64(len(data)) > a.cfg.MaxUpload {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("the photo is over %d bytes", a.cfg.MaxUpload)
		}
		req.Data, req.hasFile = data, true
		return 0, ""
	}
	fields := map[string]string{}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && mt == "multipart/form-data" {
		if params["boundary"] == "" {
			return req, http.StatusBadRequest, "malformed multipart body"
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if st, p := readErr(err); st == http.StatusRequestEntityTooLarge {
					return req, st, p
				}
				return req, http.StatusBadRequest, "malformed multipart body"
			}
			name := part.FormName()
			switch name {
			case "file":
				if st, p := readFile(part); st != 0 {
					return req, st, p
				}
			case "id", "seq", "caption":
				if _, dup := fields[name]; dup {
					return req, http.StatusBadRequest, "field " + name + " sent twice"
				}
				v, err := io.ReadAll(io.LimitReader(part, maxUploadField+1))
				if err != nil {
					return req, http.StatusBadRequest, "malformed multipart body"
				}
				if len(v) > maxUploadField {
					return req, http.StatusRequestEntityTooLarge, "field " + name + " too large"
				}
				fields[name] = string(v)
			default:
				return req, http.StatusBadRequest, "unknown field"
			}
			part.Close()
		}
	} else {
		q := r.URL.Query()
		for _, k := range []string{"id", "seq", "caption"} {
			if vs, ok := q[k]; ok {
				if len(vs) != 1 {
					return req, http.StatusBadRequest, "field " + k + " sent twice"
				}
				fields[k] = vs[0]
			}
		}
		if st, p := readFile(body); st != 0 {
			return req, st, p
		}
	}
	req.ID, req.Caption = fields["id"], fields["caption"]
	if s, ok := fields["seq"]; ok {
		if req.Seq, err = strconv.ParseInt(s, 10, 64); err != nil {
			return req, http.StatusBadRequest, "seq must be a number"
		}
	}
	switch {
	case !msgIDRE.MatchString(req.ID):
		return req, http.StatusBadRequest, "id must be 8 to 64 letters, digits, - or _"
	case req.Seq <= 0:
		return req, http.StatusBadRequest, "seq must be above 0"
	case !req.hasFile:
		return req, http.StatusBadRequest, "no file"
	case len(req.Data) == 0:
		return req, http.StatusBadRequest, "the file is empty"
	}
	if !utf8.ValidString(req.Caption) {
		return req, http.StatusBadRequest, "caption is not UTF-8"
	}
	req.Caption = strings.TrimSpace(bot.CleanText(req.Caption))
	if utf8.RuneCountInString(req.Caption) > MaxText {
		return req, http.StatusRequestEntityTooLarge, fmt.Sprintf("caption is over %d characters", MaxText)
	}
	return req, 0, ""
}

// readErr maps a body read error to its answer.
func readErr(err error) (int, string) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge, "body too large"
	}
	return http.StatusBadRequest, "could not read body"
}

// uploadReadTime is how long an upload may take to arrive: 5 MiB at
// 256 kbit/s is under three minutes.
const uploadReadTime = 3 * time.Minute

// serveUpload is POST /chat/api/upload: a resident's photo, with the origin,
// cookie and rate rules of /chat/api/send.
func (a *Adapter) serveUpload(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o == "" || !a.allowedOrigin(o, r) {
		a.log.Warn("web chat upload refused: origin not allowed", "origin", o)
		apiError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	if a.cfg.Uploads == nil {
		apiError(w, http.StatusNotFound, "photos are not available")
		return
	}
	vid, _ := a.visitor(w, r, false)
	if vid == "" {
		apiError(w, http.StatusForbidden, "no valid visitor cookie: open /chat first")
		return
	}
	log := a.log.With("visitor", vid)
	// limits first: a refused upload is not read
	if ok, retry := a.addrSends.reserve(platform.ClientAddr(r), a.cfg.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(retry.Seconds())), 1)))
		log.Info("web chat upload rate limited for the address")
		apiError(w, http.StatusTooManyRequests, "too many messages from this address")
		return
	}
	if ok, retry := a.limits.reserve(vid, a.cfg.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(retry.Seconds())), 1)))
		log.Info("web chat upload rate limited")
		apiError(w, http.StatusTooManyRequests, "too many messages")
		return
	}
	// a 5 MiB photo over a slow rural connection takes longer than the
	// server's read timeout allows a request; this one may take its time
	// (the size is capped, and the limits above were passed)
	if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadReadTime)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		log.Debug("web chat upload: read deadline not extended", "err", err)
	}
	req, status, problem := a.readUpload(w, r)
	if status != 0 {
		log.Warn("web chat upload refused", "status", status, "problem", problem)
		apiError(w, status, problem)
		return
	}
	ctype := sniffPhoto(req.Data)
	if ctype == "" {
		log.Warn("web chat upload refused: not a photo", "bytes", len(req.Data))
		apiError(w, http.StatusUnsupportedMediaType, "only JPEG, PNG or WebP photos")
		return
	}
	now := a.cfg.Now()
	// Not the request's context: a page closing must not abort a commit half way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.HandleTimeout)
	defer cancel()
	up, err := a.cfg.Uploads.SaveUpload(ctx, bot.Upload{Visitor: vid, MsgID: req.ID, MIME: ctype, Data: req.Data, Created: now})
	if err != nil {
		log.Error("web chat photo not stored", "err", err)
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: vid}
	ref := &mediaRef{ID: up.ID, MIME: up.MIME}
	if err := a.appendResident(ctx, key, message{ID: req.ID, From: fromResident, Text: req.Caption, Media: ref, At: now.UTC()}); err != nil {
		log.Error("web chat message not stored", "err", err)
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	in := bot.Inbound{Key: key, UpdateID: req.ID, Seq: req.Seq, UserID: vid, At: now, Kind: bot.InMedia, Text: req.Caption,
		Media: &bot.Media{Kind: bot.MediaPhoto, Ref: bot.WebRefPrefix + up.ID, MIME: up.MIME, Size: up.Size}}
	if err := a.handle(ctx, in); err != nil {
		log.Error("web chat photo not handled; the page will retry", "err", err)
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true,"media":{"id":"`+up.ID+`"}}`+"\n")
}

// serveMedia is GET /chat/media/<id>: a photo, only to the visitor it
// belongs to (one they uploaded or were sent). Anyone else, with or without
// a cookie, gets the same 404 as for an id that does not exist.
func (a *Adapter) serveMedia(w http.ResponseWriter, r *http.Request) {
	notFound := func() { apiError(w, http.StatusNotFound, "not found") }
	id := r.PathValue("id")
	if a.cfg.Uploads == nil || !uploadIDRE.MatchString(id) {
		notFound()
		return
	}
	vid, _ := a.visitor(w, r, false)
	if vid == "" {
		notFound()
		return
	}
	up, err := a.cfg.Uploads.Upload(r.Context(), id)
	switch {
	case errors.Is(err, bot.ErrNoUpload):
		notFound()
		return
	case err != nil:
		if r.Context().Err() == nil {
			a.log.Error("web chat photo not read", "visitor", vid, "err", err)
		}
		w.Header().Set("Retry-After", "2")
		apiError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	case up.Visitor != vid || !bot.UploadMIME(up.MIME):
		notFound()
		return
	}
	h := w.Header()
	h.Set("Content-Type", up.MIME)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("ETag", `"`+up.ID+`"`) // an upload never changes
	http.ServeContent(w, r, "", up.Created, bytes.NewReader(up.Data))
}

// appendResident appends a resident's message to the history and wakes
// their pages.
func (a *Adapter) appendResident(ctx context.Context, key bot.ConvKey, m message) error {
	msg, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, added, err := a.hist.AppendHistory(ctx, key, m.ID, msg)
	if added {
		a.hub.notify(key.ChatID)
	}
	return err
}

// deliverMedia makes out.Media an upload of the visitor out is for: it
// fetches a Telegram file, or copies another visitor's upload. A file that
// cannot be shown is an error wrapping bot.ErrRejected, with the notice to
// show instead; any other error is worth retrying.
func (a *Adapter) deliverMedia(ctx context.Context, out bot.Outbound) (*mediaRef, string, error) {
	md, visitor := out.Media, out.Key.ChatID
	reject := func(note, why string) (*mediaRef, string, error) {
		return nil, note, fmt.Errorf("webchat: message %s: %w: %s", out.ID, bot.ErrRejected, why)
	}
	if a.cfg.Uploads == nil {
		return reject(noteUnavailable, "photos are off")
	}
	if md.MIME != "" && !strings.HasPrefix(strings.ToLower(md.MIME), "image/") {
		return reject(noteUnsupported, "a "+string(md.Kind)+" is not a photo")
	}
	if md.Size > a.cfg.MaxUpload {
		return reject(noteTooBig, fmt.Sprintf("the file is %d bytes, over %d", md.Size, a.cfg.MaxUpload))
	}
	var data []byte
	switch {
	case strings.HasPrefix(md.Ref, bot.WebRefPrefix):
		up, err := a.cfg.Uploads.Upload(ctx, strings.TrimPrefix(md.Ref, bot.WebRefPrefix))
		if errors.Is(err, bot.ErrNoUpload) {
			return reject(noteUnavailable, "the upload is gone")
		}
		if err != nil {
			return nil, "", fmt.Errorf("webchat: message %s: %w", out.ID, err)
		}
		if up.Visitor == visitor {
			return &mediaRef{ID: up.ID, MIME: up.MIME}, "", nil
		}
		data = up.Data // another visitor's: this one gets a copy of their own
	case strings.HasPrefix(md.Ref, "telegram:") || strings.HasPrefix(md.Ref, bot.FlowRefPrefix) || strings.HasPrefix(md.Ref, "https://"):
		if a.cfg.Media == nil {
			return reject(noteUnavailable, "no source for "+md.Ref[:strings.IndexByte(md.Ref, ':')]+" files")
		}
		rc, _, err := a.cfg.Media.FetchMedia(ctx, md.Ref, a.cfg.MaxUpload)
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(rc, a.cfg.MaxUpload+1))
			rc.Close()
		}
		switch {
		case errors.Is(err, bot.ErrRejected):
			return reject(noteTooBig, err.Error())
		case err != nil:
			return nil, "", fmt.Errorf("webchat: message %s: fetching its file: %w", out.ID, err)
		case int64(len(data)) > a.cfg.MaxUpload:
			return reject(noteTooBig, fmt.Sprintf("the file is over %d bytes", a.cfg.MaxUpload))
		}
	default:
		return reject(noteUnavailable, "no source for media")
	}
	if len(data) == 0 {
		return reject(noteUnsupported, "the file is empty")
	}
	ctype := sniffPhoto(data)
	if ctype == "" {
		return reject(noteUnsupported, "the file is not a JPEG, PNG or WebP photo")
	}
	up, err := a.cfg.Uploads.SaveUpload(ctx, bot.Upload{Visitor: visitor, MsgID: out.ID, MIME: ctype, Data: data, Created: a.cfg.Now()})
	if err != nil {
		return nil, "", fmt.Errorf("webchat: message %s: storing its photo: %w", out.ID, err)
	}
	return &mediaRef{ID: up.ID, MIME: up.MIME}, "", nil
}
