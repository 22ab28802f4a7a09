package config

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
)

// redacted is what a set secret looks like wherever it is printed.
const redacted = "[redacted]"

// Secret is a configuration value that must never be printed: a token, a key,
// or a connection URL that may carry a password. Every way of showing it —
// fmt verbs (including %#v and %+v of a struct holding it), slog, JSON — gives
// "[redacted]" when it is set and "" when it is not. Reveal returns the value
// itself, for the one place that uses it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" when the secret is unset.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from showing the value.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format applies any fmt verb and flags to the redacted form, so no verb can
// print the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), s.String())
}

// MarshalJSON encodes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", s.String())), nil }

// LogValue implements slog.LogValuer with the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// redactURL returns u fit for a log: its password, and query parameters that
// look like credentials (password=, sslpassword=, token=…), replaced by
// "xxxxx". A value that does not parse as a URL is redacted whole, because it
// could be anything.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return redacted
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return redacted
		}
		for k := range q {
			lk := strings.ToLower(k)
			if strings.Contains(lk, "password") || strings.Contains(lk, "secret") ||
				strings.Contains(lk, "token") || strings.Contains(lk, "key") {
				q[k] = []string{"xxxxx"}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
