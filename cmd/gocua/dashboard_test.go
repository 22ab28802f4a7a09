package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/flows"
)

// linkIn finds a dashboard sign-in link in a message (its text or a URL
// button).
func linkIn(t *testing.T, m telegramtest.SentMessage) string {
	t.Helper()
	re := regexp.MustCompile(`https?://\S+/dashboard/login\?t=[A-Za-z0-9_-]{43}`)
	for _, row := range m.Keyboard {
		for _, b := range row {
			if re.MatchString(b.URL) {
				return b.URL
			}
		}
	}
	if l := re.FindString(m.Text); l != "" {
		return l
	}
	t.Fatalf("no sign-in link in %+v", m)
	return ""
}

// signIn spends a link the way its page's button does and returns a client
// with the session.
func signIn(t testing.TB, base, link string) (*http.Client, int) {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.PostForm(base+"/dashboard/login", url.Values{"t": {u.Query().Get("t")}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return c, res.StatusCode
}

// The first organizer's way in: `gocua dashboard link` prints a link that
// works once.
func TestDashboardLinkCommand(t *testing.T) {
	h := startDesk(t)
	env := map[string]string{
		"GOCUA_DATABASE_URL": h.main.Config.DatabaseURL.Reveal(),
		"GOCUA_ADMINS":       "telegram:" + strconv.FormatInt(h.org, 10),
		"GOCUA_HTTP_ADDR":    h.main.Addr,
	}
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := Run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errs)
		return code, out.String(), errs.String()
	}
	code, out, _ := run("dashboard", "link", "telegram:"+strconv.FormatInt(h.org, 10))
	if code != 0 || !strings.HasPrefix(out, h.url+"/dashboard/login?t=") {
		t.Fatalf("dashboard link: %d %q", code, out)
	}
	link := strings.TrimSpace(out)
	c, status := signIn(t, h.url, link)
	if status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	res, err := c.Get(h.url + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("overview after sign-in: %d", res.StatusCode)
	}
	if _, status := signIn(t, h.url, link); status != http.StatusForbidden {
		t.Errorf("a used link: %d", status)
	}
	for _, tc := range []struct {
		arg  string
		code int
		says string
	}{
		{"telegram:999000111", 1, "not staff"},
		{"telegram", 2, "not <channel>:<user id>"},
		{"web:abc", 2, "not <channel>:<user id>"},
		{"telegram:", 2, "not <channel>:<user id>"},
	} {
		code, out, errs := run("dashboard", "link", tc.arg)
		if code != tc.code || out != "" || !strings.Contains(errs, tc.says) {
			t.Errorf("dashboard link %s: %d %q %q", tc.arg, code, out, errs)
		}
	}
	if code, _, errs := run("dashboard"); code != 2 || !strings.Contains(errs, "usage") {
		t.Errorf("dashboard without a command: %d %q", code, errs)
	}
	// a link minted into the past is expired
	v, err := h.main.DB.Desk().Volunteer(context.Background(), bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: strconv.FormatInt(h.org, 10)})
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := h.main.Dashboard.MintLink(context.Background(), v.ID, time.Now().Add(-11*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if _, status := signIn(t, h.url, old); status != http.StatusForbidden {
		t.Errorf("an expired link: %d", status)
	}
}

// A QR poster's deep link sets the resident's ward; an unknown code is
// ignored politely (the greeting, no ward).
func TestPosterStartSetsArea(t *testing.T) {
	h := startDesk(t)
	known, unknown := newChatID(), newChatID()
	h.send(textUpdate(nextUpdateID(), known, "/start phuong_phong_dien"))
	h.send(textUpdate(nextUpdateID(), unknown, "/start khong_co_phuong_nay"))
	h.settle()
	h.waitFor(unknown, "Mình là trợ lý")
	r, err := h.main.DB.Resident(context.Background(), key(known))
	if err != nil || r.Area != "phuong_phong_dien" {
		t.Errorf("known code: %+v %v", r, err)
	}
	r, err = h.main.DB.Resident(context.Background(), key(unknown))
	if err != nil || r.Area != "" {
		t.Errorf("unknown code: %+v %v", r, err)
	}
}

// decodeQR reads the QR code in a PNG.
func decodeQR(t *testing.T, png []byte) string {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code decodes: %v", err)
	}
	return res.GetText()
}

