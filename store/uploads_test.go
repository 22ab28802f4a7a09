package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
)

// The web chat upload part of the durable-store contract (run from
// TestRecordsContract against both stores).

// pngBytes is the start of a PNG file and some bytes.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{7}, 100)...)

// testVisitor returns a visitor id of its own.
func testVisitor(t *testing.T) string {
	t.Helper()
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func testUploads(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	u := p.Uploads()
	v, other := testVisitor(t), testVisitor(t)
	saved, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: "m-1", MIME: "image/png", Data: pngBytes, Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !uploadIDRE.MatchString(saved.ID) || saved.Visitor != v || saved.MsgID != "m-1" || saved.MIME != "image/png" ||
		saved.Size != int64(len(pngBytes)) || !saved.Created.Equal(t0) || saved.Data != nil {
		t.Fatalf("saved = %+v", saved)
	}
	got, err := u.Upload(ctx, saved.ID)
	if err != nil || !bytes.Equal(got.Data, pngBytes) || got.Visitor != v || got.MIME != "image/png" || !got.Created.Equal(t0) {
		t.Fatalf("Upload = %+v, %v", got, err)
	}
	// a retry keeps the first copy
	again, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: "m-1", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff other")})
	if err != nil || again.ID != saved.ID || again.MIME != "image/png" {
		t.Fatalf("retried save = %+v, %v; want the first", again, err)
	}
	if got, _ := u.Upload(ctx, saved.ID); !bytes.Equal(got.Data, pngBytes) {
		t.Fatal("a retried save changed the bytes")
	}
	// the same message id of another visitor is another upload
	theirs, err := u.SaveUpload(ctx, bot.Upload{Visitor: other, MsgID: "m-1", MIME: "image/webp", Data: []byte("RIFF\x00\x00\x00\x00WEBPVP8 ")})
	if err != nil || theirs.ID == saved.ID || theirs.Visitor != other {
		t.Fatalf("other visitor's save = %+v, %v", theirs, err)
	}
	// exactly the limit is kept
	big := bytes.Repeat([]byte{1}, bot.MaxUpload)
	if _, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: "big", MIME: "image/jpeg", Data: big}); err != nil {
		t.Fatalf("%d bytes: %v", bot.MaxUpload, err)
	}
	// odd message ids (a relayed delivery's id) are stored cleaned, and found again
	odd := "tg:1/0 \x00 \xff 👨‍👩‍👧 \u202e"
	first, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: odd, MIME: "image/png", Data: pngBytes})
	if err != nil {
		t.Fatal(err)
	}
	if second, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: odd, MIME: "image/png", Data: pngBytes}); err != nil || second.ID != first.ID {
		t.Fatalf("odd id saved twice: %+v, %v", second, err)
	}

	// refused: nothing is stored
	before := p.count(t, `SELECT count(*) FROM web_uploads`)
	for name, bad := range map[string]bot.Upload{
		"no bytes":     {Visitor: v, MsgID: "b1", MIME: "image/png"},
		"too big":      {Visitor: v, MsgID: "b2", MIME: "image/png", Data: append(big, 0)},
		"gif":          {Visitor: v, MsgID: "b3", MIME: "image/gif", Data: []byte("GIF89a")},
		"html":         {Visitor: v, MsgID: "b4", MIME: "text/html", Data: []byte("<html>")},
		"no visitor":   {MsgID: "b5", MIME: "image/png", Data: pngBytes},
		"no message":   {Visitor: v, MIME: "image/png", Data: pngBytes},
		"huge message": {Visitor: v, MsgID: strings.Repeat("ạ", 1000), MIME: "image/png", Data: pngBytes},
		"guessable id": {ID: "1", Visitor: v, MsgID: "b6", MIME: "image/png", Data: pngBytes},
	} {
		if _, err := u.SaveUpload(ctx, bad); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
	if after := p.count(t, `SELECT count(*) FROM web_uploads`); after != before {
		t.Errorf("refused saves stored %d rows", after-before)
	}

	// not found
	for _, id := range []string{"", "nope", strings.Repeat("0", 32), strings.Repeat("A", 32), "../" + saved.ID, saved.ID + " "} {
		if _, err := u.Upload(ctx, id); !errors.Is(err, ErrNotFound) || !errors.Is(err, bot.ErrNoUpload) {
			t.Errorf("Upload(%q): %v, want ErrNotFound and bot.ErrNoUpload", id, err)
		}
	}

	// the Telegram adapter's media source
	md, rc, err := u.OpenMedia(ctx, "web:"+saved.ID)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(data, pngBytes) || md.Kind != bot.MediaPhoto || md.MIME != "image/png" || md.Size != int64(len(pngBytes)) ||
		md.Name != "photo.png" || md.Ref != "web:"+saved.ID {
		t.Fatalf("OpenMedia = %+v, %d bytes", md, len(data))
	}
	for _, ref := range []string{"telegram:AgAC", saved.ID, "web:" + strings.Repeat("0", 32), "web:"} {
		if _, _, err := u.OpenMedia(ctx, ref); !errors.Is(err, bot.ErrRejected) {
			t.Errorf("OpenMedia(%q): %v, want bot.ErrRejected", ref, err)
		}
	}
}

