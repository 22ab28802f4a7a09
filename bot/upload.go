package bot

import (
	"errors"
	"time"
)

// Upload is a file kept in the durable store for the web chat: a photo a
// resident uploaded, or one a volunteer sent a web chat resident (fetched
// from Telegram). Its Ref is "web:<ID>". Only its visitor may read it.
type Upload struct {
	// ID is random and unguessable (32 hex digits); it names the upload in
	// URLs and refs.
	ID string
	// Visitor is the web chat visitor id (ChatID) the upload belongs to.
	Visitor string
	// MsgID is the message it came with: saving an upload again for the
	// same visitor and message (a retried POST, a retried delivery) keeps
	// the first.
	MsgID   string
	MIME    string // detected from the bytes, never the client's claim
	Size    int64
	Data    []byte
	Created time.Time
}

// ErrNoUpload: there is no upload with this id (or it was deleted).
var ErrNoUpload = errors.New("bot: no such upload")

// MaxUpload is the largest web chat photo kept, in bytes (5 MiB).
const MaxUpload = 5 << 20

// UploadMIME reports whether mime is a type web chat uploads may have:
// JPEG, PNG or WebP.
func UploadMIME(mime string) bool {
	switch mime {
	case "image/jpeg", "image/png", "image/webp":
		return true
	}
	return false
}

// WebRefPrefix starts the Media.Ref of a web chat upload: "web:<id>".
const WebRefPrefix = "web:"

// FlowRefPrefix starts the Media.Ref of a guide's picture, kept with the
// flows (flows.Set.OpenImage): "flow:<hash of its bytes>".
const FlowRefPrefix = "flow:"
