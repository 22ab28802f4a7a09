package oa

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Verify reports whether header (the X-ZEvent-Signature value) is the MAC
// of a webhook body: "mac=<hex>" or the bare hex digits, the prefix and the
// digits in any case, where
//
//	mac = hex(SHA-256(appID + body + timestamp + secretKey))
//
// — a plain SHA-256 of the concatenation, not an HMAC — with body the raw
// bytes received, timestamp the event's "timestamp" string and secretKey
// the OA secret key (not the app's secret key). The comparison takes
// constant time. Nothing verifies with an empty appID or secretKey.
//
// No official page states the formula in readable text; it is the one
// independent integrations agree on. Check it on the first live event.
func Verify(appID string, body []byte, timestamp string, secretKey string, header string) bool {
	if appID == "" || secretKey == "" {
		return false
	}
	got := strings.TrimSpace(header)
	if len(got) >= 4 && strings.EqualFold(got[:4], "mac=") {
		got = got[4:]
	}
	if len(got) != sha256.Size*2 {
		return false
	}
	want := mac(appID, body, timestamp, secretKey)
	return subtle.ConstantTimeCompare([]byte(strings.ToLower(got)), []byte(want)) == 1
}

// mac is the lowercase hex MAC Verify expects.
func mac(appID string, body []byte, timestamp, secretKey string) string {
	h := sha256.New()
	h.Write([]byte(appID))
	h.Write(body)
	h.Write([]byte(timestamp))
	h.Write([]byte(secretKey))
	return hex.EncodeToString(h.Sum(nil))
}