func testUploadsDelete(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	u := p.Uploads()
	v, other := testVisitor(t), testVisitor(t)
	// long ago, so the PostgreSQL database other tests share keeps theirs
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	save := func(visitor, msg string, at time.Time) string {
		t.Helper()
		up, err := u.SaveUpload(ctx, bot.Upload{Visitor: visitor, MsgID: msg, MIME: "image/png", Data: pngBytes, Created: at})
		if err != nil {
			t.Fatal(err)
		}
		return up.ID
	}
	oldest := save(v, "a", old)
	older := save(other, "b", old.Add(time.Hour))
	kept := save(other, "c", old.Add(48*time.Hour))
	mine := save(v, "d", old.Add(48*time.Hour))
	n, err := u.DeleteUploadsBefore(ctx, old.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("DeleteUploadsBefore = %d, %v; want 2", n, err)
	}
	for id, want := range map[string]bool{oldest: false, older: false, kept: true, mine: true} {
		if _, err := u.Upload(ctx, id); (err == nil) != want {
			t.Errorf("upload %s: %v, want kept %v", id, err, want)
		}
	}
	if n, err := u.DeleteVisitorUploads(ctx, v); err != nil || n != 1 {
		t.Fatalf("DeleteVisitorUploads = %d, %v; want 1", n, err)
	}
	if _, err := u.Upload(ctx, mine); !errors.Is(err, bot.ErrNoUpload) {
		t.Errorf("the visitor's upload survived: %v", err)
	}
	if _, err := u.Upload(ctx, kept); err != nil {
		t.Errorf("another visitor's upload went too: %v", err)
	}
	if n, err := u.DeleteVisitorUploads(ctx, testVisitor(t)); err != nil || n != 0 {
		t.Errorf("a visitor without uploads: %d, %v", n, err)
	}
}

// A flood of saves of one message (a retrying page, a retrying sender)
// stores it once; saves of different messages all land.
func testUploadsConcurrent(t *testing.T, p *recordsBackend) {
	ctx := context.Background()
	u := p.Uploads()
	v := testVisitor(t)
	var wg sync.WaitGroup
	ids := make([]string, 40)
	errs := make([]error, 40)
	for i := range ids {
		wg.Go(func() {
			msg := "same"
			if i%2 == 1 {
				msg = "m" + string(rune('a'+i))
			}
			up, err := u.SaveUpload(ctx, bot.Upload{Visitor: v, MsgID: msg, MIME: "image/png", Data: pngBytes})
			ids[i], errs[i] = up.ID, err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		if i%2 == 0 && ids[i] != ids[0] {
			t.Fatalf("save %d of the same message got %s, the first %s", i, ids[i], ids[0])
		}
	}
	if n := p.count(t, `SELECT count(*) FROM web_uploads WHERE visitor_id = $1`, v); n != 21 {
		t.Fatalf("%d rows, want 21", n)
	}
}
