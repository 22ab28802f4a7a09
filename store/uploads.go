package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/gocua/gocua/bot"
)

// Uploads keeps the web chat's photos (table web_uploads) on either durable
// store, with the same SQL; times are stored as each dialect does (see
// [Desk]). It implements the web chat's upload store and, through
// OpenMedia, telegram.MediaSource, so a web resident's photo relayed to a
// Telegram volunteer is uploaded from here.
type Uploads struct {
	r, w   *sql.DB
	sqlite bool
}

// Uploads returns the web chat photos kept in this database.
func (p *Postgres) Uploads() *Uploads { return &Uploads{r: p.db, w: p.db} }

// Uploads returns the web chat photos kept in this database.
func (s *SQLite) Uploads() *Uploads { return &Uploads{r: s.r, w: s.w, sqlite: true} }

var uploadIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// maxUploadKey bounds an upload's visitor and message ids, in bytes.
const maxUploadKey = 200

func (u *Uploads) at(t time.Time) any { return dialectTime(u.sqlite, t) }

// SaveUpload stores up (Data, MIME, Visitor, MsgID; a new random ID and
// Created now unless set) and returns it as stored, without its bytes. An
// upload already saved for the same visitor and message is kept: it is
// returned instead and up is dropped, so retries store one copy.
func (u *Uploads) SaveUpload(ctx context.Context, up bot.Upload) (bot.Upload, error) {
	switch {
	case up.Visitor == "" || len(up.Visitor) > maxUploadKey:
		return bot.Upload{}, errors.New("store: upload: visitor id missing or too long")
	case up.MsgID == "" || len(up.MsgID) > maxUploadKey:
		return bot.Upload{}, errors.New("store: upload: message id missing or too long")
	case !bot.UploadMIME(up.MIME):
		return bot.Upload{}, fmt.Errorf("store: upload: type %q is not kept", up.MIME)
	case len(up.Data) == 0 || len(up.Data) > bot.MaxUpload:
		return bot.Upload{}, fmt.Errorf("store: upload: %d bytes, want 1 to %d", len(up.Data), bot.MaxUpload)
	case up.ID != "" && !uploadIDRE.MatchString(up.ID):
		return bot.Upload{}, errors.New("store: upload: malformed id")
	}
	if up.ID == "" {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		up.ID = hex.EncodeToString(b[:])
	}
	if up.Created.IsZero() {
		up.Created = time.Now()
	}
	visitor, msg := clean(up.Visitor), clean(up.MsgID)
	_, err := u.w.ExecContext(ctx, `
INSERT INTO web_uploads (id, visitor_id, msg_id, mime, size, bytes, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (visitor_id, msg_id) DO NOTHING`,
		up.ID, visitor, msg, up.MIME, int64(len(up.Data)), up.Data, u.at(up.Created))
	if err != nil {
		return bot.Upload{}, fmt.Errorf("store: save upload: %w", err)
	}
	// read back through the writer: SQLite's readers may not see it yet
	row := u.w.QueryRowContext(ctx, `SELECT id, visitor_id, msg_id, mime, size, created_at FROM web_uploads
WHERE visitor_id = $1 AND msg_id = $2`, visitor, msg)
	var got bot.Upload
	var created dbTime
	if err := row.Scan(&got.ID, &got.Visitor, &got.MsgID, &got.MIME, &got.Size, &created); err != nil {
		return bot.Upload{}, fmt.Errorf("store: save upload: %w", uploadNotFound(err))
	}
	got.Created = created.t
	return got, nil
}

func uploadNotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w (%w)", ErrNotFound, bot.ErrNoUpload)
	}
	return err
}

// Upload returns the upload with this id, bytes included. An unknown or
// malformed id is an error wrapping both ErrNotFound and bot.ErrNoUpload.
func (u *Uploads) Upload(ctx context.Context, id string) (bot.Upload, error) {
	if !uploadIDRE.MatchString(id) {
		return bot.Upload{}, fmt.Errorf("store: upload: %w", uploadNotFound(sql.ErrNoRows))
	}
	row := u.r.QueryRowContext(ctx, `SELECT id, visitor_id, msg_id, mime, size, bytes, created_at FROM web_uploads WHERE id = $1`, id)
	var up bot.Upload
	var created dbTime
	if err := row.Scan(&up.ID, &up.Visitor, &up.MsgID, &up.MIME, &up.Size, &up.Data, &created); err != nil {
		return bot.Upload{}, fmt.Errorf("store: upload %s: %w", id, uploadNotFound(err))
	}
	up.Created = created.t
	return up, nil
}

// OpenMedia opens a web chat upload by its "web:<id>" ref, for the Telegram
// adapter to upload (telegram.MediaSource). Other refs are refused with
// bot.ErrRejected.
func (u *Uploads) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	id, ok := strings.CutPrefix(ref, bot.WebRefPrefix)
	if !ok {
		return bot.Media{}, nil, fmt.Errorf("store: %q is not a web chat upload: %w", ref, bot.ErrRejected)
	}
	up, err := u.Upload(ctx, id)
	if errors.Is(err, bot.ErrNoUpload) {
		// deleted (retention) or never there: trying again cannot help
		return bot.Media{}, nil, fmt.Errorf("%w: %w", err, bot.ErrRejected)
	}
	if err != nil {
		return bot.Media{}, nil, err
	}
	ext := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}[up.MIME]
	md := bot.Media{Kind: bot.MediaPhoto, Ref: ref, Name: "photo" + ext, MIME: up.MIME, Size: up.Size}
	return md, io.NopCloser(bytes.NewReader(up.Data)), nil
}

// DeleteUploadsBefore deletes the uploads created before cutoff (the
// transcript retention job calls it with the transcripts' cutoff) and
// returns how many it deleted.
func (u *Uploads) DeleteUploadsBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := u.w.ExecContext(ctx, `DELETE FROM web_uploads WHERE created_at < $1 AND visitor_id <> $2`, u.at(cutoff), BroadcastImages)
	if err != nil {
		return 0, fmt.Errorf("store: delete uploads: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// BroadcastImages is the owner of broadcasts' images among the uploads (no
// web chat visitor id looks like it): every recipient gets a copy, and the
// transcript retention leaves them, since a recurring broadcast keeps
// sending its image.
const BroadcastImages = "broadcasts"

// DeleteVisitorUploads deletes every upload of a web chat visitor (with
// their transcript) and returns how many it deleted.
func (u *Uploads) DeleteVisitorUploads(ctx context.Context, visitor string) (int64, error) {
	res, err := u.w.ExecContext(ctx, `DELETE FROM web_uploads WHERE visitor_id = $1`, clean(visitor))
	if err != nil {
		return 0, fmt.Errorf("store: delete uploads of a visitor: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
