package oa

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

func TestVerify(t *testing.T) {
	now := time.Now()
	body := oatest.UserText(oatest.UserID(1), "m1", "xin chào", now)
	ts := oatest.Millis(now)
	good := oatest.Sign(oatest.AppID, body, ts, oatest.SecretKey)
	mac := hmac.New(sha256.New, []byte(oatest.SecretKey))
	mac.Write([]byte(oatest.AppID))
	mac.Write(body)
	mac.Write([]byte(ts))
	hmacHex := hex.EncodeToString(mac.Sum(nil))
	changed := bytes.Clone(body)
	changed[bytes.Index(changed, []byte("xin"))] = 'X'
	otherTS := strconv.FormatInt(now.UnixMilli()+1, 10)

	tests := []struct {
		name      string
		appID     string
		body      []byte
		timestamp string
		key       string
		header    string
		want      bool
	}{
		{"valid with mac= prefix", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + good, true},
		{"valid bare hex", oatest.AppID, body, ts, oatest.SecretKey, good, true},
		{"uppercase hex", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + strings.ToUpper(good), true},
		{"uppercase prefix", oatest.AppID, body, ts, oatest.SecretKey, "MAC=" + good, true},
		{"surrounding spaces", oatest.AppID, body, ts, oatest.SecretKey, " mac=" + good + " ", true},
		{"signed with the app secret instead of the OA secret key", oatest.AppID, body, ts, oatest.SecretKey,
			"mac=" + oatest.Sign(oatest.AppID, body, ts, oatest.AppSecret), false},
		{"HMAC instead of plain SHA-256", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + hmacHex, false},
		{"body changed by one byte", oatest.AppID, changed, ts, oatest.SecretKey, "mac=" + good, false},
		{"body re-serialized", oatest.AppID, append(bytes.Clone(body), '\n'), ts, oatest.SecretKey, "mac=" + good, false},
		{"other timestamp", oatest.AppID, body, otherTS, oatest.SecretKey, "mac=" + good, false},
		{"other app id", "1234567890123456789", body, ts, oatest.SecretKey, "mac=" + good, false},
		{"empty header", oatest.AppID, body, ts, oatest.SecretKey, "", false},
		{"prefix only", oatest.AppID, body, ts, oatest.SecretKey, "mac=", false},
		{"truncated", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + good[:63], false},
		{"one digit longer", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + good + "0", false},
		{"not hex", oatest.AppID, body, ts, oatest.SecretKey, "mac=" + strings.Repeat("z", 64), false},
		{"other prefix", oatest.AppID, body, ts, oatest.SecretKey, "sha=" + good, false},
		{"no secret key configured", oatest.AppID, body, ts, "", "mac=" + oatest.Sign(oatest.AppID, body, ts, ""), false},
		{"no app id configured", "", body, ts, oatest.SecretKey, "mac=" + oatest.Sign("", body, ts, oatest.SecretKey), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify(tt.appID, tt.body, tt.timestamp, tt.key, tt.header); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

// The webhook checks the signature, the app and the age of every event
// before queueing it.
func TestWebhookSignature(t *testing.T) {
	const private = "bí mật 001203004567"
	user := oatest.UserID(7)
	tests := []struct {
		name string
		// build returns the body and the header to send ("" for none)
		build func(now time.Time) ([]byte, string)
		want  int
	}{
		{"valid with mac= prefix", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m1", private, now)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(now), oatest.SecretKey)
		}, 200},
		{"valid bare hex", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m2", private, now)
			return b, oatest.Sign(oatest.AppID, b, oatest.Millis(now), oatest.SecretKey)
		}, 200},
		{"uppercase hex", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m3", private, now)
			return b, "mac=" + strings.ToUpper(oatest.Sign(oatest.AppID, b, oatest.Millis(now), oatest.SecretKey))
		}, 200},
		{"missing header", func(now time.Time) ([]byte, string) {
			return oatest.UserText(user, "m4", private, now), ""
		}, 401},
		{"signed with the app secret", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m5", private, now)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(now), oatest.AppSecret)
		}, 403},
		{"body changed by one byte", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m6", private, now)
			sig := "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(now), oatest.SecretKey)
			b = bytes.Replace(b, []byte(`"m6"`), []byte(`"m7"`), 1)
			return b, sig
		}, 403},
		{"stale timestamp (a replay)", func(now time.Time) ([]byte, string) {
			at := now.Add(-3*time.Hour - time.Minute)
			b := oatest.UserText(user, "m8", private, at)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(at), oatest.SecretKey)
		}, 403},
		{"Zalo's last retry, an hour and more late", func(now time.Time) ([]byte, string) {
			at := now.Add(-2 * time.Hour)
			b := oatest.UserText(user, "m9", private, at)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(at), oatest.SecretKey)
		}, 200},
		{"future timestamp", func(now time.Time) ([]byte, string) {
			at := now.Add(6 * time.Minute)
			b := oatest.UserText(user, "m10", private, at)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(at), oatest.SecretKey)
		}, 403},
		{"a clock a little ahead", func(now time.Time) ([]byte, string) {
			at := now.Add(time.Minute)
			b := oatest.UserText(user, "m11", private, at)
			return b, "mac=" + oatest.Sign(oatest.AppID, b, oatest.Millis(at), oatest.SecretKey)
		}, 200},
		{"another app", func(now time.Time) ([]byte, string) {
			const other = "1111111111111111111"
			b := bytes.Replace(oatest.UserText(user, "m12", private, now), []byte(oatest.AppID), []byte(other), 1)
			return b, "mac=" + oatest.Sign(other, b, oatest.Millis(now), oatest.SecretKey)
		}, 403},
		{"signed for another app id", func(now time.Time) ([]byte, string) {
			b := oatest.UserText(user, "m13", private, now)
			return b, "mac=" + oatest.Sign("1111111111111111111", b, oatest.Millis(now), oatest.SecretKey)
		}, 403},
		{"garbage header", func(now time.Time) ([]byte, string) {
			return oatest.UserText(user, "m14", private, now), "mac=" + private
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil, []string{private})
			body, sig := tt.build(f.clock.Now())
			if got := f.postRaw(body, sig); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			if n, want := f.inbox.pending(), map[bool]int{true: 1, false: 0}[tt.want == 200]; n != want {
				t.Fatalf("%d entries queued, want %d", n, want)
			}
			if len(f.rec.got()) != 0 {
				t.Fatal("the webhook called the core")
			}
		})
	}
}

