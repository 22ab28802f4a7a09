package dashboard

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/broadcast"
	"github.com/gocua/gocua/flows"
)

var (
	shippedOnce  sync.Once
	shippedFlows *flows.Set
	shippedErr   error
)

// shipped are the bundled flows, loaded once.
func shipped(t *testing.T) *flows.Set {
	t.Helper()
	shippedOnce.Do(func() { shippedFlows, shippedErr = flows.Load(flows.Bundled()) })
	if shippedErr != nil {
		t.Fatal(shippedErr)
	}
	return shippedFlows
}

// broadcastEnvFor is a test server with flows and areas, counting wakes.
func broadcastEnvFor(t *testing.T) (*testEnv, *atomic.Int32) {
	t.Helper()
	var wakes atomic.Int32
	set, ar := shipped(t), wardAreas(t)
	e := newTestEnv(t, Config{Areas: ar, Flows: func() *flows.Set { return set }, Wake: func() { wakes.Add(1) },
		BroadcastEnv: func(now time.Time) broadcast.Env {
			return broadcast.Env{Flows: set, Location: time.UTC, Now: now, MaxText: 4096, MaxCaption: 1024,
				Known: broadcast.Known{Langs: set.Langs(), Areas: func(code string) bool { _, ok := ar.Lookup(code); return ok }}}
		}})
	return e, &wakes
}

