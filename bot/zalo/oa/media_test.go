package oa

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

// A Zalo OA resident's photo can be opened by its ref, for a volunteer on
// Telegram; its type comes from its bytes.
func TestOpenMedia(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.api.AddFile("cccd.jpg", "application/octet-stream", jpegBytes)
	f.api.AddFile("don.pdf", "image/png", []byte("%PDF-1.7\n"+string(make([]byte, 100))))
	for _, tt := range []struct {
		name string
		kind bot.MediaKind
		mime string
		data []byte
	}{
		{"cccd.jpg", bot.MediaPhoto, "image/jpeg", jpegBytes},
		{"don.pdf", bot.MediaDocument, "application/pdf", nil},
	} {
		ref := RefPrefix + f.api.FileURL(tt.name)
		md, rc, err := f.a.OpenMedia(context.Background(), ref)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if md.Kind != tt.kind || md.MIME != tt.mime || md.Ref != ref || md.Size != int64(len(data)) {
			t.Fatalf("%s: %+v", tt.name, md)
		}
		if tt.data != nil && !bytes.Equal(data, tt.data) {
			t.Fatalf("%s: bytes differ", tt.name)
		}
	}
}

// The resident's photo, relayed through the webhook, reaches the core
// with a ref OpenMedia opens.
func TestInboundPhotoOpens(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.api.AddFile("p.jpg", "image/jpeg", jpegBytes)
	f.run(t)
	f.post(t, oatest.UserImage(oatest.UserID(1), "m1", f.api.FileURL("p.jpg"), "giấy tờ", f.clock.Now()))
	in := f.rec.wait(t, 1)[0]
	if in.Kind != bot.InMedia || in.Media == nil || in.Media.Kind != bot.MediaPhoto || in.Text != "giấy tờ" {
		t.Fatalf("got %+v", in)
	}
	_, rc, err := f.a.OpenMedia(context.Background(), in.Media.Ref)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, jpegBytes) {
		t.Fatal("bytes differ")
	}
}

func TestOpenMediaRefusals(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.api.AddFile("huge.bin", "", make([]byte, MaxFetch+1))
	for _, ref := range []string{
		"telegram:AgAD", "web:0123", "zalo-oa:", "zalo-oa:ftp://f.zdn.vn/x", "zalo-oa:/etc/passwd",
		"zalo-oa:" + f.api.FileURL("missing"), "zalo-oa:" + f.api.FileURL("huge.bin"),
	} {
		md, rc, err := f.a.OpenMedia(context.Background(), ref)
		if rc != nil {
			rc.Close()
		}
		if !errors.Is(err, bot.ErrRejected) {
			t.Fatalf("%s: %+v, %v; want ErrRejected", ref, md, err)
		}
	}
}

// Outside tests, files are fetched from public addresses only.
func TestOpenMediaRefusesPrivateAddresses(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowPrivateMedia = false }, nil)
	f.api.AddFile("p.jpg", "image/jpeg", jpegBytes)
	_, rc, err := f.a.OpenMedia(context.Background(), RefPrefix+f.api.FileURL("p.jpg"))
	if rc != nil {
		rc.Close()
	}
	if !errors.Is(err, bot.ErrRejected) {
		t.Fatalf("err %v, want ErrRejected", err)
	}
}
