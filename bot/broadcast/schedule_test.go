package broadcast

import (
	"testing"
	"time"
)

var hcm = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		panic(err)
	}
	return loc
}()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, hcm)
	if err != nil {
		panic(err)
	}
	return t
}

func TestQuietHours(t *testing.T) {
	q := QuietHours{From: 21 * time.Hour, To: 7 * time.Hour}
	day := QuietHours{From: 12 * time.Hour, To: 13*time.Hour + 30*time.Minute}
	tests := []struct {
		q    QuietHours
		now  string
		want string // "" = not quiet
	}{
		{q, "2026-12-05 20:59", ""},
		{q, "2026-12-05 21:00", "2026-12-06 07:00"},
		{q, "2026-12-05 23:59", "2026-12-06 07:00"},
		{q, "2026-12-06 00:00", "2026-12-06 07:00"},
		{q, "2026-12-06 06:59", "2026-12-06 07:00"},
		{q, "2026-12-06 07:00", ""},
		{q, "2026-12-31 22:00", "2027-01-01 07:00"},
		{day, "2026-12-05 11:59", ""},
		{day, "2026-12-05 12:00", "2026-12-05 13:30"},
		{day, "2026-12-05 13:30", ""},
		{QuietHours{}, "2026-12-05 23:00", ""},
	}
	for _, tt := range tests {
		got := tt.q.Until(at(tt.now))
		if tt.want == "" {
			if !got.IsZero() {
				t.Errorf("%v at %s: quiet until %s, want not quiet", tt.q, tt.now, got)
			}
			continue
		}
		if !got.Equal(at(tt.want)) {
			t.Errorf("%v at %s: quiet until %s, want %s", tt.q, tt.now, got, tt.want)
		}
	}
}

func TestCronTicks(t *testing.T) {
	s, err := ParseCron("30 7 * * 6") // Saturdays 7:30
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		after, now string
		want       string // "" = none
	}{
		{"2026-12-01 00:00", "2026-12-05 07:29", ""},
		{"2026-12-01 00:00", "2026-12-05 07:30", "2026-12-05 07:30"},
		{"2026-12-01 00:00", "2026-12-19 08:00", "2026-12-19 07:30"}, // the latest of several
		{"2026-12-05 07:30", "2026-12-05 09:00", ""},                 // already fired
	}
	for _, tt := range tests {
		got, ok := LastTick(s, hcm, at(tt.after), at(tt.now))
		if tt.want == "" {
			if ok {
				t.Errorf("after %s at %s: tick %s, want none", tt.after, tt.now, got)
			}
			continue
		}
		if !ok || !got.Equal(at(tt.want)) {
			t.Errorf("after %s at %s: tick %s %v, want %s", tt.after, tt.now, got, ok, tt.want)
		}
	}
	// the schedule follows the location given, not UTC
	got, _ := LastTick(s, hcm, at("2026-12-01 00:00"), at("2026-12-05 08:00"))
	if got.UTC().Hour() != 0 || got.UTC().Minute() != 30 {
		t.Errorf("7:30 in Hồ Chí Minh City is %s UTC", got.UTC())
	}
	for _, bad := range []string{"", "* * *", "61 * * * *", "CRON_TZ=UTC 0 8 * * *", "0 0 8 * * *"} {
		if _, err := ParseCron(bad); err == nil {
			t.Errorf("ParseCron(%q) accepted", bad)
		}
	}
	if _, err := ParseCron("@daily"); err != nil {
		t.Error(err)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1.000", 1200: "1.200", 100000: "100.000", 1234567: "1.234.567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
