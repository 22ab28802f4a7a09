package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/bot/webchat"
)

// chromiumPath is where Debian's chromium package (installed by .ci/run) puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browser drives one headless Chromium tab against a running gocua.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab; actions run with timeouts derived from it
	pick atomic.Int64
}

// newBrowser starts headless Chromium with a fresh profile. On failure the
// test's cleanup saves a screenshot to GOCUA_TEST_ARTIFACTS (or a temp dir).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("no Chromium at %s (Debian package chromium): %v", chromiumPath, err)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(412, 915), // a phone
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	// first Run without a timeout: it starts the browser for the tab's lifetime
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot()
		}
		cancelTab()
		cancelAlloc()
	})
	return b
}

func (b *browser) screenshot() {
	dir := os.Getenv("GOCUA_TEST_ARTIFACTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot failed: %v", err)
		return
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name())+".png")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, img, 0o644); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot saved to %s", path)
}

// do runs actions with a timeout.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func evaluate[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// logText is the visible text of the conversation.
func (b *browser) logText() string {
	return evaluate[string](b, `document.getElementById('log').innerText`)
}

// waitText waits until the conversation shows want, count times or more.
func (b *browser) waitText(want string, count ...int) {
	b.t.Helper()
	n := 1
	if len(count) > 0 {
		n = count[0]
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if strings.Count(b.logText(), want) >= n {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the chat does not show %q (%d times) within 20s; it shows:\n%s", want, n, b.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tap clicks (with a real mouse event) the newest chat button labelled label.
func (b *browser) tap(label string) {
	b.t.Helper()
	id := strconv.FormatInt(b.pick.Add(1), 10)
	found := evaluate[bool](b, `(function () {
		var bs = Array.prototype.filter.call(document.querySelectorAll('#log .btn'),
			function (e) { return e.textContent.trim() === `+jsString(label)+`; });
		if (!bs.length) return false;
		bs[bs.length - 1].setAttribute('data-pick', `+jsString(id)+`);
		return true;
	})()`)
	if !found {
		b.t.Fatalf("no button %q; the chat shows:\n%s", label, b.logText())
	}
	b.do("tap "+label, chromedp.Click(chromedp.CSS(`[data-pick="`+id+`"]`)))
}

// say types text in the composer and sends it with Enter.
func (b *browser) say(text string) {
	b.t.Helper()
	b.do("type "+text, chromedp.SendKeys(chromedp.ID("input"), text), chromedp.Click(chromedp.ID("send")))
}

// visitor reads the HttpOnly visitor cookie through the DevTools protocol.
func (b *browser) visitor(url string) string {
	b.t.Helper()
	var id string
	b.do("read cookie", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if c.Name == webchat.CookieName {
				if !c.HTTPOnly {
					b.t.Error("the visitor cookie is readable by scripts")
				}
				id = webchat.VisitorID(c.Value)
			}
		}
		return nil
	}))
	if id == "" {
		b.t.Fatal("no visitor cookie")
	}
	return id
}

