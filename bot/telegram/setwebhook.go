package telegram

import (
	"context"
	"errors"
	"fmt"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Command is one entry of the bot's command menu.
type Command struct {
	Name        string
	Description string
}

// AllowedUpdates is the explicit list of update kinds gocua asks for (an
// omitted list would keep whatever was set before).
var AllowedUpdates = []string{
	models.AllowedUpdateMessage,
	models.AllowedUpdateEditedMessage,
	models.AllowedUpdateCallbackQuery,
	models.AllowedUpdateMyChatMember,
}

// SetWebhook registers PublicURL/webhook/telegram with the secret and the
// allowed updates, then the command menu: cmds["vi"] becomes the default
// menu (and Vietnamese), every other language its own.
func (a *Adapter) SetWebhook(ctx context.Context, cmds map[string][]Command) error {
	if a.cfg.PublicURL == "" {
		return errors.New("telegram: public URL is empty")
	}
	if a.cfg.WebhookSecret == "" {
		return errors.New("telegram: webhook secret is empty")
	}
	ok, err := a.client.SetWebhook(ctx, &tgbot.SetWebhookParams{
		URL:            a.cfg.PublicURL + "/webhook/telegram",
		SecretToken:    a.cfg.WebhookSecret,
		AllowedUpdates: AllowedUpdates,
		MaxConnections: 40,
	})
	if err != nil {
		return fmt.Errorf("telegram: setWebhook: %w", err)
	}
	if !ok {
		return errors.New("telegram: setWebhook returned false")
	}
	set := func(lang string, list []Command) error {
		bc := make([]models.BotCommand, len(list))
		for i, c := range list {
			bc[i] = models.BotCommand{Command: c.Name, Description: c.Description}
		}
		if _, err := a.client.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{
			Commands: bc, Scope: &models.BotCommandScopeAllPrivateChats{}, LanguageCode: lang,
		}); err != nil {
			return fmt.Errorf("telegram: setMyCommands %q: %w", lang, err)
		}
		return nil
	}
	if vi, ok := cmds["vi"]; ok {
		if err := set("", vi); err != nil {
			return err
		}
	}
	for lang, list := range cmds {
		if err := set(lang, list); err != nil {
			return err
		}
	}
	return nil
}
