package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/webchat"
	"github.com/gocua/gocua/bot/zalo"
	"github.com/gocua/gocua/flows"
)

// Files between channels, by ref. The web chat keeps its photos in the
// durable store (web_uploads); Telegram keeps volunteers' files; Zalo keeps
// residents' photos at its addresses; the flows keep their guides'
// pictures. An adapter that uploads bytes (Telegram, the Zalo OA) opens a
// ref through m.media (each prefix read by whoever keeps it); one that
// stores its own copy (the web chat, the Zalo bot) fetches Telegram files
// and pictures through fetchers.

// telegramOptions are the Telegram adapter's options.
func (m *Main) telegramOptions() []telegram.Option {
	return []telegram.Option{telegram.WithMediaSource(&m.media)}
}

// webChatConfig is the web chat's configuration. Call it after the
// Telegram adapter is made.
func (m *Main) webChatConfig() webchat.Config {
	cfg := webchat.Config{Origins: m.Config.WebChat.Origins, Keys: keySource{m.DB}, Uploads: m.DB.Uploads(), Media: m.fetchers()}
	if m.WebTune != nil {
		m.WebTune(&cfg)
	}
	return cfg
}

// flowImages reads the guides' pictures from the flows the core runs now.
type flowImages struct{ svc *bot.Service }

// OpenMedia implements the media source of "flow:" refs.
func (f flowImages) OpenMedia(_ context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	data, mime, err := f.svc.Flows().OpenImage(ref)
	if err != nil {
		return bot.Media{}, nil, fmt.Errorf("guide picture: %w: %w", err, bot.ErrRejected)
	}
	return bot.Media{Kind: bot.MediaPhoto, Ref: ref, MIME: mime, Size: int64(len(data))}, io.NopCloser(bytes.NewReader(data)), nil
}

// fetcher downloads a file by ref (telegram.Adapter.FetchMedia's shape).
type fetcher interface {
	FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error)
}

// fetchers reads Telegram files (when Telegram is on) through Telegram,
// and every other ref (a guide's picture, an https picture) through the
// same sources m.media routes to.
type fetchers struct {
	telegram fetcher // nil when Telegram is off
	media    *mediaSource
}

func (m *Main) fetchers() fetchers {
	f := fetchers{media: &m.media}
	if m.Telegram != nil { // never a nil *telegram.Adapter in the interface
		f.telegram = m.Telegram
	}
	return f
}

// FetchMedia implements webchat.MediaFetcher and zalo.Fetcher.
func (f fetchers) FetchMedia(ctx context.Context, ref string, max int64) (io.ReadCloser, int64, error) {
	if strings.HasPrefix(ref, "telegram:") {
		if f.telegram == nil {
			return nil, 0, fmt.Errorf("media %s: Telegram is off: %w", clipRef(ref), bot.ErrRejected)
		}
		return f.telegram.FetchMedia(ctx, ref, max)
	}
	md, rc, err := f.media.OpenMedia(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	if md.Size > max {
		rc.Close()
		return nil, 0, fmt.Errorf("media %s is %d bytes, over %d: %w", clipRef(ref), md.Size, max, bot.ErrRejected)
	}
	return rc, md.Size, nil
}

// webImages reads the pictures guides name by an https address, with the
// client that refuses the host's own network (zalo.NewFetchClient).
type webImages struct{ c *http.Client }

// maxWebImage is the largest picture read from an address (flows.MaxImageBytes).
const maxWebImage = flows.MaxImageBytes

// OpenMedia implements the media source of "https://" refs.
func (w webImages) OpenMedia(ctx context.Context, ref string) (bot.Media, io.ReadCloser, error) {
	rc, size, mime, err := zalo.Fetch(ctx, w.c, ref, maxWebImage)
	if err != nil {
		return bot.Media{}, nil, err
	}
	return bot.Media{Kind: bot.MediaPhoto, Ref: ref, MIME: mime, Size: max(size, 0)}, rc, nil
}

// mediaClient downloads pictures from addresses: MediaClient when a test
// set one, else one that refuses private addresses (unless AllowPrivateMedia).
func (m *Main) mediaClient() *http.Client {
	if m.MediaClient != nil {
		return m.MediaClient
	}
	return zalo.NewFetchClient(m.AllowPrivateMedia)
}
