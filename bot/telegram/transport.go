package telegram

import (
	"bytes"
	"io"
	"net/http"
)

// maxBuffered is the largest request body bufferBodies sends in one piece;
// a larger one (a photo upload) sends the rest as it comes.
const maxBuffered = 64 << 10

// bufferBodies sends a Bot API call's body in one piece with its length.
// go-telegram/bot streams each call's multipart form through an io.Pipe,
// which net/http sends chunked: a write, so a system call, for every part
// of the form — a third of gocua's CPU under load went to them
// (cmd/gocua-load's profile). A body of at most maxBuffered bytes is read
// first and sent with a Content-Length; a longer one is sent as before,
// its first maxBuffered bytes in one chunk.
type bufferBodies struct{ next http.RoundTripper }

func (b bufferBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength > 0 {
		return b.next.RoundTrip(r)
	}
	buf := make([]byte, 0, 4<<10)
	w := bytes.NewBuffer(buf)
	_, err := io.CopyN(w, r.Body, maxBuffered+1)
	switch {
	case err == io.EOF: // all of it
		_ = r.Body.Close()
		body := w.Bytes()
		r2 := r.Clone(r.Context())
		r2.ContentLength = int64(len(body))
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		return b.next.RoundTrip(r2)
	case err != nil:
		_ = r.Body.Close()
		return nil, err
	}
	r2 := r.Clone(r.Context())
	r2.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(w.Bytes()), r.Body), r.Body}
	return b.next.RoundTrip(r2)
}

// withBufferedBodies returns a copy of c whose transport is wrapped in
// bufferBodies.
func withBufferedBodies(c *http.Client) *http.Client {
	cc := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = bufferBodies{next: next}
	return &cc
}
