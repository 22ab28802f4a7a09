package oatest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/zalo/oa"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
)

func refresh(t *testing.T, s *oatest.Server, rt string) map[string]any {
	t.Helper()
	form := url.Values{"refresh_token": {rt}, "app_id": {oatest.AppID}, "grant_type": {"refresh_token"}}
	req, _ := http.NewRequest(http.MethodPost, s.URL()+oatest.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("secret_key", oatest.AppSecret)
	return do(t, req)
}

func do(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cs(t *testing.T, s *oatest.Server, token string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+oatest.PathCS, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("access_token", token)
	return do(t, req)
}

func text(user, s string) map[string]any {
	return map[string]any{"recipient": map[string]any{"user_id": user}, "message": map[string]any{"text": s}}
}

// Refresh tokens are single-use, and a refresh kills the old access token.
func TestRefreshRotates(t *testing.T) {
	s := oatest.New(t)
	first := refresh(t, s, oatest.RefreshToken)
	if first["expires_in"] != "90000" || first["access_token"] == "" || first["refresh_token"] == oatest.RefreshToken {
		t.Fatalf("first refresh %v", first)
	}
	if again := refresh(t, s, oatest.RefreshToken); again["error"] != float64(-14014) || again["access_token"] != nil {
		t.Fatalf("used refresh token accepted: %v", again)
	}
	user := oatest.UserID(1)
	if ok := cs(t, s, first["access_token"].(string), text(user, "x")); ok["error"] != float64(0) {
		t.Fatalf("cs %v", ok)
	}
	second := refresh(t, s, first["refresh_token"].(string))
	if second["access_token"] == nil {
		t.Fatalf("second refresh %v", second)
	}
	if old := cs(t, s, first["access_token"].(string), text(user, "x")); old["error"] != float64(-216) {
		t.Fatalf("old access token still works: %v", old)
	}
	if s.Refreshes() != 2 || len(s.CallsTo(oatest.PathToken)) != 3 {
		t.Fatalf("%d refreshes, %d calls", s.Refreshes(), len(s.CallsTo(oatest.PathToken)))
	}
	s.SetExpiresIn(90000)
	if n := refresh(t, s, second["refresh_token"].(string)); n["expires_in"] != float64(90000) {
		t.Fatalf("expires_in %v", n["expires_in"])
	}
}

func TestCSChecksMessages(t *testing.T) {
	s := oatest.New(t)
	tok := refresh(t, s, oatest.RefreshToken)["access_token"].(string)
	user := oatest.UserID(1)
	buttons := func(n int) map[string]any {
		var b []any
		for range n {
			b = append(b, map[string]any{"title": "a", "type": "oa.query.hide", "payload": "#gc:x"})
		}
		return map[string]any{"recipient": map[string]any{"user_id": user}, "message": map[string]any{
			"text": "chọn", "attachment": map[string]any{"type": "template", "payload": map[string]any{"buttons": b}}}}
	}
	for _, tt := range []struct {
		name string
		body any
		want float64
	}{
		{"text", text(user, "xin chào"), 0},
		{"2000 characters", text(user, strings.Repeat("ă", 2000)), 0},
		{"2001 characters", text(user, strings.Repeat("ă", 2001)), -201},
		{"empty", text(user, " "), -201},
		{"no user", text("", "x"), -201},
		{"5 buttons", buttons(5), 0},
		{"6 buttons", buttons(6), -201},
		{"unknown attachment", map[string]any{"recipient": map[string]any{"user_id": user}, "message": map[string]any{
			"attachment": map[string]any{"type": "template", "payload": map[string]any{"template_type": "media",
				"elements": []any{map[string]any{"media_type": "image", "attachment_id": "nope"}}}}}}, -201},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ans := cs(t, s, tok, tt.body)
			if ans["error"] != tt.want {
				t.Fatalf("answer %v, want error %v", ans, tt.want)
			}
			if tt.want == 0 && ans["data"].(map[string]any)["message_id"] == "" {
				t.Fatal("no message_id")
			}
		})
	}
	s.FailNext(-230)
	s.FailUser(oatest.UserID(2), -213)
	if a := cs(t, s, tok, text(user, "x")); a["error"] != float64(-230) {
		t.Fatalf("queued failure not used: %v", a)
	}
	if a := cs(t, s, tok, text(oatest.UserID(2), "x")); a["error"] != float64(-213) {
		t.Fatalf("user failure not used: %v", a)
	}
	if n := len(s.Sent(user)); n != 3 {
		t.Fatalf("%d sent to user", n)
	}
}

func TestUpload(t *testing.T) {
	s := oatest.New(t)
	tok := refresh(t, s, oatest.RefreshToken)["access_token"].(string)
	upload := func(data []byte) map[string]any {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		fw, _ := w.CreateFormFile("file", "a.jpg")
		fw.Write(data)
		w.Close()
		req, _ := http.NewRequest(http.MethodPost, s.URL()+oatest.PathUpload, &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("access_token", tok)
		return do(t, req)
	}
	jpeg := append([]byte("\xff\xd8\xff\xe0"), make([]byte, 100)...)
	ok := upload(jpeg)
	id, _ := ok["data"].(map[string]any)["attachment_id"].(string)
	if ok["error"] != float64(0) || id == "" {
		t.Fatalf("upload %v", ok)
	}
	if big := upload(append(jpeg, make([]byte, oatest.MaxImage)...)); big["error"] != float64(-201) {
		t.Fatalf("over 1 MiB: %v", big)
	}
	if gif := upload([]byte("GIF89a" + strings.Repeat("x", 50))); gif["error"] != float64(-201) {
		t.Fatalf("gif: %v", gif)
	}
	if ups := s.Uploads(); len(ups) != 1 || ups[0].AttachmentID != id || !bytes.Equal(ups[0].Data, jpeg) {
		t.Fatalf("uploads %+v", ups)
	}
}

// Sign is the formula oa.Verify checks, and Post sends what Zalo sends.
func TestSignedEvents(t *testing.T) {
	at := time.Now()
	body := oatest.UserText(oatest.UserID(1), "m1", "chào", at)
	if !oa.Verify(oatest.AppID, body, oatest.Millis(at), oatest.SecretKey, "mac="+oatest.Sign(oatest.AppID, body, oatest.Millis(at), oatest.SecretKey)) {
		t.Fatal("Sign and Verify disagree")
	}
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
	}))
	defer srv.Close()
	if code := oatest.Post(t, srv.URL+oa.WebhookPath, body); code != 200 {
		t.Fatalf("status %d", code)
	}
	if got.URL.Path != oa.WebhookPath || !bytes.Equal(gotBody, body) ||
		got.Header.Get(oa.SignatureHeader) != "mac="+oatest.Sign(oatest.AppID, body, oatest.Millis(at), oatest.SecretKey) {
		t.Fatalf("posted %s %v", got.URL, got.Header)
	}
	var ev map[string]any
	if err := json.Unmarshal(body, &ev); err != nil || ev["timestamp"] != oatest.Millis(at) || ev["app_id"] != oatest.AppID {
		t.Fatalf("event %v", ev)
	}
	if id := oatest.UserID(3); len(id) != 19 {
		t.Fatalf("user id %q", id)
	}
}

func TestFiles(t *testing.T) {
	s := oatest.New(t)
	s.AddFile("a.jpg", "image/jpeg", []byte("abc"))
	resp, err := http.Get(s.FileURL("a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "abc" || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("%q %v", b, resp.Header)
	}
	resp, err = http.Get(s.FileURL("missing"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
}
