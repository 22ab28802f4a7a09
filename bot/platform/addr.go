package platform

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientAddr is the address per-address limits are counted against: the
// peer, or — when the peer is a reverse proxy on this host or a private
// network — the nearest public address in X-Forwarded-For (or X-Real-IP).
// A public peer's headers are not trusted. IPv6 addresses count per /64,
// which one household or phone usually has to itself. A peer that is not an
// IP address is returned as it is.
func ClientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if proxy(ip) {
		hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
		found := false
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip, found = hop.Unmap(), true
			if !proxy(ip) {
				break
			}
		}
		if !found {
			if real, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
				ip = real.Unmap()
			}
		}
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// proxy reports whether ip is where a reverse proxy in front of gocua
// would be: this host or a private network.
func proxy(ip netip.Addr) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast()
}
