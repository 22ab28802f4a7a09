package handoff

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

func TestAsksForSecret(t *testing.T) {
	tests := []struct {
		text string
		asks bool
	}{
		{"Bác đọc mã OTP cho cháu nhé", true},
		{"bac doc ma otp cho chau nhe", true},
		{"Cho em xin mật khẩu VNeID của bác", true},
		{"cho em xin mat khau", true},
		{"Mã OTP là bao nhiêu ạ?", true},
		{"Bác gửi cho em passcode nhé", true},
		{"Bác nhắn cho cháu mã xác thực vừa nhận", true},
		{"what is your OTP?", true},
		{"Please send me the password", true},
		{"Bác nhập mã OTP vừa nhận vào ứng dụng nhé", false},
		{"Đừng đưa mã OTP cho ai, kể cả cháu", false},
		{"Không ai được hỏi mật khẩu của Bác", false},
		{"Never share your OTP with anyone", false},
		{"Bác bấm vào nút Tiếp tục", false},
		{"Bác chụp màn hình gửi cho cháu xem nhé", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := asksForSecret(tc.text); got != tc.asks {
			t.Errorf("asksForSecret(%q) = %v, want %v", tc.text, got, tc.asks)
		}
	}
}

func TestTicketRef(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"💬 #12 · Lan:\nxin chào", 12},
		{"#7", 7},
		{"no number", 0},
		{"#99999999999999999999999", 0},
		{"giá #abc", 0},
	}
	for _, tc := range tests {
		if got := refIn(tc.in); got != tc.want {
			t.Errorf("refIn(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "0", "-3", "x", "#", "1e3"} {
		if _, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) accepted", bad)
		}
	}
	if n, ok := parseID(" #42 "); !ok || n != 42 {
		t.Errorf("parseID(#42) = %d, %v", n, ok)
	}
}

func TestServes(t *testing.T) {
	any := Volunteer{ID: 1, Status: Approved}
	ward := Volunteer{ID: 2, Status: Approved, Areas: []string{"phuong_a"}}
	for _, tc := range []struct {
		v    Volunteer
		area string
		want bool
	}{{any, "phuong_b", true}, {ward, "phuong_a", true}, {ward, "phuong_b", false}, {ward, "", true}} {
		if got := tc.v.Serves(tc.area); got != tc.want {
			t.Errorf("%v serves %q = %v", tc.v.Areas, tc.area, got)
		}
	}
	if (Volunteer{ID: 3, Status: Suspended}).Active() || !(Volunteer{ID: 4, Status: Approved, Role: RoleOrganizer}).Organizer() {
		t.Error("Active/Organizer")
	}
}

// The queue board of a rush fits Telegram: at most 4096 characters and 100
// buttons, every button's data within 64 bytes, and each waiting ticket
// listed (or counted as more).
func TestBoardFitsTelegram(t *testing.T) {
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	d := New(Config{Group: bot.ConvKey{Channel: bot.ChannelTelegram, ChatID: "-100"}}, nil, nil, nil)
	v := view{d: d, set: set, now: now}
	for _, n := range []int{0, 1, 60, 200} {
		var waiting []Ticket
		for i := range n {
			waiting = append(waiting, Ticket{ID: int64(100000 + i), Flow: "activate_account_very_long_flow_name", Step: "nfc_scan_failed_again",
				Area: strings.Repeat("phường ", 8), CreatedAt: now.Add(-time.Duration(i) * time.Minute)})
		}
		text, rows := v.boardText(waiting, 60)
		if u := len(utf16.Encode([]rune(text))); u > 4096 {
			t.Errorf("%d waiting: board is %d UTF-16 units", n, u)
		}
		buttons := 0
		for _, r := range rows {
			buttons += len(r)
			for _, b := range r {
				if len(b.Data) > 64 {
					t.Errorf("button data %q over 64 bytes", b.Data)
				}
			}
		}
		if buttons > 100 {
			t.Errorf("%d waiting: %d buttons", n, buttons)
		}
		listed := strings.Count(text, "#1000")
		if n > 0 && listed < min(n, 1) {
			t.Errorf("%d waiting: %d listed", n, listed)
		}
		if n > listed && !strings.Contains(text, fmt.Sprint(n-listed)) {
			t.Errorf("%d waiting, %d listed, and the rest not counted:\n%s", n, listed, text)
		}
	}
}
