package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/handoff"
)

// seedTickets puts a waiting ticket in a1 (#1), one in a2 (#2) and one of
// a1 assigned to the volunteer (#3).
func seedTickets(e *testEnv) {
	res := func(id string) bot.ConvKey { return bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: id} }
	e.st.tickets[1] = handoff.Ticket{ID: 1, Resident: res("7001234501"), Status: handoff.Waiting, Area: "a1", Flow: "install_vneid",
		Step: "open_store", Summary: "CCCD 012345678901", CreatedAt: e.now.Add(-12 * time.Minute)}
	e.st.tickets[2] = handoff.Ticket{ID: 2, Resident: res("7001234502"), Status: handoff.Waiting, Area: "a2", CreatedAt: e.now.Add(-3 * time.Minute)}
	e.st.tickets[3] = handoff.Ticket{ID: 3, Resident: res("7001234503"), Status: handoff.Assigned, Area: "a1", Volunteer: volID,
		Vars: map[string]string{"name": "Bà Năm"}, Callback: "0912345678", CreatedAt: e.now.Add(-40 * time.Minute)}
	e.st.lines[1] = []bot.TranscriptLine{{From: "resident", Text: "số của tôi 0912345678", At: e.now}}
	e.st.lines[3] = []bot.TranscriptLine{{From: "resident", Text: "cháu ơi giúp bà", At: e.now}}
}

var nonceRe = regexp.MustCompile(`name="nonce" value="([0-9a-f]{32})"`)

func pageNonce(t *testing.T, body string) string {
	t.Helper()
	m := nonceRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no nonce on the page: %s", body)
	}
	return m[1]
}

func TestQueueShowsTheViewersAreas(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	body := e.login(volID).get(Prefix + "queue").Body
	if !strings.Contains(body, `data-ticket="1"`) || strings.Contains(body, `data-ticket="2"`) || !strings.Contains(body, `data-ticket="3"`) {
		t.Fatalf("volunteer of a1 sees: %s", body)
	}
	if !strings.Contains(body, "12 phút") {
		t.Errorf("no wait time: %s", body)
	}
	all := e.login(orgID).get(Prefix + "queue").Body
	for _, id := range []string{"1", "2", "3"} {
		if !strings.Contains(all, `data-ticket="`+id+`"`) {
			t.Errorf("organizer misses #%s", id)
		}
	}
	// the live part alone, for app.js
	c := e.login(volID)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+Prefix+"queue", nil)
	req.Header.Set("X-Fragment", "live")
	frag := c.do(req)
	if strings.Contains(frag.Body, "<html") || !strings.Contains(frag.Body, `data-ticket="1"`) {
		t.Errorf("fragment: %s", frag.Body)
	}
}

