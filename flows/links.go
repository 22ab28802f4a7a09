package flows

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/unicode/norm"
)

// Links are the lists the link checker (CheckLink, the `link` question)
// judges a host by. They are data: flows/bundled/links.yaml, overridable
// list by list by a flows directory's own links file. Every entry is a
// lower-case ASCII host name (or, for BaitWords, a word of one).
type Links struct {
	// Official domains: the host or any subdomain of one is official
	// (reason "listed").
	Official []string
	// OfficialSuffixes are domain suffixes reserved for the state ("gov.vn"):
	// any host under one is official too (reason "gov_vn"), even when it is
	// not listed, because only state bodies can register such a name.
	OfficialSuffixes []string
	// Stores are the app stores (the host or a subdomain): verdict store.
	Stores []string
	// Shorteners hide where a link goes: verdict suspicious.
	Shorteners []string
	// Reported are domains the authorities have warned about: verdict fake.
	Reported []string
	// BaitWords, inside a label of a host that is not official
	// ("dichvucong-online.com", "cvgov.com"), make it suspicious.
	BaitWords []string
}

// Link verdicts (the link_verdict variable).
const (
	LinkOfficial   = "official"   // a state site
	LinkStore      = "store"      // an app store page: check the publisher there
	LinkFake       = "fake"       // impersonates an official site, or is a reported scam
	LinkSuspicious = "suspicious" // hides or disguises where it goes
	LinkUnknown    = "unknown"    // nothing known either way (or not a link at all)
)

// Link reasons (the link_reason variable): why CheckLink decided.
const (
	ReasonListed    = "listed"           // official: an Official domain or a subdomain
	ReasonGovVN     = "gov_vn"           // official: under an OfficialSuffix, not listed
	ReasonStore     = "store"            // store: a Stores host
	ReasonReported  = "reported"         // fake: a Reported domain or a subdomain
	ReasonUserinfo  = "userinfo"         // fake: "https://dichvucong.gov.vn@evil.com" shows one name and opens another
	ReasonLookalike = "lookalike"        // fake: a label spelled like an official name ("dichvuc0ng", "dich-vu-cong", "vneld")
	ReasonShortener = "shortener"        // suspicious: a Shorteners host
	ReasonPunycode  = "punycode"         // suspicious: an international (xn--) name, which can imitate Latin letters
	ReasonIP        = "ip_address"       // suspicious: a bare IP address instead of a name
	ReasonGovWord   = "gov_word_not_gov" // suspicious: a BaitWord in a host that is not official
	ReasonNotListed = "not_listed"       // unknown: an ordinary host the lists say nothing about
	ReasonNotALink  = "not_a_link"       // unknown: the text holds no link or host name (Host is "")
)

// Variables a `link` question sets besides its own `save`.
const (
	VarLinkVerdict = "link_verdict"
	VarLinkReason  = "link_reason"
)

// LinkCheck is what CheckLink found.
type LinkCheck struct {
	Host    string // the host, lower-case ASCII, without "www." and a trailing dot; "" when the text holds no link
	Verdict string // LinkOfficial … LinkUnknown
	Reason  string // ReasonListed … ReasonNotALink
}

// maxLinkInput bounds the text CheckLink looks at.
const maxLinkInput = 2048