// seedFunnel records install_vneid events as the core does: of 6
// residents, 6 enter the first step, 4 the second, 1 the third.
func seedFunnel(t *testing.T, h *deskHarness) (steps []string, entered []int) {
	t.Helper()
	f, ok := h.main.Flows.Flow("install_vneid")
	if !ok || len(f.Steps) < 3 {
		t.Fatal("no install_vneid flow with 3 steps")
	}
	steps = []string{f.Steps[0].ID, f.Steps[1].ID, f.Steps[2].ID}
	entered = []int{6, 4, 1}
	at := time.Now().Add(-2 * time.Hour)
	for r := range 6 {
		k := bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: fmt.Sprint(880000 + r)}
		var evs []flows.Event
		for i, s := range steps {
			if r < entered[i] {
				evs = append(evs, flows.Event{Kind: flows.EventStepEntered, Flow: f.ID, Step: s, Version: f.Version,
					At: at.Add(time.Duration(i) * time.Minute)})
			}
		}
		if _, err := h.main.DB.Record(context.Background(), bot.UpdateRecord{Key: k, UpdateID: "seed" + strconv.Itoa(r),
			At: at, Lang: "vi", Events: evs}); err != nil {
			t.Fatal(err)
		}
	}
	return steps, entered
}

// The dashboard in a browser, as an organizer uses it on a phone: a
// sign-in link from the bot, the overview, a resident's request arriving
// in the queue live, a claim and a reply from the web that reach the
// resident on Telegram and on the web chat, the funnel's bars, and a
// poster whose QR code opens the bot with the ward set.
func TestBrowserDashboard(t *testing.T) {
	b := newBrowser(t)
	h := startDesk(t)

	// the organizer asks the bot for a link
	h.send(textUpdate(nextUpdateID(), h.org, "/dashboard"))
	h.settle()
	link := linkIn(t, h.waitFor(h.org, "/dashboard/login?t="))
	b.do("open the link", chromedp.Navigate(link), chromedp.WaitVisible(`form[action="/dashboard/login"] button`))
	b.do("sign in", chromedp.Click(`form[action="/dashboard/login"] button`),
		chromedp.WaitReady(`form[action="/dashboard/logout"]`))
	if path := evaluate[string](b, `location.pathname`); path != "/dashboard/" {
		t.Fatalf("after sign-in: %s", path)
	}
	if !strings.Contains(evaluate[string](b, `document.body.innerText`), "Tổng quan") {
		t.Errorf("no overview: %s", evaluate[string](b, `document.body.innerText`))
	}

	// the queue, open while a resident asks for a person
	b.do("open the queue", chromedp.Navigate(h.url+"/dashboard/queue"), chromedp.WaitVisible(`#live[data-connected]`))
	evaluate[bool](b, `(window.gocuaNoReload = true)`)
	resident := newChatID()
	id := h.waitingTicket(resident)
	row := fmt.Sprintf(`#live tr[data-ticket="%d"]`, id)
	b.do("the ticket appears live", chromedp.WaitVisible(row))
	if !evaluate[bool](b, `window.gocuaNoReload === true`) {
		t.Error("the queue reloaded instead of updating live")
	}

	// a ticket taken on Telegram shows as taken here, live
	vol := h.volunteer()
	other := newChatID()
	otherID := h.waitingTicket(other)
	b.do("the second ticket appears", chromedp.WaitVisible(fmt.Sprintf(`#live table[data-queue="waiting"] tr[data-ticket="%d"]`, otherID)))
	h.raw(telegramtest.Callback(nextUpdateID(), volunteerGroup, vol, 1, "dk:claim:"+strconv.FormatInt(otherID, 10)))
	h.settle()
	b.do("it moves to the assigned list", chromedp.WaitVisible(fmt.Sprintf(`#live table[data-queue="assigned"] tr[data-ticket="%d"]`, otherID)))
	if !evaluate[bool](b, `window.gocuaNoReload === true`) {
		t.Error("the queue reloaded instead of updating live")
	}

	// claim from the web: the resident is told, on Telegram
	b.do("claim", chromedp.Click(row+` button[type=submit]`), chromedp.WaitVisible(`form#reply`))
	h.waitFor(resident, "đã nhận")
	if tk := h.ticket(id); tk.Status != "assigned" {
		t.Fatalf("after the web claim: %+v", tk)
	}
	// reply from the web: it reaches the resident on Telegram
	b.do("reply", chromedp.SendKeys(`#text`, "Chào Bác, cháu là Lan ở phường. Bác mở ứng dụng VNeID giúp cháu nhé"),
		chromedp.Click(`form#reply button[type=submit]`), chromedp.WaitVisible(`form#reply`))
	h.waitFor(resident, "Bác mở ứng dụng VNeID giúp cháu nhé")
	b.do("the reply is in the transcript", chromedp.WaitVisible(chromedp.Search(`//li[contains(., "Bác mở ứng dụng VNeID")]`)))

	// a web chat resident's request, claimed and answered from the web
	web := newBrowser(t)
	web.do("open /chat", chromedp.Navigate(h.url+"/chat"), chromedp.WaitVisible(chromedp.ID("input")))
	web.waitText("🙋 Gặp tình nguyện viên")
	web.tap("🙋 Gặp tình nguyện viên")
	web.waitText("Bác đang cần giúp việc gì")
	web.tap("VNeID")
	web.waitText("xã/phường")
	web.tap("⏭ Bỏ qua")
	web.waitText("danh sách chờ")
	webID := h.webTicket(web.visitor(h.url + "/chat"))
	b.do("open the web ticket", chromedp.Navigate(fmt.Sprintf("%s/dashboard/tickets/%d", h.url, webID)), chromedp.WaitVisible(`#claim`))
	b.do("claim it", chromedp.Click(`#claim`), chromedp.WaitVisible(`form#reply`))
	web.waitText("đã nhận yêu cầu")
	b.do("answer it", chromedp.SendKeys(`#text`, "Cháu chào Bác, Bác chờ cháu một chút nhé"),
		chromedp.Click(`form#reply button[type=submit]`), chromedp.WaitVisible(`form#reply`))
	web.waitText("Bác chờ cháu một chút nhé")

	// the funnel's bars are the seeded events
	steps, entered := seedFunnel(t, h)
	b.do("open the funnel", chromedp.Navigate(h.url+"/dashboard/funnel?flow=install_vneid"), chromedp.WaitVisible(`[data-step]`))
	for i, s := range steps {
		got := evaluate[string](b, `(function () { var e = document.querySelector('[data-step="`+s+`"][data-entered]');
			return e ? e.getAttribute('data-entered') : 'none'; })()`)
		if got != strconv.Itoa(entered[i]) {
			t.Errorf("bar of step %s: %s, want %d", s, got, entered[i])
		}
	}

	// a ward's poster: its QR code opens the bot with the ward preset
	b.do("open a poster", chromedp.Navigate(h.url+"/dashboard/areas/phuong_phong_dien/poster"), chromedp.WaitVisible(`svg.qr`))
	png := screenshotOf(t, b, `svg.qr`)
	if got, want := decodeQR(t, png), "https://t.me/gocua_test_bot?start=phuong_phong_dien"; got != want {
		t.Errorf("the poster's QR code opens %q, want %q", got, want)
	}
}

