package telegram

import (
	"context"
	"fmt"
	"sync"
)

// botName is the bot's username, asked of Telegram once (getMe) and kept.
type botName struct {
	mu   sync.Mutex
	name string
}

// Username returns the bot's username (without "@"), for t.me links such
// as the area posters'. It asks Telegram the first time only; a failure is
// returned and asked again next time.
func (a *Adapter) Username(ctx context.Context) (string, error) {
	a.name.mu.Lock()
	defer a.name.mu.Unlock()
	if a.name.name != "" {
		return a.name.name, nil
	}
	me, err := a.client.GetMe(ctx)
	if err != nil {
		return "", fmt.Errorf("telegram: getMe: %w", err)
	}
	if me == nil || me.Username == "" {
		return "", fmt.Errorf("telegram: getMe gave no username")
	}
	a.name.name = me.Username
	return me.Username, nil
}
