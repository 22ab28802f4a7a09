package webchat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gocua/gocua/bot"
)

// keyedHistory is an in-memory History that behaves like the store's:
// per conversation, increasing sequence numbers, an id appended among the
// latest 50 is not appended again.
type keyedHistory struct {
	mu    sync.Mutex
	items map[bot.ConvKey][]bot.HistoryItem
	err   error // when set, every call fails with it
}

func newKeyedHistory() *keyedHistory {
	return &keyedHistory{items: make(map[bot.ConvKey][]bot.HistoryItem)}
}

func (h *keyedHistory) AppendHistory(_ context.Context, key bot.ConvKey, id string, msg []byte) (int64, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return 0, false, h.err
	}
	list := h.items[key]
	if id != "" {
		for _, it := range list[max(len(list)-50, 0):] {
			if it.ID == id {
				return it.Seq, false, nil
			}
		}
	}
	var seq int64 = 1
	if len(list) > 0 {
		seq = list[len(list)-1].Seq + 1
	}
	h.items[key] = append(list, bot.HistoryItem{Seq: seq, ID: id, Data: bytes.Clone(msg)})
	return seq, true, nil
}

func (h *keyedHistory) History(_ context.Context, key bot.ConvKey, since int64) ([]bot.HistoryItem, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, h.err
	}
	var out []bot.HistoryItem
	for _, it := range h.items[key] {
		if it.Seq > since {
			out = append(out, it)
		}
	}
	return out, nil
}

// memUploads is an in-memory Uploads with the store's rules.
type memUploads struct {
	mu    sync.Mutex
	byID  map[string]bot.Upload
	saves int
	err   error // when set, every call fails with it
}

func newMemUploads() *memUploads { return &memUploads{byID: make(map[string]bot.Upload)} }

func (u *memUploads) SaveUpload(_ context.Context, up bot.Upload) (bot.Upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return bot.Upload{}, u.err
	}
	if up.Visitor == "" || up.MsgID == "" || !bot.UploadMIME(up.MIME) || len(up.Data) == 0 || len(up.Data) > bot.MaxUpload {
		return bot.Upload{}, fmt.Errorf("memUploads: refused %s/%s %s %d bytes", up.Visitor, up.MsgID, up.MIME, len(up.Data))
	}
	for _, x := range u.byID {
		if x.Visitor == up.Visitor && x.MsgID == up.MsgID {
			x.Data = nil
			return x, nil
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	up.ID, up.Size, up.Data = hex.EncodeToString(b[:]), int64(len(up.Data)), bytes.Clone(up.Data)
	u.byID[up.ID] = up
	u.saves++
	up.Data = nil
	return up, nil
}

func (u *memUploads) Upload(_ context.Context, id string) (bot.Upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return bot.Upload{}, u.err
	}
	up, ok := u.byID[id]
	if !ok {
		return bot.Upload{}, fmt.Errorf("memUploads: %s: %w", id, bot.ErrNoUpload)
	}
	up.Data = bytes.Clone(up.Data)
	return up, nil
}

func (u *memUploads) all() []bot.Upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []bot.Upload
	for _, up := range u.byID {
		out = append(out, up)
	}
	return out
}

// fakeFetcher serves "telegram:" files from memory, like the Telegram adapter.
type fakeFetcher struct {
	mu    sync.Mutex
	files map[string][]byte
	fail  error // when set, fetches fail with it
	calls int
}

func newFakeFetcher() *fakeFetcher { return &fakeFetcher{files: make(map[string][]byte)} }

func (f *fakeFetcher) add(ref string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[ref] = data
}

func (f *fakeFetcher) FetchMedia(_ context.Context, ref string, limit int64) (io.ReadCloser, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fail != nil {
		return nil, 0, f.fail
	}
	data, ok := f.files[ref]
	if !ok {
		return nil, 0, errors.New("fakeFetcher: getFile: Bad Request: wrong file_id")
	}
	if int64(len(data)) > limit {
		return nil, 0, fmt.Errorf("fakeFetcher: %d bytes over %d: %w", len(data), limit, bot.ErrRejected)
	}
	return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
}