// screenshotOf takes a picture of one element (with a white margin, so a
// QR code keeps its quiet zone).
func screenshotOf(t *testing.T, b *browser, sel string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.ScreenshotScale(sel, 2))
	if err != nil {
		t.Fatalf("screenshot of %s: %v", sel, err)
	}
	return img
}

// The dashboard on the embedded default (SQLite and the in-process Redis):
// the first organizer's link from the command line, then every page.
func TestDashboardOnTheEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	m := startEmpty(t, dir, nil)
	t.Cleanup(func() { m.Close() })
	base := "http://" + m.Addr
	env := map[string]string{"GOCUA_DATA_DIR": dir, "GOCUA_ADMINS": "telegram:42", "GOCUA_HTTP_ADDR": m.Addr}
	var out, errs bytes.Buffer
	if code := Run(context.Background(), []string{"dashboard", "link", "telegram:42"}, func(k string) string { return env[k] },
		nil, &out, &errs); code != 0 {
		t.Fatalf("dashboard link: %d %s", code, errs.String())
	}
	c, status := signIn(t, base, strings.TrimSpace(out.String()))
	if status != http.StatusSeeOther {
		t.Fatalf("sign in: %d", status)
	}
	for _, p := range []string{"", "queue", "funnel", "funnel?flow=install_vneid", "volunteers", "broadcasts", "visits",
		"areas", "areas/phuong_phong_dien/poster", "areas/phuong_phong_dien/poster.png", "exports", "exports/tickets.csv",
		"exports/visits.csv", "sessions"} {
		res, err := c.Get(base + "/dashboard/" + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("/dashboard/%s: %d", p, res.StatusCode)
		}
	}
}
