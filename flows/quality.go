package flows

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxMessageRunes is the length of a message (in Vietnamese, in
// characters) over which Check warns: one action per message.
const MaxMessageRunes = 350

// report records one issue at a path of the file being checked.
type report func(warning bool, kind IssueKind, path []any, msg string)

// provenance checks where content comes from: sources (http(s) addresses),
// owner and the verified date. In a strict layer a missing one is an
// error, elsewhere a warning. prefix is the YAML path of the keys (nil for
// a flow's top level), anchor the path a missing key is reported at; what
// names the content in messages.
func (v *validator) provenance(strict bool, lines map[string]int, prefix, anchor []any, what string,
	sources []string, verified, owner string, at report) {
	p := func(rest ...any) []any { return append(append([]any{}, prefix...), rest...) }
	missing := func(key, msg string) {
		path := p(key)
		if !has(lines, path...) {
			path = anchor
		}
		at(!strict, IssueProvenance, path, what+" "+msg)
	}
	if len(sources) == 0 {
		missing("sources", "has no sources: list the https:// pages its steps come from (`sources:`)")
	}
	for i, src := range sources {
		if u, err := url.Parse(src); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			at(false, IssueBadURL, p("sources", i), fmt.Sprintf("source %q is not an http(s) address", src))
		}
	}
	if strings.TrimSpace(owner) == "" {
		missing("owner", "has no owner: name who keeps it true (`owner:` a team or a person to ask)")
	}
	if !has(lines, p("verified")...) {
		missing("verified", "has no verified date: write the day it was checked against its sources (`verified: 2026-01-15`)")
		return
	}
	d, err := time.Parse(time.DateOnly, verified)
	switch {
	case err != nil:
		at(false, IssueSyntax, p("verified"), fmt.Sprintf("verified %q must be a date like 2026-01-15", verified))
	case v.today == "":
	case d.Format(time.DateOnly) > v.today:
		at(false, IssueFutureDate, p("verified"), fmt.Sprintf("verified %s is after today (%s): write the day the steps were really checked against their sources",
			verified, v.today))
	case v.maxAge >= 0:
		today, _ := time.Parse(time.DateOnly, v.today)
		if days := int(today.Sub(d).Hours() / 24); days > v.maxAge {
			at(true, IssueStale, p("verified"), fmt.Sprintf("verified %s is %d days old (more than %d): check %s against its sources again and update verified",
				verified, days, v.maxAge, what))
		}
	}
}

// long warns about a message whose Vietnamese text is over MaxMessageRunes.
func (v *validator) long(f *Flow, step, what string, t Text, path []any) {
	if n := utf8.RuneCountInString(t[defaultLang]); n > MaxMessageRunes {
		v.issues = append(v.issues, Issue{File: f.file, Line: lineOf(f.lines, path...), Flow: f.ID, Step: step, Kind: IssueLongMessage, Warning: true,
			Msg: fmt.Sprintf("%s (vi) is %d characters, over %d: one action per message — split it into steps", what, n, MaxMessageRunes)})
	}
}

// secret reports a typed-answer question that asks for an ID number, an
// OTP or a password.
func (v *validator) secret(f *Flow, step string, t Text, path []any) {
	for _, lang := range sortedKeys(t) {
		if phrase := AsksForSecret(t[lang]); phrase != "" {
			v.at(f, step, IssueAsksSecret, path, "the question (%s) asks the resident to type a secret (%q): never ask for a full ID number, an OTP or a password in the chat; tell them to type it only into the official app or site",
				lang, phrase)
			return
		}
	}
}

// Secret-asking patterns, on match keys (lower case, no diacritics, only
// letters, digits and spaces). A verb of giving, then at most three
// other words, then a secret; or "what is your secret".
var (
	secretNoun = `(?:so (?:can cuoc|cccd|cmnd|dinh danh|the can cuoc)(?: cong dan)?|cccd|cmnd|ma (?:otp|xac thuc|xac nhan|pin)|otp|mat khau|passcode|pass|ma bao ve|` +
		`(?:full )?id (?:card )?number|citizen id|one time (?:code|password)|verification code|password|pin(?: code)?)`
	secretVerb = `(?:nhap|go|gui|cho (?:minh|em|toi|chau|con|bot)|cung cap|dien|doc|ghi|viet|nhan tin|chup|dan|` +
		`type|send|enter|give|tell|share|write|paste|reply with)`
	secretFiller = `(?:lai|vao day|o day|giup|giup minh|xin|cho (?:minh|em|toi|chau|con|bot)|ca|day du|du|moi|nay|do|` +
		`vua nhan|vua nhan duoc|12 so|6 so|me|us|your|the|full|here|now|please)`
	secretAsk = regexp.MustCompile(`\b` + secretVerb + `(?: ` + secretFiller + `){0,3} ` + secretNoun + `\b` +
		`|\b` + secretNoun + `(?: cua (?:bac|ban|anh|chi|ong|ba|co|chu))? (?:la gi|la bao nhieu|la so may)\b` +
		`|\bwhat (?:is|s) your ` + secretNoun + `\b`)
	// secretNegation words, before the match in the same clause, turn an
	// ask into a warning ("đừng gửi mã OTP cho ai").
	secretNegation = regexp.MustCompile(`\b(?:dung|khong|chang|cam|tuyet doi|chua bao gio|never|don t|do not|not|no one|nobody)\b`)
	// secretElsewhere later in the clause says where to type it: the
	// official app or site, not this chat ("nhập mật khẩu vào app VNeID").
	secretElsewhere = regexp.MustCompile(`\b(?:vao|tren|into|in|on) (?:o|app|ung dung|vneid|trang|man hinh|the app|the site|the page|the website|website|dichvucong)\b`)
	clauseSplit     = regexp.MustCompile(`[.!?;:\n,]+`)
)

// AsksForSecret returns the phrase of text (a question) that asks the
// resident to type or send a full ID number, an OTP or a password into the
// chat, or "" if there is none. Warnings not to ("đừng gửi mã OTP cho ai",
// "never send your password") and instructions to type it into the official
// app ("nhập mã OTP vào app") are not asks.
func AsksForSecret(text string) string {
	for _, clause := range clauseSplit.Split(Normalize(text), -1) {
		key := MatchKey(clause)
		for _, loc := range secretAsk.FindAllStringIndex(key, -1) {
			if secretNegation.MatchString(key[:loc[1]]) || secretElsewhere.MatchString(key[loc[1]:]) {
				continue
			}
			return key[loc[0]:loc[1]]
		}
	}
	return ""
}