// CheckLink finds the first link or host name in text (with or without a
// scheme, "www.", a port, a path, in any case, with full-width or
// "[.]" dots, amid other words) and judges its host against l. It is pure:
// it opens nothing, resolves nothing, and always gives the same answer for
// the same arguments. A nil l knows no names: only the shape of the host
// (an IP address, punycode, a userinfo trick) is judged.
func CheckLink(text string, l *Links) LinkCheck {
	if l == nil {
		l = &Links{}
	}
	host, userinfo, ok := findHost(text)
	if !ok {
		return LinkCheck{Verdict: LinkUnknown, Reason: ReasonNotALink}
	}
	res := func(verdict, reason string) LinkCheck { return LinkCheck{Host: host, Verdict: verdict, Reason: reason} }
	labels := strings.Split(host, ".")
	switch {
	case isIPv4(labels):
		return res(LinkSuspicious, ReasonIP)
	case underAny(host, l.Official):
		return res(LinkOfficial, ReasonListed)
	case underAny(host, l.OfficialSuffixes):
		return res(LinkOfficial, ReasonGovVN)
	case underAny(host, l.Reported):
		return res(LinkFake, ReasonReported)
	case pretends(userinfo, l):
		return res(LinkFake, ReasonUserinfo)
	case underAny(host, l.Stores):
		return res(LinkStore, ReasonStore)
	case underAny(host, l.Shorteners):
		return res(LinkSuspicious, ReasonShortener)
	case lookalike(labels, l):
		return res(LinkFake, ReasonLookalike)
	case slices.ContainsFunc(labels, func(s string) bool { return strings.HasPrefix(s, "xn--") }):
		return res(LinkSuspicious, ReasonPunycode)
	case hasBait(labels, l):
		return res(LinkSuspicious, ReasonGovWord)
	}
	return res(LinkUnknown, ReasonNotListed)
}

// Links returns the link checker's lists of this content (never nil).
func (s *Set) Links() *Links { return s.links }

// CheckLink is CheckLink with the set's lists.
func (s *Set) CheckLink(text string) LinkCheck { return CheckLink(text, s.links) }

// linkDots are characters residents' phones and warnings write for ".".
var linkDots = strings.NewReplacer("。", ".", "｡", ".", "．", ".", "[.]", ".", "(.)", ".", "[dot]", ".", "(dot)", ".")

// commonTLDs are top-level domains a bare word must end in to be taken
// for a host name ahead of other words ("TP.HCM" is a city, not a host).
var commonTLDs = map[string]bool{
	"vn": true, "com": true, "net": true, "org": true, "info": true, "biz": true, "xyz": true, "top": true,
	"cc": true, "club": true, "ly": true, "at": true, "gd": true, "io": true, "co": true, "me": true, "app": true,
	"site": true, "online": true, "shop": true, "store": true, "live": true, "link": true, "click": true,
	"vip": true, "asia": true, "pro": true, "tk": true, "ml": true, "ga": true, "cf": true, "gq": true, "icu": true,
}

// findHost returns the host of the best link-like word of text: the first
// with a scheme ("https://…"), else the first starting with "www." or
// ending in a common top-level domain, else the first host-like word.
func findHost(text string) (host, userinfo string, ok bool) {
	text = strings.ToValidUTF8(clip(text, maxLinkInput), "")
	text = linkDots.Replace(norm.NFKC.String(text))
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune("<>\"'`«»“”‘’()[]{}|,;", r)
	})
	type cand struct {
		rank           int
		host, userinfo string
	}
	best := cand{rank: 4}
	for _, f := range fields {
		f = strings.Trim(f, ".,;:!?…-_*")
		if !strings.Contains(f, "://") && !hostish(f) {
			continue
		}
		h, u, good := parseHost(f)
		if !good {
			continue
		}
		lf := strings.ToLower(f)
		rank := 3
		switch labels := strings.Split(h, "."); {
		case schemePattern.MatchString(lf) && strings.Contains(lf, "://"):
			rank = 0
		case strings.HasPrefix(lf, "www."), commonTLDs[labels[len(labels)-1]], isIPv4(labels):
			rank = 1
		case strings.ContainsAny(lf, "/@"):
			rank = 2
		}
		if rank < best.rank {
			best = cand{rank, h, u}
		}
		if rank == 0 {
			break
		}
	}
	return best.host, best.userinfo, best.rank < 4
}

// pretends reports whether the userinfo of a link ("dichvucong.gov.vn" in
// "https://dichvucong.gov.vn@evil.com") is written like an official or
// government-sounding host, to hide the real one after the "@".
func pretends(userinfo string, l *Links) bool {
	h, _, ok := parseHost(userinfo)
	if !ok {
		return false
	}
	labels := strings.Split(h, ".")
	return underAny(h, l.Official) || underAny(h, l.OfficialSuffixes) || lookalike(labels, l) || hasBait(labels, l)
}

