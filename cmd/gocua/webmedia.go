package main

import (
	"github.com/gocua/gocua/bot/telegram"
	"github.com/gocua/gocua/bot/webchat"
)

// Photos between web chat residents and Telegram volunteers: the web chat
// keeps them in the durable store (web_uploads); the Telegram adapter
// uploads a web resident's photo from there (telegram.WithMediaSource), and
// the web chat fetches a volunteer's photo through the Telegram adapter
// (webchat.MediaFetcher) when Telegram is on.

// telegramOptions are the Telegram adapter's options.
func (m *Main) telegramOptions() []telegram.Option {
	return []telegram.Option{telegram.WithMediaSource(&m.media)}
}

// webChatConfig is the web chat's configuration. Call it after the
// Telegram adapter is made.
func (m *Main) webChatConfig() webchat.Config {
	cfg := webchat.Config{Origins: m.Config.WebChat.Origins, Keys: keySource{m.DB}, Uploads: m.DB.Uploads()}
	if m.WebTune != nil {
		m.WebTune(&cfg)
	}
	if m.Telegram != nil { // never a nil *telegram.Adapter in the interface
		cfg.Media = m.Telegram
	}
	return cfg
}
