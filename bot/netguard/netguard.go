// Package netguard keeps what gocua fetches by itself — a picture a flow or
// a broadcast names by address, a file a platform's payload points at — out
// of the host's own networks (server-side request forgery). An address is
// fetched only over http or https and only from a public unicast IP: the
// check runs on the resolved IP as the connection is dialled (Control), so a
// name that resolves inside the network, a DNS answer that changes between
// two lookups and a redirect to a private address are all refused. CheckURL
// refuses what is private on its face when an address is given ahead of
// time (a flow file, a broadcast), with a message that says why.
//
// It uses only the standard library, so the core (flows, broadcasts) and
// the adapters can both use it.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal: the address is not a public one
// over http or https.
var ErrBlocked = errors.New("netguard: not a public http(s) address")

// IPv4 ranges that are not public unicast (IANA's special-purpose registry:
// this network, private, CGNAT, loopback, link-local, protocol assignments,
// documentation, 6to4 relays, benchmarking, multicast, reserved and
// broadcast).
var blocked4 = prefixes(
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
	"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)

// IPv6: only global unicast (2000::/3) is public, less the parts of it
// that are special (protocol assignments and Teredo, documentation, 6to4,
// documentation again). Unique-local fc00::/7, link-local fe80::/10,
// site-local, multicast ff00::/8, ::, ::1 and IPv4-compatible addresses
// are all outside 2000::/3.
var (
	global6  = netip.MustParsePrefix("2000::/3")
	blocked6 = prefixes("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")
	// nat64 is the well-known NAT64 prefix: public exactly when the IPv4
	// address it carries is.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

// Public reports whether ip is a public unicast address, one gocua may
// fetch from. An IPv4-mapped IPv6 address is judged as its IPv4 address;
// a zone is ignored.
func Public(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	switch {
	case !ip.IsValid():
		return false
	case ip.Is4():
		for _, p := range blocked4 {
			if p.Contains(ip) {
				return false
			}
		}
		return true
	case nat64.Contains(ip):
		b := ip.As16()
		return Public(netip.AddrFrom4([4]byte(b[12:])))
	case !global6.Contains(ip):
		return false
	}
	for _, p := range blocked6 {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckIP returns nil for a public address, else an error wrapping
// ErrBlocked.
func CheckIP(ip netip.Addr) error {
	if Public(ip) {
		return nil
	}
	return fmt.Errorf("%w: %s is a private, local or special-purpose address", ErrBlocked, ip)
}

// Control is a net.Dialer.Control that refuses to connect to anything but
// a public address: it sees the resolved IP of every attempt, after DNS.
func Control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the dialled address %q", ErrBlocked, address)
	}
	return CheckIP(ap.Addr())
}

// localNames are host names, and suffixes of names, that mean this host
// or its own network.
var localNames = []string{"localhost", "local", "internal", "home.arpa", "lan", "intranet"}

// CheckURL checks an address given ahead of time (a flow's picture, a
// broadcast's image): http or https, with a host that is neither a private
// or special IP literal — in any spelling resolvers accept, such as
// 127.1, 0x7f000001 or [::ffff:127.0.0.1] — nor a name of this host or its
// network (localhost, *.local, a name without a dot). What resolves to a
// private address is refused later, when it is fetched (Control). Errors
// wrap ErrBlocked and say what is wrong.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: not a valid address", ErrBlocked)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("%w: only http and https addresses are fetched", ErrBlocked)
	}
	return CheckHost(u.Hostname())
}

// CheckHost is CheckURL's check of a host (a name or an IP literal, without
// port or brackets).
func CheckHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "" {
		return fmt.Errorf("%w: the address has no host", ErrBlocked)
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return CheckIP(ip)
	}
	if ip, ok, err := parseLegacyIPv4(h); ok {
		if err != nil {
			return fmt.Errorf("%w: host %q is not a valid IPv4 address", ErrBlocked, host)
		}
		return CheckIP(ip)
	}
	if strings.ContainsAny(h, "%:[]") {
		return fmt.Errorf("%w: host %q is not a valid name or IP address", ErrBlocked, host)
	}
	for _, n := range localNames {
		if h == n || strings.HasSuffix(h, "."+n) {
			return fmt.Errorf("%w: host %q names this machine or its local network", ErrBlocked, host)
		}
	}
	if !strings.Contains(h, ".") {
		return fmt.Errorf("%w: host %q has no dot: a name of the local network, not a public one", ErrBlocked, host)
	}
	return nil
}

// parseLegacyIPv4 reads the IPv4 spellings inet_aton accepts and
// netip.ParseAddr does not: one to four parts, each decimal, octal (a
// leading 0) or hex (0x), the last filling the bytes left (127.1,
// 2130706433, 0x7f.1, 0177.0.0.1). ok reports whether host looks like one
// (every part a number); err, that it does but is out of range.
func parseLegacyIPv4(host string) (ip netip.Addr, ok bool, err error) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false, nil
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base == 16 {
			digits = "0" // "0x" alone is 0 to inet_aton
		}
		if digits == "" {
			return netip.Addr{}, false, nil
		}
		v, perr := strconv.ParseUint(digits, base, 64)
		if perr != nil {
			if errors.Is(perr, strconv.ErrRange) {
				return netip.Addr{}, true, perr
			}
			return netip.Addr{}, false, nil
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, true, errors.New("part over 255")
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, true, errors.New("last part out of range")
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true, nil
}

// MaxRedirects is how many redirects a Client follows.
const MaxRedirects = 3

// Client is an HTTP client for fetching addresses that came from outside
// gocua's code (flows, broadcasts, dashboard forms, platform payloads):
// unless allowPrivate, it connects only to public addresses (Control, on
// every dial, after DNS) and uses no proxy from the environment (a proxy
// would do the connecting where Control cannot see it). It follows at most
// MaxRedirects redirects, each to an http(s) address that passes
// CheckURL. Set allowPrivate only in tests whose servers listen on
// 127.0.0.1; production refuses.
func Client(timeout time.Duration, allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var proxy func(*http.Request) (*url.URL, error)
	if allowPrivate {
		proxy = http.ProxyFromEnvironment
	} else {
		d.Control = Control
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 proxy,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          32,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrBlocked, MaxRedirects)
			}
			if allowPrivate {
				if req.URL.Scheme != "https" && req.URL.Scheme != "http" {
					return fmt.Errorf("%w: a redirect to a %s address", ErrBlocked, req.URL.Scheme)
				}
				return nil
			}
			return CheckURL(req.URL.String())
		},
	}
}

// Reason is what an error of CheckURL, CheckHost or CheckIP says is wrong,
// without the package's prefix: for a message to whoever wrote the address.
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrBlocked.Error()+": ")
}
