package platform

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// ClientAddr picks the address limits count against.
func TestClientAddr(t *testing.T) {
	for _, tc := range []struct {
		remote, xff, real, want string
	}{
		{"203.0.113.9:1", "", "", "203.0.113.9"},
		{"203.0.113.9:1", "198.51.100.1", "", "203.0.113.9"}, // a public peer's header is not trusted
		{"127.0.0.1:1", "198.51.100.1", "", "198.51.100.1"},
		{"10.0.0.2:1", "198.51.100.1, 10.0.0.3", "", "198.51.100.1"},
		{"127.0.0.1:1", "1.2.3.4, 198.51.100.1", "", "198.51.100.1"}, // only the nearest public hop
		{"127.0.0.1:1", "", "198.51.100.2", "198.51.100.2"},
		{"127.0.0.1:1", "garbage", "", "127.0.0.1"},
		{"[::1]:1", "2001:db8:a:b:c::1", "", "2001:db8:a:b::/64"},
		{"[::ffff:203.0.113.9]:1", "", "", "203.0.113.9"},
		{"not-an-address", "", "", "not-an-address"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tc.remote
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.real != "" {
			req.Header.Set("X-Real-IP", tc.real)
		}
		if got := ClientAddr(req); got != tc.want {
			t.Errorf("ClientAddr(%s, xff %q, real %q) = %q, want %q", tc.remote, tc.xff, tc.real, got, tc.want)
		}
	}
}
