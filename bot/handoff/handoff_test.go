package handoff

import (
	"context"
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

// saidStore counts Said calls; every other Store method is unused here.
type saidStore struct {
	Store
	calls int
}

func (s *saidStore) Said(context.Context, int64, bool, time.Time) error { s.calls++; return nil }

// A side's last-message time is written when the timers could read it
// wrong otherwise: never written, stale, or the other side spoke since.
func TestSaidWritesWhatTheTimersNeed(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		mine      time.Duration // ago; 0 = never
		theirs    time.Duration
		volunteer bool
		write     bool
	}{
		{"never", 0, 0, false, true},
		{"recent, I spoke last", 10 * time.Second, time.Minute, false, false},
		{"recent, they spoke since", 10 * time.Second, 5 * time.Second, false, true},
		{"stale", time.Minute, 2 * time.Minute, false, true},
		{"volunteer, recent, last", 5 * time.Second, 0, true, false},
		{"volunteer, resident since", 20 * time.Second, 3 * time.Second, true, true},
	} {
		st := &saidStore{}
		u := &turn{d: &Desk{st: st}, ctx: context.Background(), t: bot.DeskTurn{Now: now}}
		var tk Ticket
		at := func(ago time.Duration) time.Time {
			if ago == 0 {
				return time.Time{}
			}
			return now.Add(-ago)
		}
		if tc.volunteer {
			tk.VolunteerSaid, tk.ResidentSaid = at(tc.mine), at(tc.theirs)
		} else {
			tk.ResidentSaid, tk.VolunteerSaid = at(tc.mine), at(tc.theirs)
		}
		if err := u.said(tk, tc.volunteer); err != nil {
			t.Fatal(err)
		}
		if (st.calls == 1) != tc.write {
			t.Errorf("%s: wrote %d times, want write=%v", tc.name, st.calls, tc.write)
		}
	}
}
