package netguard

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		ip     string
		public bool
	}{
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"203.113.131.1", true}, // a Vietnamese ISP's
		{"100.63.255.255", true},
		{"100.128.0.1", true},
		{"172.32.0.1", true},
		{"2001:4860:4860::8888", true},
		{"2404:6800:4005:80f::200e", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8

		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.254", false},
		{"127.0.0.1", false},
		{"127.255.255.255", false},
		{"169.254.169.254", false}, // cloud metadata
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		{"::", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.1.2.3", false},
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false},     // IPv4-compatible
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"64:ff9b:1::1", false},
		{"100::1", false},
		{"2001::1", false}, // Teredo
		{"2001:db8::1", false},
		{"2002:7f00:1::1", false}, // 6to4 of 127.0.0.1
		{"3fff::1", false},
		{"5f00::1", false},
		{"fc00::1", false},
		{"fd00::1", false},
		{"fdff:ffff::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"ff05::1:3", false},
	} {
		ip := netip.MustParseAddr(tc.ip)
		if got := Public(ip); got != tc.public {
			t.Errorf("Public(%s) = %v, want %v", tc.ip, got, tc.public)
		}
		if err := CheckIP(ip); (err == nil) != tc.public || err != nil && !errors.Is(err, ErrBlocked) {
			t.Errorf("CheckIP(%s) = %v", tc.ip, err)
		}
	}
	if Public(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{
		"https://dichvucong.gov.vn/p/home.png",
		"https://example.gov.vn:8443/a.jpg?x=1",
		"http://8.8.8.8/a.png",
		"https://[2001:4860:4860::8888]/a.png",
		"https://cdn.example.com./a.png", // a trailing dot is the same name
		"https://1.2.3.example.com/a.png",
	} {
		if err := CheckURL(ok); err != nil {
			t.Errorf("CheckURL(%q) = %v, want nil", ok, err)
		}
	}
	for _, tc := range []struct{ url, says string }{
		{"https://localhost/a.png", "this machine"},
		{"https://LOCALHOST./a.png", "this machine"},
		{"https://api.localhost/a.png", "this machine"},
		{"https://printer.local/a.png", "this machine"},
		{"https://db.internal/a.png", "this machine"},
		{"https://router.home.arpa/a.png", "this machine"},
		{"https://fileserver/a.png", "no dot"},
		{"https://127.0.0.1/a.png", "private"},
		{"https://127.1/a.png", "private"},
		{"https://127.0.1/a.png", "private"},
		{"https://0x7f000001/a.png", "private"},
		{"https://0X7F.0.0.1/a.png", "private"},
		{"https://2130706433/a.png", "private"},
		{"https://017700000001/a.png", "private"},
		{"https://0177.0.0.01/a.png", "private"},
		{"https://0/a.png", "private"},
		{"https://0x/a.png", "private"},
		{"https://[::1]/a.png", "private"},
		{"https://[::1]:8080/a.png", "private"},
		{"https://[::ffff:127.0.0.1]/a.png", "private"},
		{"https://[::ffff:7f00:1]/a.png", "private"},
		{"https://[0:0:0:0:0:ffff:127.0.0.1]/a.png", "private"},
		{"https://[fe80::1%25eth0]/a.png", "private"},
		{"http://169.254.169.254/latest/meta-data/", "private"},
		{"http://10.0.0.1/a.png", "private"},
		{"http://192.168.1.1/a.png", "private"},
		{"http://100.64.1.1/a.png", "private"},
		{"https://[fd00::1]/a.png", "private"},
		{"https://[ff02::1]/a.png", "private"},
		{"https://0.0.0.0/a.png", "private"},
		{"https://256.1/a.png", "not a valid IPv4"},
		{"https://1.2.3.256/a.png", "not a valid IPv4"},
		{"https://0x1ffffffff/a.png", "not a valid IPv4"},
		{"https://99999999999999999999999/a.png", "not a valid IPv4"},
		{"ftp://example.com/a.png", "only http and https"},
		{"file:///etc/passwd", "only http and https"},
		{"gopher://example.com/", "only http and https"},
		{"//example.com/a.png", "only http and https"},
		{"https:///a.png", "no host"},
		{"https://%zz/", "not a valid address"},
	} {
		err := CheckURL(tc.url)
		if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("CheckURL(%q) = %v, want ErrBlocked saying %q", tc.url, err, tc.says)
		}
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	for _, tc := range []struct {
		host string
		want string // "" : not an address
	}{
		{"127.1", "127.0.0.1"},
		{"10.1.2", "10.1.0.2"},
		{"0x0a.0x0.0.1", "10.0.0.1"},
		{"3232235777", "192.168.1.1"},
		{"030052000401", "192.168.1.1"},
		{"4294967295", "255.255.255.255"},
		{"1.2.3.4.5", ""},
		{"example", ""},
		{"1.example", ""},
		{"08.1", ""}, // not octal: a name, to the resolvers
		{"1..2", ""},
	} {
		ip, ok, err := parseLegacyIPv4(tc.host)
		switch {
		case tc.want == "" && ok:
			t.Errorf("%q: read as %s (%v), want not an address", tc.host, ip, err)
		case tc.want != "" && (!ok || err != nil || ip.String() != tc.want):
			t.Errorf("%q: %s %v %v, want %s", tc.host, ip, ok, err, tc.want)
		}
	}
}

