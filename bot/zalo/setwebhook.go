package zalo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

type setWebhookParams struct {
	URL         string `json:"url"`
	SecretToken string `json:"secret_token"`
}

// webhookInfo is getWebhookInfo's (and setWebhook's) result. Zalo never
// returns the secret.
type webhookInfo struct {
	URL string `json:"url"`
}

// SetWebhook registers PublicURL + WebhookPath with the webhook secret
// (setWebhook). Zalo then stops answering getUpdates: webhook and polling
// exclude each other.
func (a *Adapter) SetWebhook(ctx context.Context) error {
	hook, err := webhookURL(a.cfg.PublicURL)
	if err != nil {
		return err
	}
	if err := checkSecret(a.cfg.WebhookSecret); err != nil {
		return err
	}
	var info webhookInfo
	if err := a.call(ctx, "setWebhook", setWebhookParams{URL: hook, SecretToken: a.cfg.WebhookSecret}, &info); err != nil {
		return err
	}
	if info.URL != "" && !sameURL(info.URL, hook) {
		return fmt.Errorf("zalo: setWebhook registered %q, not %q", a.redactString(info.URL), hook)
	}
	return nil
}

// CheckWebhook asks Zalo where it delivers events (getWebhookInfo) and
// returns a warning for the operator when that is not this adapter's
// webhook — none registered, or another address (a registered webhook also
// silences getUpdates) — and "" when it is.
func (a *Adapter) CheckWebhook(ctx context.Context) (string, error) {
	hook, err := webhookURL(a.cfg.PublicURL)
	if err != nil {
		return "", err
	}
	var info webhookInfo
	if err := a.call(ctx, "getWebhookInfo", struct{}{}, &info); err != nil {
		return "", err
	}
	switch got := a.redactString(info.URL); {
	case got == "":
		return fmt.Sprintf("no Zalo bot webhook is registered: Zalo delivers nothing to %s until `gocua webhook set` registers it", hook), nil
	case !sameURL(got, hook):
		return fmt.Sprintf("the Zalo bot webhook is registered at %q, not %q: events go elsewhere until `gocua webhook set` registers this one", got, hook), nil
	}
	return "", nil
}

// sameURL compares webhook addresses, ignoring a trailing slash.
func sameURL(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

// webhookURL checks the public base URL (Zalo calls only https) and
// appends the webhook path.
func webhookURL(public string) (string, error) {
	if public == "" {
		return "", errors.New("zalo: GOCUA_PUBLIC_URL is empty")
	}
	u, err := url.Parse(public)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("zalo: GOCUA_PUBLIC_URL %q is not an https URL", public)
	}
	return strings.TrimRight(public, "/") + WebhookPath, nil
}

// checkSecret enforces Zalo's rule for secret_token: 8 to 256 characters.
func checkSecret(s string) error {
	switch n := len([]rune(s)); {
	case s == "":
		return errors.New("zalo: GOCUA_ZALO_BOT_WEBHOOK_SECRET is empty")
	case n < 8 || n > 256:
		return errors.New("zalo: GOCUA_ZALO_BOT_WEBHOOK_SECRET must be 8 to 256 characters")
	}
	return nil
}
