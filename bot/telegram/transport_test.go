package telegram

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A streamed body (as go-telegram/bot's io.Pipe gives) of up to
// maxBuffered bytes goes out in one piece with its Content-Length; a
// longer one is sent whole, chunked; either arrives intact.
func TestBufferBodies(t *testing.T) {
	type got struct {
		length  int64
		chunked bool
		body    []byte
	}
	seen := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- got{r.ContentLength, len(r.TransferEncoding) > 0 && r.TransferEncoding[0] == "chunked", b}
	}))
	defer srv.Close()
	c := withBufferedBodies(srv.Client())
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
	}{{"small", 900, false}, {"exactly the limit", maxBuffered, false}, {"large", 3*maxBuffered + 7, true}} {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Repeat([]byte("ảnh"), tc.size/len("ảnh")+1)[:tc.size]
			pr, pw := io.Pipe()
			go func() {
				for rest := want; len(rest) > 0; { // many small writes, as a multipart writer makes
					n := min(len(rest), 100)
					if _, err := pw.Write(rest[:n]); err != nil {
						return
					}
					rest = rest[n:]
				}
				pw.Close()
			}()
			req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			g := <-seen
			if !bytes.Equal(g.body, want) {
				t.Fatalf("body of %d bytes arrived as %d bytes", len(want), len(g.body))
			}
			if g.chunked != tc.chunked || !tc.chunked && g.length != int64(tc.size) {
				t.Errorf("Content-Length %d, chunked %v; want chunked %v", g.length, g.chunked, tc.chunked)
			}
		})
	}
	// a body of known length, or none, passes as it is
	resp, err := c.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if g := <-seen; g.length != 1 || g.chunked {
		t.Errorf("a sized body went out as %+v", g)
	}
}
