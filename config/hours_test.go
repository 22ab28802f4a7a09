package config

import (
	"testing"
	"time"
)

func TestParseHours(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	h, err := ParseHours("T2-T6 07:30-11:30,13:30-17:00; T7 07:30-11:30", ict)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ict)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-12-01 is a Tuesday
	for _, tc := range []struct {
		at   string
		open bool
		next string
	}{
		{"2026-12-01 07:29", false, "2026-12-01 07:30"},
		{"2026-12-01 07:30", true, "2026-12-01 07:30"},
		{"2026-12-01 11:30", false, "2026-12-01 13:30"},
		{"2026-12-01 17:00", false, "2026-12-02 07:30"},
		{"2026-12-05 10:00", true, "2026-12-05 10:00"},  // Saturday morning
		{"2026-12-05 12:00", false, "2026-12-07 07:30"}, // Saturday afternoon → Monday
		{"2026-12-06 09:00", false, "2026-12-07 07:30"}, // Sunday
		{"2026-12-04 23:59", false, "2026-12-05 07:30"}, // Friday night → Saturday
	} {
		if got := h.Open(at(tc.at)); got != tc.open {
			t.Errorf("Open(%s) = %v", tc.at, got)
		}
		if got := h.Next(at(tc.at)); !got.Equal(at(tc.next)) {
			t.Errorf("Next(%s) = %v, want %s", tc.at, got, tc.next)
		}
	}
	// the same instant seen from UTC
	if !h.Open(at("2026-12-01 08:00").UTC()) {
		t.Error("Open depends on the time zone of its argument")
	}

	for _, ok := range []string{"", "  ", "Mon-Fri 08:00-17:00", "cn 08:00-10:00", "T2,T4 08:00-09:00", "T7-CN 00:00-24:00", "Sat-Mon 08:00-09:00"} {
		if _, err := ParseHours(ok, ict); err != nil {
			t.Errorf("ParseHours(%q): %v", ok, err)
		}
	}
	if h, _ := ParseHours("", ict); !h.Always() || !h.Open(time.Now()) {
		t.Error("an empty schedule is not always open")
	}
	for _, bad := range []string{"T2-T6", "T8 08:00-09:00", "T2 8-9", "T2 09:00-08:00", "T2 25:00-26:00", "T2 08:00", "T2 08:60-09:00",
		"xyz 08:00-09:00", "T2 08:00-09:00,", "T2-X 08:00-09:00", "T2 8:5-9:00"} {
		if _, err := ParseHours(bad, ict); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}