func TestTicketOfAnotherAreaIsNotFound(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	vol := e.login(volID)
	for _, path := range []string{"tickets/2", "tickets/999", "tickets/abc", "tickets/-1", "tickets/" + strings.Repeat("9", 40)} {
		if res := vol.get(Prefix + path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	// nor can it be claimed, or streamed
	if res := vol.post(Prefix+"tickets/2/claim", url.Values{"nonce": {nonce()}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("claim of another area: %d", res.StatusCode)
	}
	if res := vol.get(Prefix + "events?topic=ticket:2"); res.StatusCode != http.StatusNotFound {
		t.Errorf("stream of another area: %d", res.StatusCode)
	}
	// an organizer limited to a1 neither
	if res := e.login(orgA1ID).get(Prefix + "tickets/2"); res.StatusCode != http.StatusNotFound {
		t.Errorf("organizer of a1 opens a2: %d", res.StatusCode)
	}
	if len(e.st.inbound) != 0 {
		t.Errorf("the core was reached: %+v", e.st.inbound)
	}
}

func TestTranscriptUnmaskedOnlyToTheAssignee(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	vol := e.login(volID)
	waiting := vol.get(Prefix + "tickets/1").Body
	if strings.Contains(waiting, "012345678901") || strings.Contains(waiting, "0912345678") {
		t.Errorf("numbers shown before the claim: %s", waiting)
	}
	mine := vol.get(Prefix + "tickets/3").Body
	if !strings.Contains(mine, "Bà Năm") || !strings.Contains(mine, "0912345678") || !strings.Contains(mine, `id="reply"`) {
		t.Errorf("the assignee's page: %s", mine)
	}
	other := e.login(orgID).get(Prefix + "tickets/3").Body
	if strings.Contains(other, "Bà Năm") || strings.Contains(other, "0912345678") || strings.Contains(other, `id="reply"`) {
		t.Errorf("another's view of an assigned ticket: %s", other)
	}
}

func TestWebActionsGoThroughTheDesk(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	e.st.ack = bot.Ack{Text: "Bạn đã nhận phiếu #1"}
	vol := e.login(volID)
	n := pageNonce(t, vol.get(Prefix+"tickets/1").Body)
	for range 2 { // a double submission keeps its nonce
		if res := vol.post(Prefix+"tickets/1/claim", url.Values{"nonce": {n}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("claim: %d %s", res.StatusCode, res.Body)
		}
	}
	if body := vol.get(Prefix + "tickets/1").Body; !strings.Contains(body, "Bạn đã nhận phiếu #1") {
		t.Errorf("the desk's answer is not shown: %s", body)
	}
	n3 := pageNonce(t, vol.get(Prefix+"tickets/3").Body)
	vol.post(Prefix+"tickets/3/reply", url.Values{"nonce": {n3}, "text": {"Bác bấm vào nút Đăng ký nhé"}})
	vol.post(Prefix+"tickets/3/note", url.Values{"nonce": {nonce()}, "text": {"bà cần kính"}})
	vol.post(Prefix+"tickets/3/resolve", url.Values{"nonce": {nonce()}, "category": {"vneid"}})
	vol.post(Prefix+"tickets/3/release", url.Values{"nonce": {nonce()}})

	want := []bot.Inbound{
		{Kind: bot.InButton, Data: "dk:claim:1", UpdateID: "web:" + n},
		{Kind: bot.InButton, Data: "dk:claim:1", UpdateID: "web:" + n},
		{Kind: bot.InText, Text: "Bác bấm vào nút Đăng ký nhé", ReplyTo: "#3", UpdateID: "web:" + n3},
		{Kind: bot.InCommand, Command: "note", Args: "bà cần kính", ReplyTo: "#3"},
		{Kind: bot.InButton, Data: "dk:done:3:vneid"},
		{Kind: bot.InCommand, Command: "release", Args: "3"},
	}
	if len(e.st.inbound) != len(want) {
		t.Fatalf("core got %d updates: %+v", len(e.st.inbound), e.st.inbound)
	}
	for i, w := range want {
		got := e.st.inbound[i]
		if got.Key != (bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: "2"}) || got.UserID != "2" || got.Kind != w.Kind ||
			got.Data != w.Data || got.Text != w.Text || got.Command != w.Command || got.Args != w.Args || got.ReplyTo != w.ReplyTo ||
			w.UpdateID != "" && got.UpdateID != w.UpdateID || !strings.HasPrefix(got.UpdateID, "web:") {
			t.Errorf("update %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestWebActionsBadInput(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	vol := e.login(volID)
	cases := []struct {
		path string
		form url.Values
		code int
	}{
		{"tickets/1/claim", url.Values{}, http.StatusBadRequest},
		{"tickets/1/claim", url.Values{"nonce": {"zz"}}, http.StatusBadRequest},
		{"tickets/1/claim", url.Values{"nonce": {strings.Repeat("g", 32)}}, http.StatusBadRequest},
		{"tickets/3/reply", url.Values{"nonce": {nonce()}, "text": {"   "}}, http.StatusBadRequest},
		{"tickets/3/reply", url.Values{"nonce": {nonce()}, "text": {strings.Repeat("ạ", 4001)}}, http.StatusBadRequest},
		{"tickets/3/reply", url.Values{"nonce": {nonce()}, "text": {"\xff\xfe"}}, http.StatusBadRequest},
		{"tickets/3/note", url.Values{"nonce": {nonce()}}, http.StatusBadRequest},
		{"tickets/3/resolve", url.Values{"nonce": {nonce()}, "category": {"<script>"}}, http.StatusBadRequest},
		{"tickets/3/note", url.Values{"nonce": {nonce()}, "text": {strings.Repeat("x", 70<<10)}}, http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		if res := vol.post(Prefix+c.path, c.form); res.StatusCode != c.code {
			t.Errorf("%s (text of %d bytes): %d, want %d", c.path, len(c.form.Get("text")), res.StatusCode, c.code)
		}
	}
	if len(e.st.inbound) != 0 {
		t.Errorf("bad input reached the core: %+v", e.st.inbound)
	}
	// a file sent to a form that takes none
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("csrf", vol.csrf)
	_ = mw.WriteField("nonce", nonce())
	fw, _ := mw.CreateFormFile("photo", "x.png")
	fw.Write([]byte("x"))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+Prefix+"tickets/3/note", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res := vol.do(req); res.StatusCode != http.StatusBadRequest {
		t.Errorf("file to the note form: %d", res.StatusCode)
	}
}

// multipartReply posts a reply with a photo.
func multipartReply(c *client, text string, photo []byte) response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.WriteField("csrf", c.csrf)
	_ = mw.WriteField("nonce", nonce())
	_ = mw.WriteField("text", text)
	fw, _ := mw.CreateFormFile("photo", "anh.png")
	fw.Write(photo)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+Prefix+"tickets/3/reply", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func TestReplyWithPhoto(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	vol := e.login(volID)
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var p bytes.Buffer
	png.Encode(&p, img)
	if res := multipartReply(vol, "", p.Bytes()); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("photo reply: %d %s", res.StatusCode, res.Body)
	}
	if len(e.st.inbound) != 1 || e.st.inbound[0].Media == nil || e.st.inbound[0].Media.Kind != bot.MediaPhoto ||
		!strings.HasPrefix(e.st.inbound[0].Media.Ref, bot.WebRefPrefix) || e.st.inbound[0].ReplyTo != "#3" {
		t.Fatalf("core got %+v", e.st.inbound)
	}
	if len(e.st.uploads) != 1 || e.st.uploads[0].MIME != "image/png" {
		t.Fatalf("uploads %+v", e.st.uploads)
	}
	// not a photo; too large
	if res := multipartReply(vol, "xem ảnh", []byte("%PDF-1.4 not a photo")); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a PDF: %d", res.StatusCode)
	}
	if res := multipartReply(vol, "", bytes.Repeat([]byte{0xff}, bot.MaxUpload+100<<10)); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a huge photo: %d", res.StatusCode)
	}
	if len(e.st.inbound) != 1 {
		t.Errorf("bad photos reached the core")
	}
}

func TestQueueStreamsChanges(t *testing.T) {
	e := newTestEnv(t, Config{})
	seedTickets(e)
	vol := e.login(volID)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+Prefix+"events?topic=queue", nil)
	res, err := vol.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", res.StatusCode, res.Header)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Scan() // retry:
	go func() {
		time.Sleep(100 * time.Millisecond) // the poller has read the first stamp
		e.st.touch()                       // a ticket moved, on any replica
	}()
	for sc.Scan() {
		if sc.Text() == "event: change" {
			return
		}
	}
	t.Fatalf("no change event: %v", sc.Err())
}

func TestDeliverBecomesANotice(t *testing.T) {
	e := newTestEnv(t, Config{})
	c := e.login(volID)
	out := bot.Outbound{Key: bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: "2"}, Text: "Đã lưu ghi chú cho phiếu #3"}
	if err := e.srv.Deliver(t.Context(), out); err != nil {
		t.Fatal(err)
	}
	if body := c.get(Prefix + "sessions").Body; !strings.Contains(body, "Đã lưu ghi chú cho phiếu #3") {
		t.Errorf("notice not shown: %s", body)
	}
	for _, bad := range []bot.ConvKey{{Channel: bot.ChannelTelegram, ChatID: "2"}, {Channel: bot.ChannelDashboard, ChatID: "x"}} {
		if err := e.srv.Deliver(t.Context(), bot.Outbound{Key: bad, Text: "x"}); err == nil {
			t.Errorf("delivered to %v", bad)
		}
	}
}
