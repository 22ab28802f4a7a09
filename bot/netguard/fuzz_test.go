package netguard

import (
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzCheckURL: never a panic; every refusal wraps ErrBlocked; what is
// accepted is an http(s) address with a host that is not a name of the local
// network and, when it is an IP in any spelling, a public one — the same
// verdict as Public and as Control on that IP; an IPv4-mapped IPv6 address
// gets its IPv4 address's verdict.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://dichvucong.gov.vn/a.png", "http://8.8.8.8/", "https://127.1/", "https://0x7f000001/",
		"https://[::ffff:127.0.0.1]/", "https://[fd00::1]/", "http://169.254.169.254/", "https://localhost/",
		"https://2130706433/", "https://0177.0.0.1/", "https://[fe80::1%25eth0]/", "ftp://a.vn/", "https://a/",
		"https://[64:ff9b::808:808]/", "https://256.1/", "https://%zz/", "//x.vn/", "https://x.vn.:443/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := CheckURL(raw)
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("CheckURL(%q) = %v, not ErrBlocked", raw, err)
			}
		} else {
			u, perr := url.Parse(raw)
			if perr != nil || u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
				t.Fatalf("CheckURL(%q) accepted %v (%v)", raw, u, perr)
			}
			h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
			_, isIP, _ := parseLegacyIPv4(h)
			if !isIP && (h == "localhost" || strings.HasSuffix(h, ".localhost") || !strings.Contains(h, ".") && !strings.Contains(h, ":")) {
				t.Fatalf("CheckURL(%q) accepted a local name", raw)
			}
		}
		u, perr := url.Parse(raw)
		if perr != nil {
			return
		}
		host := strings.TrimSuffix(u.Hostname(), ".")
		ip, ierr := netip.ParseAddr(host)
		if ierr != nil {
			var ok bool
			if ip, ok, ierr = parseLegacyIPv4(strings.ToLower(host)); !ok || ierr != nil {
				return
			}
		}
		if (u.Scheme == "http" || u.Scheme == "https") && (err == nil) != Public(ip) {
			t.Fatalf("CheckURL(%q) = %v but Public(%s) = %v", raw, err, ip, Public(ip))
		}
		if cerr := Control("tcp", netip.AddrPortFrom(ip, 443).String(), nil); (cerr == nil) != Public(ip) {
			t.Fatalf("Control(%s) = %v but Public = %v", ip, cerr, Public(ip))
		}
		if ip.Is4() && Public(ip) != Public(netip.AddrFrom16(ip.As16())) {
			t.Fatalf("%s and its IPv4-mapped form differ", ip)
		}
	})
}