// postMultipart sends the create form with an optional image.
func postMultipart(c *client, path string, form url.Values, file string, data []byte) response {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if c.csrf != "" && !form.Has("csrf") {
		form.Set("csrf", c.csrf)
	}
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != "" {
		w, _ := mw.CreateFormFile("image", file)
		_, _ = w.Write(data)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.ts.URL+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// pngBytes is a small PNG.
func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (e *testEnv) broadcastsSoFar() []broadcast.Broadcast {
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	return append([]broadcast.Broadcast(nil), e.st.broadcasts...)
}

func TestCreateBroadcast(t *testing.T) {
	e, wakes := broadcastEnvFor(t)
	org := e.login(orgID)
	page := org.get(Prefix + "broadcasts")
	if page.StatusCode != http.StatusOK {
		t.Fatalf("page: %d %s", page.StatusCode, page.Body)
	}
	for _, want := range []string{`enctype="multipart/form-data"`, `data-count-url="/dashboard/broadcasts/count"`, `data-count-target="audience-count"`,
		`id="audience-count"`, `value="install_vneid"`, `name="button3_label"`, `type="datetime-local"`, "Chưa có thông báo nào"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("form lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `value="volunteer"`) {
		t.Error("the volunteer flow is offered for a button")
	}
	noInlineHere(t, page.Body)
	n := nonceFor(t, page.Body, Prefix+"broadcasts")
	form := url.Values{"nonce": {n}, "text": {"Chủ nhật này, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hóa 🙏"}, "audience": {"area:a1 and lang:vi"},
		"when": {"now"}, "button1_label": {"Cài VNeID"}, "button1_flow": {"install_vneid"}, "button2_label": {"Kích hoạt"},
		"button2_flow": {"activate_account"}, "button2_step": {""}}
	res := postMultipart(org, Prefix+"broadcasts", form, "poster.png", pngBytes(t))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != Prefix+"broadcasts/1?n=notice_bc_created" {
		t.Fatalf("create: %d %v %s", res.StatusCode, res.Header, res.Body)
	}
	list := e.broadcastsSoFar()
	if len(list) != 1 {
		t.Fatalf("%d broadcasts", len(list))
	}
	b := list[0]
	if b.Text != form.Get("text") || b.Audience != "area:a1 and lang:vi" || !b.At.Equal(testNow) || b.State != broadcast.Active ||
		b.CreatedBy != "dashboard:1" || b.Source != "web:"+n || len(b.Buttons) != 2 || b.Buttons[0] != (broadcast.Button{Label: "Cài VNeID", Flow: "install_vneid"}) ||
		b.Image != bot.WebRefPrefix+"up1" || b.Expires != 24*time.Hour {
		t.Errorf("stored %+v", b)
	}
	e.st.mu.Lock()
	up := e.st.uploads[0]
	e.st.mu.Unlock()
	if up.Visitor != "broadcasts" || up.MIME != "image/png" || up.Size != int64(len(pngBytes(t))) || len(up.MsgID) != 32 {
		t.Errorf("upload %+v", up)
	}
	if wakes.Load() != 1 {
		t.Errorf("%d wakes", wakes.Load())
	}
	// at a time, and on a schedule
	for _, c := range []struct {
		form url.Values
		ok   func(broadcast.Broadcast) bool
	}{
		{url.Values{"when": {"at"}, "at": {"2026-12-05T07:30"}}, func(b broadcast.Broadcast) bool {
			return b.At.Equal(time.Date(2026, 12, 5, 7, 30, 0, 0, time.UTC)) && b.Cron == ""
		}},
		{url.Values{"when": {"cron"}, "cron": {"30 7 * * 6"}}, func(b broadcast.Broadcast) bool { return b.Cron == "30 7 * * 6" && b.At.IsZero() }},
	} {
		c.form.Set("nonce", nonce())
		c.form.Set("text", "Nhắc bà con cập nhật VNeID")
		if res := org.post(Prefix+"broadcasts", c.form); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%v: %d %s", c.form, res.StatusCode, res.Body)
		}
		list := e.broadcastsSoFar()
		if b := list[len(list)-1]; !c.ok(b) || b.Audience != "all" || b.Image != "" {
			t.Errorf("%v: stored %+v", c.form, b)
		}
	}
	// the list shows them
	body := org.get(Prefix + "broadcasts").Body
	for _, want := range []string{"#1", "#3", "Lặp lại: 30 7 * * 6", "Chưa đến giờ gửi", "Đang chạy"} {
		if !strings.Contains(body, want) {
			t.Errorf("list lacks %q", want)
		}
	}
}

func TestCreateBroadcastBadInput(t *testing.T) {
	e, wakes := broadcastEnvFor(t)
	org := e.login(orgID)
	base := func(kv ...string) url.Values {
		f := url.Values{"nonce": {nonce()}, "text": {"Xin chào bà con"}, "when": {"now"}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	big := append(pngBytes(t), make([]byte, bot.MaxUpload)...)
	for _, c := range []struct {
		name  string
		form  url.Values
		file  string
		data  []byte
		code  int
		wants []string
	}{
		{"no nonce", base("nonce", ""), "", nil, http.StatusBadRequest, nil},
		{"garbage nonce", base("nonce", "<script>"), "", nil, http.StatusBadRequest, nil},
		{"empty text", base("text", "   "), "", nil, http.StatusBadRequest, []string{"Nội dung đang trống"}},
		{"huge text", base("text", strings.Repeat("ệ", 5000)), "", nil, http.StatusBadRequest, []string{"dài 5000 ký tự, tối đa 4096"}},
		{"long caption", base("text", strings.Repeat("ư", 1100)), "a.png", pngBytes(t), http.StatusBadRequest, []string{"kèm ảnh dài 1100 ký tự, tối đa 1024", "chọn lại ảnh"}},
		{"broken utf-8", base("text", "xin \xff\xfe chào"), "", nil, http.StatusBadRequest, []string{"ký tự lỗi"}},
		{"odd unicode kept", base("text", "a\u202e\u200d\U0001F468\u200D\U0001F469\u200D\U0001F467 \u2066x\u2069", "audience", "area:"), "", nil, http.StatusBadRequest,
			[]string{"\u202e", "\U0001F468\u200D\U0001F469"}},
		{"not an image", base(), "notes.txt", []byte("hello, this is not a photo"), http.StatusBadRequest, []string{"không phải ảnh JPEG, PNG hay WebP"}},
		{"a gif", base(), "a.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), http.StatusBadRequest, []string{"không phải ảnh"}},
		{"too large", base(), "big.png", big, http.StatusRequestEntityTooLarge, []string{"Ảnh lớn quá, tối đa 5 MB"}},
		{"far too large", base(), "huge.png", append(big, make([]byte, 128<<10)...), http.StatusRequestEntityTooLarge, nil},
		{"audience syntax", base("audience", "area:a1 and and"), "", nil, http.StatusBadRequest, []string{"column"}},
		{"audience unknown area", base("audience", "area:zz"), "", nil, http.StatusBadRequest, []string{"zz"}},
		{"audience unknown flow", base("audience", "started:nope"), "", nil, http.StatusBadRequest, []string{"nope"}},
		{"audience too long", base("audience", strings.Repeat("lang:vi or ", 200)), "", nil, http.StatusBadRequest, []string{"too long"}},
		{"button without label", base("button1_flow", "install_vneid"), "", nil, http.StatusBadRequest, []string{"Nút 1 chưa có chữ"}},
		{"button without flow", base("button2_label", "Mở"), "", nil, http.StatusBadRequest, []string{"Nút 2 chưa chọn hướng dẫn"}},
		{"button with =", base("button1_label", "a=b", "button1_flow", "install_vneid"), "", nil, http.StatusBadRequest, []string{"dấu ="}},
		{"button unknown flow", base("button3_label", "Mở", "button3_flow", "nope"), "", nil, http.StatusBadRequest, []string{"Nút 3:", "nope"}},
		{"button unknown step", base("button1_label", "Mở", "button1_flow", "install_vneid", "button1_step", "nowhere"), "", nil,
			http.StatusBadRequest, []string{"Nút 1:", "nowhere"}},
		{"button label too long", base("button1_label", strings.Repeat("Ữ", 41), "button1_flow", "install_vneid"), "", nil,
			http.StatusBadRequest, []string{"Nút 1:", "41"}},
		{"no schedule", base("when", ""), "", nil, http.StatusBadRequest, []string{"Bạn chọn khi nào gửi"}},
		{"odd schedule", base("when", "yesterday"), "", nil, http.StatusBadRequest, []string{"Bạn chọn khi nào gửi"}},
		{"at missing", base("when", "at"), "", nil, http.StatusBadRequest, []string{"Bạn chọn ngày giờ gửi"}},
		{"at garbage", base("when", "at", "at", "mai nhé"), "", nil, http.StatusBadRequest, []string{"Ngày giờ:", "mai nhé"}},
		{"at passed", base("when", "at", "at", "2026-11-30T07:30"), "", nil, http.StatusBadRequest, []string{"Ngày giờ:", "has passed"}},
		{"cron missing", base("when", "cron"), "", nil, http.StatusBadRequest, []string{"Bạn viết lịch lặp lại"}},
		{"cron garbage", base("when", "cron", "cron", "mỗi sáng"), "", nil, http.StatusBadRequest, []string{"Lịch:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := postMultipart(org, Prefix+"broadcasts", c.form, c.file, c.data)
			if res.StatusCode != c.code {
				t.Fatalf("%d %s", res.StatusCode, res.Body)
			}
			for _, want := range c.wants {
				if !strings.Contains(res.Body, want) {
					t.Errorf("no %q in %s", want, res.Body)
				}
			}
			if c.code != http.StatusBadRequest || c.form.Get("nonce") == "" || len(c.form.Get("nonce")) != 32 {
				return
			}
			// what was typed is kept, with the same nonce
			if !strings.Contains(res.Body, `name="nonce" value="`+c.form.Get("nonce")+`"`) {
				t.Error("the nonce is not kept")
			}
			if txt := c.form.Get("text"); strings.TrimSpace(txt) != "" && !strings.Contains(txt, "\xff") && !strings.Contains(res.Body, clipBytes(txt, 100)) {
				t.Error("the text is not kept")
			}
			noInlineHere(t, res.Body)
		})
	}
	if n := len(e.broadcastsSoFar()); n != 0 || wakes.Load() != 0 {
		t.Errorf("%d broadcasts, %d wakes", n, wakes.Load())
	}
	e.st.mu.Lock()
	defer e.st.mu.Unlock()
	if len(e.st.uploads) != 0 {
		t.Errorf("uploads kept for refused forms: %d", len(e.st.uploads))
	}
}

func TestAudienceCount(t *testing.T) {
	e, _ := broadcastEnvFor(t)
	e.st.count = broadcast.Count{Matched: 1500, Recipients: 1234, NoConsent: 200, Unreachable: 60, Window: 6}
	org := e.login(orgID)
	for _, c := range []struct {
		aud  string
		code int
		want string
	}{
		{"", http.StatusOK, "1.234 người nhận (trong 1.500 người phù hợp: 200 chưa đồng ý nhận tin, 60 đã chặn bot, 6 quá hạn nhắn của nền tảng)"},
		{"area:a1 and not completed:install_vneid", http.StatusOK, "1.234 người nhận"},
		{"area:a1 and (", http.StatusBadRequest, "audience: column"},
		{"lang:xx", http.StatusBadRequest, "xx"},
		{"\xff", http.StatusBadRequest, "invalid UTF-8"},
		{strings.Repeat("(", 40) + "all" + strings.Repeat(")", 40), http.StatusBadRequest, "audience"},
	} {
		res := org.post(Prefix+"broadcasts/count", url.Values{"audience": {c.aud}})
		if res.StatusCode != c.code || !strings.Contains(res.Body, c.want) || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%q: %d %q", clipBytes(c.aud, 30), res.StatusCode, res.Body)
		}
	}
	// in English
	en := e.login(orgID)
	en.get(Prefix + "lang?to=en")
	e.st.count = broadcast.Count{Matched: 1234, Recipients: 1234}
	if res := en.post(Prefix+"broadcasts/count", url.Values{"audience": {"all"}}); res.Body != "1,234 recipients" {
		t.Errorf("english: %q", res.Body)
	}
	// the store down
	e.failWith(errDown)
	if res := org.post(Prefix+"broadcasts/count", url.Values{"audience": {"all"}}); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("down: %d", res.StatusCode)
	}
}

func TestScopedOrganizerBroadcastsToTheirAreas(t *testing.T) {
	e, _ := broadcastEnvFor(t)
	a1 := e.login(orgA1ID)
	page := a1.get(Prefix + "broadcasts").Body
	if !strings.Contains(page, "chỉ đến bà con ở: Phường Thuận Hóa") {
		t.Errorf("no scope on the form: %s", page)
	}
	res := a1.post(Prefix+"broadcasts", url.Values{"nonce": {nonce()}, "text": {"Xin chào"}, "when": {"now"}, "audience": {"lang:vi or area:a2"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	if b := e.broadcastsSoFar()[0]; b.Audience != "area:a1 and (lang:vi or area:a2)" {
		t.Errorf("audience %q", b.Audience)
	}
}

func TestBroadcastPageAndProgress(t *testing.T) {
	e, _ := broadcastEnvFor(t)
	e.st.broadcasts = []broadcast.Broadcast{{ID: 1, Text: "Tin <b>gửi</b> bà con", Audience: "all", At: testNow, State: broadcast.Active,
		CreatedBy: "cli", Buttons: []broadcast.Button{{Label: "Cài", Flow: "install_vneid", Step: "phone"}}}}
	e.st.run = broadcast.Run{ID: 7, Broadcast: 1, State: broadcast.RunSending, Total: 100, StartedAt: testNow}
	e.st.report = broadcast.Report{Run: e.st.run, Pending: 60, Delivered: 30, Blocked: 2, Failed: 1,
		Skipped: map[string]int{broadcast.ReasonNoConsent: 5, broadcast.ReasonWindow: 2}, Tapped: 4}
	org := e.login(orgID)
	res := org.get(Prefix + "broadcasts/1")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", res.StatusCode, res.Body)
	}
	for _, want := range []string{`<progress class="progress" max="100" value="40"`, `<meta http-equiv="refresh" content="5">`,
		"40 / 100 đã xử lý (40%)", "Chưa đồng ý nhận tin: 5", "Quá hạn nhắn của nền tảng: 2", "Cài → install_vneid#phone",
		"Tin &lt;b&gt;gửi&lt;/b&gt; bà con", "/broadcasts/1/pause", "/broadcasts/1/cancel", "Dòng lệnh của máy chủ"} {
		if !strings.Contains(res.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if res.Header.Get("Refresh") != "5" || strings.Contains(res.Body, "/broadcasts/1/resume") {
		t.Errorf("refresh %q", res.Header.Get("Refresh"))
	}
	noInlineHere(t, res.Body)
	if body := org.get(Prefix + "broadcasts").Body; !strings.Contains(body, `max="100" value="40"`) || !strings.Contains(body, "Đang gửi") {
		t.Errorf("list without progress: %s", body)
	}
	// finished: no refresh
	e.st.mu.Lock()
	e.st.run.State, e.st.report.Run.State = broadcast.RunFinished, broadcast.RunFinished
	e.st.broadcasts[0].State = broadcast.Done
	e.st.mu.Unlock()
	res = org.get(Prefix + "broadcasts/1")
	if strings.Contains(res.Body, "http-equiv") || res.Header.Get("Refresh") != "" || strings.Contains(res.Body, "/pause") ||
		!strings.Contains(res.Body, "đã gửi xong") {
		t.Errorf("finished page: %s", res.Body)
	}
	for _, p := range []string{"broadcasts/2", "broadcasts/0", "broadcasts/abc", "broadcasts/-1", "broadcasts/99999999999999999999"} {
		if res := org.get(Prefix + p); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", p, res.StatusCode)
		}
	}
	if res := e.login(volID).get(Prefix + "broadcasts/1"); res.StatusCode != http.StatusForbidden {
		t.Errorf("volunteer: %d", res.StatusCode)
	}
}

func TestBroadcastPauseResumeCancel(t *testing.T) {
	e, wakes := broadcastEnvFor(t)
	e.st.broadcasts = []broadcast.Broadcast{
		{ID: 1, Text: "một", State: broadcast.Active, CreatedBy: "cli"},
		{ID: 2, Text: "hai", State: broadcast.Active, CreatedBy: "dashboard:5"},
		{ID: 3, Text: "ba", State: broadcast.Active, CreatedBy: "telegram:105"},
	}
	org, a1 := e.login(orgID), e.login(orgA1ID)
	state := func(id int) broadcast.State {
		e.st.mu.Lock()
		defer e.st.mu.Unlock()
		return e.st.broadcasts[id-1].State
	}
	for _, c := range []struct {
		c      *client
		path   string
		code   int
		notice string
		id     int
		want   broadcast.State
	}{
		{org, "broadcasts/1/resume", http.StatusSeeOther, "notice_bc_state", 1, broadcast.Active},
		{org, "broadcasts/1/pause", http.StatusSeeOther, "notice_bc_paused", 1, broadcast.Paused},
		{org, "broadcasts/1/pause", http.StatusSeeOther, "notice_bc_state", 1, broadcast.Paused},
		{org, "broadcasts/1/resume", http.StatusSeeOther, "notice_bc_resumed", 1, broadcast.Active},
		{org, "broadcasts/1/cancel", http.StatusSeeOther, "notice_bc_cancelled", 1, broadcast.Cancelled},
		{org, "broadcasts/1/resume", http.StatusSeeOther, "notice_bc_state", 1, broadcast.Cancelled},
		{org, "broadcasts/1/cancel", http.StatusSeeOther, "notice_bc_state", 1, broadcast.Cancelled},
		{a1, "broadcasts/1/pause", http.StatusForbidden, "", 1, broadcast.Cancelled},
		{a1, "broadcasts/2/pause", http.StatusSeeOther, "notice_bc_paused", 2, broadcast.Paused},
		{a1, "broadcasts/3/cancel", http.StatusSeeOther, "notice_bc_cancelled", 3, broadcast.Cancelled},
		{org, "broadcasts/9/pause", http.StatusNotFound, "", 2, broadcast.Paused},
		{org, "broadcasts/x/pause", http.StatusNotFound, "", 2, broadcast.Paused},
	} {
		res := c.c.post(Prefix+c.path, nil)
		if res.StatusCode != c.code || c.notice != "" && !strings.HasSuffix(res.Header.Get("Location"), "?n="+c.notice) {
			t.Errorf("%s: %d %s", c.path, res.StatusCode, res.Header.Get("Location"))
		}
		if got := state(c.id); got != c.want {
			t.Errorf("%s: broadcast %d is %s, want %s", c.path, c.id, got, c.want)
		}
	}
	if wakes.Load() != 5 {
		t.Errorf("%d wakes", wakes.Load())
	}
	// the pages show only what the viewer may do, and who made it
	if body := a1.get(Prefix + "broadcasts/1").Body; strings.Contains(body, "/broadcasts/1/") {
		t.Errorf("a1 is offered to change #1")
	}
	for id, name := range map[string]string{"2": "Cô Mai", "3": "Cô Mai"} {
		if body := org.get(Prefix + "broadcasts/" + id).Body; !strings.Contains(body, "<dd>"+name+"</dd>") {
			t.Errorf("#%s: no author %s", id, name)
		}
	}
}
