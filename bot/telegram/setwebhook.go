package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Command is one entry of the bot's command menu. Descriptions are
// user-facing: the caller loads them from the locale files.
type Command struct {
	Name        string
	Description string
}

// DefaultCommandLang is the language whose command list also becomes the
// menu for users whose language has none.
const DefaultCommandLang = "vi"

// AllowedUpdates is the explicit list of update kinds gocua asks for. It is
// always sent: an omitted list keeps whatever was set before.
func AllowedUpdates() []string {
	return []string{
		models.AllowedUpdateMessage,
		models.AllowedUpdateEditedMessage,
		models.AllowedUpdateCallbackQuery,
		models.AllowedUpdateMyChatMember,
	}
}

// SetWebhook registers PublicURL + /webhook/telegram with the secret, the
// allowed updates and 40 connections, then the residents' command menu in
// private chats: cmds[DefaultCommandLang] as the default menu and every
// language's list under its own language_code.
func (a *Adapter) SetWebhook(ctx context.Context, cmds map[string][]Command) error {
	hook, err := webhookURL(a.cfg.PublicURL)
	if err != nil {
		return err
	}
	if err := checkSecret(a.cfg.WebhookSecret); err != nil {
		return err
	}
	ok, err := a.client.SetWebhook(ctx, &tgbot.SetWebhookParams{
		URL:            hook,
		SecretToken:    a.cfg.WebhookSecret,
		AllowedUpdates: AllowedUpdates(),
		MaxConnections: 40,
	})
	if err != nil {
		return fmt.Errorf("telegram: setWebhook: %w", err)
	}
	if !ok {
		return errors.New("telegram: setWebhook was not accepted")
	}
	if def, found := cmds[DefaultCommandLang]; found {
		if err := a.setCommands(ctx, "", def); err != nil {
			return err
		}
	}
	langs := make([]string, 0, len(cmds))
	for lang := range cmds {
		langs = append(langs, lang)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		if err := a.setCommands(ctx, lang, cmds[lang]); err != nil {
			return err
		}
	}
	return nil
}

func (a *Adapter) setCommands(ctx context.Context, lang string, list []Command) error {
	bc := make([]models.BotCommand, len(list))
	for i, c := range list {
		bc[i] = models.BotCommand{Command: c.Name, Description: c.Description}
	}
	_, err := a.client.SetMyCommands(ctx, &tgbot.SetMyCommandsParams{
		Commands:     bc,
		Scope:        &models.BotCommandScopeAllPrivateChats{},
		LanguageCode: lang,
	})
	if err != nil {
		return fmt.Errorf("telegram: setMyCommands %q: %w", lang, err)
	}
	return nil
}

// webhookURL checks the public base URL (Telegram calls only https) and
// appends the webhook path.
func webhookURL(public string) (string, error) {
	if public == "" {
		return "", errors.New("telegram: GOCUA_PUBLIC_URL is empty")
	}
	u, err := url.Parse(public)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("telegram: GOCUA_PUBLIC_URL %q is not an https URL", public)
	}
	return strings.TrimRight(public, "/") + WebhookPath, nil
}

// checkSecret enforces Telegram's rule for secret_token: 1–256 characters
// from A–Z, a–z, 0–9, _ and -.
func checkSecret(s string) error {
	if s == "" {
		return errors.New("telegram: GOCUA_TELEGRAM_WEBHOOK_SECRET is empty")
	}
	if len(s) > 256 {
		return errors.New("telegram: GOCUA_TELEGRAM_WEBHOOK_SECRET is longer than 256 characters")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return errors.New("telegram: GOCUA_TELEGRAM_WEBHOOK_SECRET may only hold A-Z, a-z, 0-9, _ and -")
		}
	}
	return nil
}