// When the body carries no timestamp, the X-ZEvent-Timestamp header's is
// signed and checked instead.
func TestWebhookTimestampHeader(t *testing.T) {
	f := newFixture(t, nil, nil)
	now := f.clock.Now()
	body := bytes.Replace(oatest.UserText(oatest.UserID(1), "m1", "chào", now),
		[]byte(`"timestamp":"`+oatest.Millis(now)+`",`), nil, 1)
	if bytes.Contains(body, []byte("timestamp")) {
		t.Fatalf("body still has a timestamp: %s", body)
	}
	send := func(ts, sigTS string) int {
		req := oatest.Request(t, WebhookPath, body)
		req.Header.Set(SignatureHeader, "mac="+oatest.Sign(oatest.AppID, body, sigTS, oatest.SecretKey))
		if ts != "" {
			req.Header.Set(TimestampHeader, ts)
		}
		w := httptest.NewRecorder()
		f.a.ServeHTTP(w, req)
		return w.Code
	}
	if got := send("", ""); got != 400 {
		t.Fatalf("no timestamp anywhere: %d, want 400", got)
	}
	if got := send(oatest.Millis(now), oatest.Millis(now.Add(time.Second))); got != 403 {
		t.Fatalf("header timestamp not the signed one: %d, want 403", got)
	}
	if got := send(oatest.Millis(now), oatest.Millis(now)); got != 200 {
		t.Fatalf("signed header timestamp: %d, want 200", got)
	}
	ins := f.queuedInbounds(t)
	if len(ins) != 1 || ins[0][0].Seq != now.UnixMilli() {
		t.Fatalf("queued %+v", ins)
	}
}