func TestBrowserWebChat(t *testing.T) {
	b := newBrowser(t)
	h := start(t, nil)
	snd := h.main.Senders[bot.ChannelWeb]
	if snd == nil {
		t.Fatal("Main has no web chat sender")
	}

	b.do("open /chat", chromedp.Navigate(h.url+"/chat"), chromedp.WaitVisible(chromedp.ID("input")))
	// a first visit starts the conversation by itself: greeting and menu
	b.waitText("Tổ công nghệ số cộng đồng")
	b.waitText("📲 Cài ứng dụng VNeID")
	if strings.Contains(b.logText(), "/start") {
		t.Error("the automatic /start is shown as a resident message")
	}

	// large text and big tap targets for elderly residents
	sizes := evaluate[map[string]float64](b, `(function () {
		var bubble = document.querySelector('#log .bubble'), btn = document.querySelector('#log .btn');
		return {font: parseFloat(getComputedStyle(bubble).fontSize), btn: btn.getBoundingClientRect().height,
			input: parseFloat(getComputedStyle(document.getElementById('input')).fontSize)};
	})()`)
	if sizes["font"] < 18 || sizes["input"] < 18 || sizes["btn"] < 48 {
		t.Errorf("text %.0fpx, input %.0fpx, button %.0fpx high; want text ≥ 18px and buttons ≥ 48px", sizes["font"], sizes["input"], sizes["btn"])
	}

	// walk the VNeID install guide by tapping
	b.tap("📲 Cài ứng dụng VNeID")
	b.waitText("Điện thoại của Bác là loại nào?")
	b.tap("Android (Samsung, Oppo, Xiaomi…)")
	b.waitText("CH Play")
	if bold := evaluate[bool](b, `Array.prototype.some.call(document.querySelectorAll('#log b'), function (e) { return e.textContent === 'CH Play'; })`); !bold {
		t.Error("**CH Play** is not rendered bold")
	}
	b.tap("Tiếp tục ▶")
	b.waitText("kính lúp")

	// a free-text question
	b.say("quên mật khẩu")
	b.waitText(`Ở màn hình đăng nhập VNeID, Bác bấm "Quên mật khẩu"`)

	// ask for a person: the honest waiting message
	b.tap("🙋 Gặp tình nguyện viên")
	b.waitText("xã/phường") // the problem is known from the guide: only the ward is asked
	b.tap("⏭ Bỏ qua")
	b.waitText("danh sách chờ")

	// a volunteer's relayed reply (or a broadcast) pushed from the server appears live
	vid := b.visitor(h.url + "/chat")
	key := bot.ConvKey{Channel: bot.ChannelWeb, ChatID: vid}
	snd.Enqueue(bot.Outbound{ID: "relay-test/1", Key: key, Text: "Chào Bác, mình là **Lan**, tình nguyện viên phường. Bác đang vướng ở bước nào ạ?"})
	b.waitText("mình là Lan, tình nguyện viên phường")
	// markup in a message is shown as text, never run
	snd.Enqueue(bot.Outbound{ID: "relay-test/2", Key: key, Text: `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script> 🇻🇳 مرحبا`})
	b.waitText(`<img src=x onerror="document.title='pwned'">`)
	// (the only images are the guides' own pictures, drawn by the page as img.photo)
	if n := evaluate[int](b, `document.querySelectorAll('#log img:not(.photo), #log script').length`); n != 0 {
		t.Errorf("a message created %d img/script elements", n)
	}
	if title := evaluate[string](b, `document.title`); title == "pwned" {
		t.Error("a message ran a script")
	}
	// a link button opens a new tab
	snd.Enqueue(bot.Outbound{ID: "relay-test/3", Key: key, Text: "Cổng dịch vụ công:",
		Buttons: [][]bot.Button{{{Text: "🌐 dichvucong.gov.vn", URL: "https://dichvucong.gov.vn"}}}})
	b.waitText("Cổng dịch vụ công:")
	link := evaluate[map[string]string](b, `(function () { var a = document.querySelector('#log a.btn.link');
		return a ? {href: a.href, target: a.target, rel: a.rel} : {}; })()`)
	if link["href"] != "https://dichvucong.gov.vn/" || link["target"] != "_blank" || !strings.Contains(link["rel"], "noopener") {
		t.Errorf("link button = %v, want https://dichvucong.gov.vn in a new tab with rel=noopener", link)
	}
	h.settle()
	before := evaluate[int](b, `document.querySelectorAll('#log .msg').length`)

	// reload: the whole conversation is still there, and /start is not sent again
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("input")))
	b.waitText("Cổng dịch vụ công:")
	for _, want := range []string{"Tổ công nghệ số cộng đồng", "quên mật khẩu", "danh sách chờ", "mình là Lan, tình nguyện viên phường"} {
		b.waitText(want)
	}
	time.Sleep(500 * time.Millisecond) // would-be duplicates or a second greeting have time to show
	h.settle()
	if after := evaluate[int](b, `document.querySelectorAll('#log .msg').length`); after != before {
		t.Errorf("after a reload the chat shows %d messages, before it showed %d", after, before)
	}
	if n := strings.Count(b.logText(), "Mình là trợ lý của"); n != 1 {
		t.Errorf("the greeting shows %d times after a reload", n)
	}

	// the English switch changes the page and the bot's language
	b.do("switch to English", chromedp.Click(chromedp.ID("lang-switch")))
	b.waitText("From now on I'll write to you in English")
	if ph := evaluate[string](b, `document.getElementById('input').placeholder`); ph != "Type your question…" {
		t.Errorf("placeholder after the switch = %q", ph)
	}
}

func TestBrowserWidget(t *testing.T) {
	b := newBrowser(t)
	h := start(t, nil)
	// a ward website on another origin embeds the widget
	site := h.url + "/chat/widget.js"
	page := `<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>UBND phường</title></head>` +
		`<body><h1>UBND phường</h1><script src="` + site + `" async></script></body></html>`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ward.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do("open the ward page", chromedp.Navigate("file://"+filepath.Join(dir, "ward.html")))
	deadline := time.Now().Add(20 * time.Second)
	for {
		label := evaluate[string](b, `(function () { var h = document.querySelector('[data-gocua-widget]');
			var btn = h && h.shadowRoot && h.shadowRoot.querySelector('button'); return btn ? btn.textContent : ''; })()`)
		if label == "💬 Hỏi trợ lý" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no widget button; got %q", label)
		}
		time.Sleep(100 * time.Millisecond)
	}
	src := evaluate[string](b, `(function () { var r = document.querySelector('[data-gocua-widget]').shadowRoot;
		r.querySelector('button').click(); var f = r.querySelector('iframe'); return f ? f.src : ''; })()`)
	if src != h.url+"/chat?embed=1&lang=vi" {
		t.Errorf("widget iframe src = %q", src)
	}
}
