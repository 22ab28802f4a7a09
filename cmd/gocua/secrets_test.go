package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/bot/telegram/telegramtest"
	"github.com/gocua/gocua/bot/zalo/oa/oatest"
	"github.com/gocua/gocua/bot/zalo/zalotest"
	"github.com/gocua/gocua/store"
)

// TestSecretsNeverLogged holds a whole conversation at debug level — /start,
// buttons, free text with an OTP and an ID number, a handoff and messages to
// the waiting ticket, a web chat exchange, refused webhook calls, both Zalo
// channels (refused calls, a failed send, an expired OA token), the
// dashboard's sign-in (from the bot and from `gocua dashboard link`), a Bot
// API outage and a PostgreSQL outage — and then reads every log line:
// neither the bot token, the webhook secret, the database password, the OTP,
// the ID number, the Zalo bot's token and webhook secret, the OA's app
// secret, secret key, refresh and access tokens, a dashboard link's token
// nor a session cookie may appear in any of them.
func TestSecretsNeverLogged(t *testing.T) {
	const (
		dbPassword = "pgPa55-never-logged"
		otp        = "482913"
		idNumber   = "001203004567"
	)
	// PostgreSQL trusts 127.0.0.1, so the password is accepted whatever it is;
	// the database goes through a proxy so it can be cut.
	// a database of its own: the OA's token pair is rotated by this test's fake OAuth
	u, err := url.Parse(freshDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	dbProxy := newTCPProxy(t, u.Host)
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	u.Host = dbProxy.Addr()
	api := telegramtest.New(t)
	apiURL, _ := url.Parse(api.URL())
	apiProxy := newTCPProxy(t, apiURL.Host)
	zb, oas := zalotest.New(t), oatest.New(t)
	org := newChatID()
	h := start(t, api, append(zaloOptions(t, zb, oas),
		withEnv("GOCUA_DATABASE_URL", u.String()),
		withEnv("GOCUA_TELEGRAM_API_URL", "http://"+apiProxy.Addr()),
		withEnv("GOCUA_PUBLIC_URL", "https://bot.example.gov.vn"),
		withEnv("GOCUA_ADMINS", "telegram:"+strconv.FormatInt(org, 10)))...)
	chat := newChatID()
	ctx := context.Background()
	var errs []string // errors returned rather than logged: what the CLI prints

	// the webhook registration sends the secret to Telegram
	if err := h.main.Telegram.SetWebhook(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if api.Webhook().SecretToken != testSecret {
		t.Fatalf("webhook registered with secret %q", api.Webhook().SecretToken)
	}

	// /start, the first flow's button, then free text with secrets
	h.send(textUpdate(nextUpdateID(), chat, "/start"))
	h.settle()
	menu := h.sentTo(chat)
	if len(menu) == 0 {
		t.Fatal("no answer to /start")
	}
	h.send(buttonUpdate(nextUpdateID(), chat, firstFlowButton(t, menu[len(menu)-1])))
	h.send(textUpdate(nextUpdateID(), chat, "mã OTP "+otp))
	h.send(textUpdate(nextUpdateID(), chat, "số CCCD của tôi là "+idNumber))
	// a handoff, and messages the volunteer will read in the transcript
	h.send(buttonUpdate(nextUpdateID(), chat, "nav:human"))
	h.send(buttonUpdate(nextUpdateID(), chat, "in:t:vneid"))
	h.send(buttonUpdate(nextUpdateID(), chat, "in:skip"))
	h.send(textUpdate(nextUpdateID(), chat, "Tôi không nhận được mã OTP "+otp+", CCCD "+idNumber))
	h.send(textUpdate(nextUpdateID(), chat, otp))
	h.settle()
	conv, _, err := h.main.Redis.Load(ctx, key(chat), "")
	if err != nil || conv.Ticket == 0 {
		t.Fatalf("no waiting ticket: %v", err)
	}

	// refused webhook calls: wrong secret, malformed and oversized bodies
	body := mustJSON(t, textUpdate(nextUpdateID(), chat, "mã OTP "+otp))
	if code := h.postWith(body, "wrong-"+testSecret); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", code)
	}
	if code := h.post([]byte(`{"update_id":1,"message":{"text":"` + otp + " " + idNumber)); code != http.StatusBadRequest {
		t.Errorf("malformed update: %d", code)
	}
	if code := h.post([]byte(`{"update_id":1,"message":{"text":"` + strings.Repeat(idNumber, 100000) + `"}}`)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized update: %d", code)
	}

	// a web chat exchange with the same secrets
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp, err := web.Get(h.url + "/chat"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	for i, text := range []string{"/start", "mã OTP " + otp, "CCCD " + idNumber} {
		id := fmt.Sprintf("secret-test-%d-%d", chat, i)
		code := webSend(t, web, h.url, fmt.Sprintf(`{"id":%q,"seq":%d,"text":%q}`, id, i+1, text))
		if code != http.StatusOK {
			t.Fatalf("web chat send %q: %d", text, code)
		}
	}
	if code := webSend(t, web, h.url, `{"id":"x","seq":1,"text":"`+otp+`"}`); code != http.StatusBadRequest {
		t.Errorf("refused web chat send: %d", code)
	}
	h.settle()
	resp, err := web.Get(h.url + "/chat/api/history?since=0")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(hist), `"from":"bot"`) {
		t.Fatalf("no reply in the web chat: %s", hist)
	}

	// Zalo and the dashboard
	zaloSecrets, cliErrs := secretsOfZaloAndDashboard(t, h, zb, oas, org, u.String(), otp)
	errs = append(errs, cliErrs)

	// the Bot API unreachable while replies are sent: errors carry request URLs
	apiProxy.Cut()
	h.send(textUpdate(nextUpdateID(), chat, "/menu"))
	h.send(buttonUpdate(nextUpdateID(), chat, "nav:menu"))
	waitLog(t, h, "send failed")
	waitLog(t, h, "answerCallbackQuery failed")
	if err := h.main.Telegram.SetWebhook(ctx, nil); err == nil {
		t.Error("setWebhook succeeded with the Bot API unreachable")
	} else {
		errs = append(errs, err.Error())
	}
	apiProxy.Restore()
	h.settle()

	// PostgreSQL unreachable: connection errors are logged
	dbProxy.Cut()
	if code := h.postJSON(textUpdate(nextUpdateID(), chat, "CCCD "+idNumber)); code < 500 {
		t.Errorf("with PostgreSQL down the webhook answered %d", code)
	}
	dbProxy.Restore()
	waitReady(t, h)

	if tk, err := h.main.DB.Ticket(ctx, conv.Ticket); err != nil || tk.Status != store.TicketWaiting {
		t.Fatalf("ticket %+v: %v", tk, err)
	}
	logs := h.logs.String() + "\n" + strings.Join(errs, "\n")
	if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "update_id=") {
		t.Fatalf("the test did not log at debug level:\n%s", logs)
	}
	for _, want := range []string{"channel=zalo-bot", "channel=zalo-oa", "refreshing it", "dashboard: signed in"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the Zalo and dashboard paths logged no %q:\n%s", want, logs)
		}
	}
	tokenSecret := telegramtest.Token[strings.IndexByte(telegramtest.Token, ':')+1:]
	secrets := map[string]string{
		"the bot token": tokenSecret, "the webhook secret": testSecret, "the database password": dbPassword,
		"the OTP": otp, "the ID number": idNumber,
	}
	for what, s := range zaloSecrets {
		if s == "" {
			t.Fatalf("%s is empty", what)
		}
		secrets[what] = s
	}
	for what, s := range secrets {
		for i, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, s) {
				t.Errorf("log line %d holds %s: %s", i+1, what, line)
			}
		}
	}
}

func webSend(t *testing.T, web *http.Client, base, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/chat/api/send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := web.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitLog waits until the logs hold want.
func waitLog(t *testing.T, h *harness, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(h.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the logs within 20s", want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitReady waits until /readyz answers 200.
func waitReady(t *testing.T, h *harness) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(h.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready again within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