// fetch GETs url with c and reports the status, or the error.
func fetch(c *http.Client, url string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// The client refuses a server on 127.0.0.1 unless allowed, whatever name
// leads there; with the allowance it reaches it.
func TestClientRefusesLoopback(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte("inside"))
	}))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]

	guarded := Client(5*time.Second, false)
	for _, url := range []string{
		srv.URL + "/x",
		"http://localhost" + port + "/x", // a name that resolves to loopback
		"http://[::1]" + port + "/x",
		"http://[::ffff:127.0.0.1]" + port + "/x",
		"http://0.0.0.0" + port + "/x",
	} {
		if code, err := fetch(guarded, url); !errors.Is(err, ErrBlocked) {
			t.Errorf("%s: %d %v, want ErrBlocked", url, code, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}

	allowed := Client(5*time.Second, true)
	if code, err := fetch(allowed, srv.URL+"/x"); err != nil || code != http.StatusOK {
		t.Fatalf("allowed: %d %v", code, err)
	}
	if hits.Load() != 1 {
		t.Fatalf("allowed: %d hits, want 1", hits.Load())
	}
}

// A redirect from an allowed host to a loopback one is refused, whether the
// loopback address is in the redirect (CheckRedirect) or only what its name
// resolves to (Control, at dial time). The hosts are names this test's
// dialer maps: pictures.example.com to the redirecting server, once, without
// the check; inside.example.com to the loopback server, with the same
// Control as the client's.
func TestClientRefusesRedirectToLoopback(t *testing.T) {
	var inside atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inside.Add(1) }))
	t.Cleanup(target.Close)
	port := target.URL[strings.LastIndex(target.URL, ":"):]
	for name, to := range map[string]string{
		"literal":  target.URL + "/secret",
		"name":     "http://localhost" + port + "/secret",
		"mapped":   "http://[::ffff:127.0.0.1]" + port + "/secret",
		"metadata": "http://169.254.169.254/latest/meta-data/",
		// a public-looking name that resolves to loopback: only the dial sees it
		"rebound": "http://inside.example.com" + port + "/secret",
		"scheme":  "file:///etc/passwd",
	} {
		t.Run(name, func(t *testing.T) {
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to, http.StatusFound)
			}))
			t.Cleanup(redirector.Close)
			c := Client(5*time.Second, false)
			tr := c.Transport.(*http.Transport)
			// pictures.example.com "resolves" to a public address; the
			// connection goes to the redirector, and only that first dial
			// skips the check
			var first atomic.Bool
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				if strings.HasPrefix(addr, "pictures.example.com:") && first.CompareAndSwap(false, true) {
					return (&net.Dialer{}).DialContext(ctx, network, redirector.Listener.Addr().String())
				}
				if strings.HasPrefix(addr, "inside.example.com:") {
					addr = "127.0.0.1" + port
				}
				return (&net.Dialer{Control: Control}).DialContext(ctx, network, addr)
			}
			code, err := fetch(c, "http://pictures.example.com/p.png")
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("redirect to %s: %d %v, want ErrBlocked", to, code, err)
			}
			if !first.Load() {
				t.Fatal("the redirector was never asked")
			}
		})
	}
	if n := inside.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
}

// Redirects are followed up to MaxRedirects, then refused; an allowed
// client follows them too.
func TestClientRedirectLimit(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		for range r.URL.Query().Get("n") {
			n++
		}
		if n > 0 {
			http.Redirect(w, r, srv.URL+"/?n="+strings.Repeat("x", n-1), http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("here"))
	}))
	t.Cleanup(srv.Close)
	c := Client(5*time.Second, true)
	if code, err := fetch(c, srv.URL+"/?n="+strings.Repeat("x", MaxRedirects)); err != nil || code != 200 {
		t.Fatalf("%d redirects: %d %v", MaxRedirects, code, err)
	}
	if _, err := fetch(c, srv.URL+"/?n="+strings.Repeat("x", MaxRedirects+1)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("%d redirects: %v, want ErrBlocked", MaxRedirects+1, err)
	}
}

func TestControl(t *testing.T) {
	for addr, ok := range map[string]bool{
		"8.8.8.8:443":                true,
		"[2001:4860:4860::8888]:443": true,
		"127.0.0.1:80":               false,
		"[::1]:80":                   false,
		"[::ffff:127.0.0.1]:80":      false,
		"[fe80::1%eth0]:80":          false,
		"169.254.169.254:80":         false,
		"example.com:80":             false, // never a name at dial time
		"garbage":                    false,
	} {
		if err := Control("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("Control(%s) = %v, want ok %v", addr, err, ok)
		}
	}
}