// hasBait reports whether a label contains one of the bait words.
func hasBait(labels []string, l *Links) bool {
	return slices.ContainsFunc(labels, func(s string) bool {
		return slices.ContainsFunc(l.BaitWords, func(w string) bool { return w != "" && strings.Contains(s, w) })
	})
}

// hostish reports whether a word has a dot with a letter or digit on both
// sides before any path ("dichvucong.gov.vn", "bit.ly/x"; not "ạ." nor "...").
func hostish(w string) bool {
	if i := strings.IndexAny(w, "/?#\\"); i >= 0 {
		w = w[:i]
	}
	if i := strings.LastIndexByte(w, '@'); i >= 0 {
		w = w[i+1:]
	}
	for i := 1; i < len(w)-1; i++ {
		if w[i] == '.' {
			a, _ := utf8.DecodeLastRuneInString(w[:i])
			b, _ := utf8.DecodeRuneInString(w[i+1:])
			if (unicode.IsLetter(a) || unicode.IsDigit(a)) && (unicode.IsLetter(b) || unicode.IsDigit(b)) {
				return true
			}
		}
	}
	return false
}

var schemePattern = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,15}:/*`)

// parseHost extracts the host of a link token: lower-case, "www." and
// trailing dots removed, international labels as punycode. userinfo is
// what came before an "@" in the authority. ok is false when there is no
// usable host name.
func parseHost(tok string) (host, userinfo string, ok bool) {
	s := strings.ToLower(tok)
	if loc := schemePattern.FindStringIndex(s); loc != nil && (strings.Contains(s[:loc[1]], "/") || strings.HasPrefix(s, "http")) {
		s = s[loc[1]:]
	}
	s = strings.TrimLeft(s, "/")
	if i := strings.IndexAny(s, "/?#\\"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		userinfo, s = s[:i], s[i+1:]
	}
	if strings.HasPrefix(s, "[") { // an IPv6 literal
		return "", "", false
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.Trim(s, ".")
	labels := strings.Split(s, ".")
	if len(labels) < 2 || len(s) > 253 {
		return "", "", false
	}
	for i, lb := range labels {
		a, good := asciiLabel(lb)
		if !good {
			return "", "", false
		}
		labels[i] = a
	}
	if !isIPv4(labels) {
		tld := labels[len(labels)-1]
		if len(tld) < 2 || strings.IndexFunc(tld, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
			return "", "", false
		}
	}
	for len(labels) > 2 && labels[0] == "www" {
		labels = labels[1:]
	}
	host = strings.Join(labels, ".")
	if len(host) > 253 {
		return "", "", false
	}
	return host, userinfo, true
}

// asciiLabel checks one label of a host name, encoding an international one
// as punycode ("xn--…").
func asciiLabel(lb string) (string, bool) {
	if lb == "" || strings.HasPrefix(lb, "-") || strings.HasSuffix(lb, "-") {
		return "", false
	}
	ascii := true
	for _, r := range lb {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.Is(unicode.Mn, r) || unicode.IsDigit(r)):
			ascii = false
		default:
			return "", false
		}
	}
	if !ascii {
		enc, err := punycode(norm.NFC.String(lb))
		if err != nil {
			return "", false
		}
		lb = "xn--" + enc
	}
	return lb, len(lb) <= 63
}

func isIPv4(labels []string) bool {
	if len(labels) != 4 {
		return false
	}
	for _, lb := range labels {
		n, err := strconv.Atoi(lb)
		if err != nil || n < 0 || n > 255 || len(lb) > 3 {
			return false
		}
	}
	return true
}

// underAny reports whether host is one of the domains or a subdomain of one.
func underAny(host string, domains []string) bool {
	return slices.ContainsFunc(domains, func(d string) bool {
		return d != "" && (host == d || strings.HasSuffix(host, "."+d))
	})
}

// homoglyphs are the digit-for-letter swaps of look-alike names.
var homoglyphs = strings.NewReplacer("0", "o", "1", "l", "3", "e", "4", "a", "5", "s", "7", "t", "8", "b", "9", "g", "-", "", "_", "")

// lookalike reports whether a label of a (non-official) host is spelled
// like the distinctive name of an official domain: the same after
// undoing digit swaps and hyphens, or within a small edit distance (1 for
// names up to 6 letters, 2 for longer ones, of about the same length).
// The name itself on another domain ("dichvucong.com") counts too.
func lookalike(labels []string, l *Links) bool {
	names := officialNames(l)
	for _, lb := range labels {
		cands := []string{lb, homoglyphs.Replace(lb), strings.ReplaceAll(homoglyphs.Replace(lb), "l", "i")}
		cands = append(cands, strings.Split(lb, "-")...)
		for _, c := range cands {
			for _, n := range names {
				limit := 1
				if len(n) > 6 {
					limit = 2
				}
				if d := len(c) - len(n); d < -1 || d > 1 {
					if c != n {
						continue
					}
				}
				if editDistance(c, n, limit) <= limit {
					return true
				}
			}
		}
	}
	return false
}

// officialNames are the distinctive labels of the official domains: every
// label but those of an official suffix and the generic ones ("vn", "gov").
func officialNames(l *Links) []string {
	generic := map[string]bool{"vn": true, "com": true, "net": true, "org": true, "edu": true, "gov": true, "www": true}
	for _, sfx := range l.OfficialSuffixes {
		for _, p := range strings.Split(sfx, ".") {
			generic[p] = true
		}
	}
	var out []string
	for _, d := range l.Official {
		for _, p := range strings.Split(d, ".") {
			if !generic[p] && len(p) >= 4 && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// editDistance is the Levenshtein distance of a and b (bytes), or limit+1
// when it is over limit.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// punycode encodes one label (RFC 3492), without the "xn--" prefix.
func punycode(s string) (string, error) {
	const (
		base, tmin, tmax, skew, damp = 36, 1, 26, 38, 700
		initialBias, initialN        = 72, 128
	)
	runes := []rune(s)
	var out []byte
	for _, r := range runes {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	b := len(out)
	h := b
	if b > 0 {
		out = append(out, '-')
	}
	digit := func(d int) byte {
		if d < 26 {
			return byte('a' + d)
		}
		return byte('0' + d - 26)
	}
	adapt := func(delta, numPoints int, first bool) int {
		if first {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / numPoints
		k := 0
		for delta > ((base-tmin)*tmax)/2 {
			delta /= base - tmin
			k += base
		}
		return k + (base-tmin+1)*delta/(delta+skew)
	}
	n, delta, bias := initialN, 0, initialBias
	for h < len(runes) {
		m := int(unicode.MaxRune) + 1
		for _, r := range runes {
			if int(r) >= n && int(r) < m {
				m = int(r)
			}
		}
		if (m-n)*(h+1) > 1<<30 {
			return "", fmt.Errorf("punycode: overflow")
		}
		delta += (m - n) * (h + 1)
		n = m
		for _, r := range runes {
			if int(r) < n {
				delta++
			}
			if int(r) == n {
				q := delta
				for k := base; ; k += base {
					t := k - bias
					t = max(tmin, min(t, tmax))
					if q < t {
						break
					}
					out = append(out, digit(t+(q-t)%(base-t)))
					q = (q - t) / (base - t)
				}
				out = append(out, digit(q))
				bias = adapt(delta, h+1, h == b)
				delta = 0
				h++
			}
		}
		delta++
		n++
	}
	return string(out), nil
}

// --- the links file -----------------------------------------------------------

// linksDoc is a links file: `links:` holding the lists, with the same
// provenance keys as a flow.
type linksDoc struct {
	Links linksData `yaml:"links"`
}

type linksData struct {
	Sources          []string `yaml:"sources"`
	Verified         string   `yaml:"verified"`
	Owner            string   `yaml:"owner"`
	Notes            string   `yaml:"notes"`
	Official         []string `yaml:"official"`
	OfficialSuffixes []string `yaml:"official_suffixes"`
	Stores           []string `yaml:"stores"`
	Shorteners       []string `yaml:"shorteners"`
	Reported         []string `yaml:"reported"`
	BaitWords        []string `yaml:"bait_words"`
}

// linksContent is the links lists after overriding, and where each came
// from (for issues).
type linksContent struct {
	lists  Links
	files  []linksFile // every links file read, in order
	listAt map[string]linksFile
}

// linksFile is one links file read.
type linksFile struct {
	path   string
	strict bool
	lines  map[string]int
	doc    linksData
}

// linksLists maps list keys to their fields.
var linksLists = []struct {
	key string
	get func(*linksData) []string
	set func(*Links, []string)
}{
	{"official", func(d *linksData) []string { return d.Official }, func(l *Links, v []string) { l.Official = v }},
	{"official_suffixes", func(d *linksData) []string { return d.OfficialSuffixes }, func(l *Links, v []string) { l.OfficialSuffixes = v }},
	{"stores", func(d *linksData) []string { return d.Stores }, func(l *Links, v []string) { l.Stores = v }},
	{"shorteners", func(d *linksData) []string { return d.Shorteners }, func(l *Links, v []string) { l.Shorteners = v }},
	{"reported", func(d *linksData) []string { return d.Reported }, func(l *Links, v []string) { l.Reported = v }},
	{"bait_words", func(d *linksData) []string { return d.BaitWords }, func(l *Links, v []string) { l.BaitWords = v }},
}

// readLinks decodes a links file; each list it names replaces the one read
// before.
func (c *content) readLinks(path string, data []byte, lines map[string]int, strict bool) {
	var doc linksDoc
	strictDec := yaml.NewDecoder(bytes.NewReader(data))
	strictDec.KnownFields(true)
	if err := strictDec.Decode(&doc); err != nil {
		c.issues = append(c.issues, yamlIssues(path, err, nil)...)
	}
	lf := linksFile{path: path, strict: strict, lines: lines, doc: doc.Links}
	c.links.files = append(c.links.files, lf)
	if c.links.listAt == nil {
		c.links.listAt = map[string]linksFile{}
	}
	for _, ls := range linksLists {
		if _, named := lines["links."+ls.key]; named {
			ls.set(&c.links.lists, slices.Clone(ls.get(&lf.doc)))
			c.links.listAt[ls.key] = lf
		}
	}
}

var bait = regexp.MustCompile(`^[a-z0-9]+$`)

// links validates every links file read.
func (v *validator) links() {
	for _, lf := range v.c.links.files {
		at := func(warning bool, kind IssueKind, path []any, format string, args ...any) {
			v.issues = append(v.issues, Issue{File: lf.path, Line: lineOf(lf.lines, path...), Kind: kind,
				Msg: fmt.Sprintf(format, args...), Warning: warning})
		}
		d := lf.doc
		v.provenance(lf.strict, lf.lines, []any{"links"}, []any{"links"}, "the links file", d.Sources, d.Verified, d.Owner,
			func(warning bool, kind IssueKind, path []any, msg string) { at(warning, kind, path, "%s", msg) })
		for _, ls := range linksLists {
			seen := map[string]bool{}
			for i, e := range ls.get(&d) {
				p := []any{"links", ls.key, i}
				switch {
				case ls.key == "bait_words" && !bait.MatchString(e):
					at(false, IssueBadLinks, p, "bait word %q must be lower-case letters and digits only (no dots, no diacritics)", e)
				case ls.key != "bait_words" && !validDomain(e):
					at(false, IssueBadLinks, p, "%s entry %q must be a lower-case host name like dichvucong.gov.vn (no https://, no path, no www.)", ls.key, e)
				case seen[e]:
					at(false, IssueBadLinks, p, "%s entry %q is listed twice", ls.key, e)
				}
				seen[e] = true
			}
		}
	}
}

// validDomain reports whether d is a bare lower-case ASCII host name with
// at least two labels.
func validDomain(d string) bool {
	host, userinfo, ok := parseHost(d)
	return ok && userinfo == "" && host == d && !isIPv4(strings.Split(d, "."))
}
