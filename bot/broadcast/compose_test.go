package broadcast

import (
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/flows"
)

func bundled(t *testing.T) *flows.Set {
	t.Helper()
	set, err := flows.Load(flows.Named("bundled", flows.Bundled()))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestCompose(t *testing.T) {
	set := bundled(t)
	env := Env{Flows: set, Location: hcm, Now: at("2026-12-01 09:00"), MaxText: 4096, MaxCaption: 1024,
		Known: Known{Areas: func(code string) bool { return code == "19771" }, Langs: []string{"vi", "en"}}}
	b, aud, errs := Compose(Draft{
		Text:     "  Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3  ",
		Buttons:  []string{"Cài VNeID=install_vneid", "iPhone = install_vneid:iphone_open"},
		Audience: "area:19771 and not completed:install_vneid",
		At:       "2026-12-05 07:30",
		By:       "cli",
	}, env)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if b.Text != "Thứ Bảy 7:30, tổ công nghệ số hỗ trợ cài VNeID tại nhà văn hoá khu phố 3" || !b.At.Equal(at("2026-12-05 07:30")) ||
		b.Cron != "" || b.State != Active || b.CreatedBy != "cli" || aud.IsZero() || b.Audience != "area:19771 and not completed:install_vneid" {
		t.Fatalf("broadcast %+v", b)
	}
	if len(b.Buttons) != 2 || b.Buttons[0].Target() != "install_vneid" || b.Buttons[1].Target() != "install_vneid#iphone_open" || b.Buttons[1].Label != "iPhone" {
		t.Fatalf("buttons %+v", b.Buttons)
	}
	if b, _, errs := Compose(Draft{Text: "x", Now: true}, env); len(errs) > 0 || !b.At.Equal(env.Now) || b.Audience != "all" {
		t.Fatalf("now, all: %+v %v", b, errs)
	}
	if b, _, errs := Compose(Draft{Text: "x", Cron: "30 7 * * 6"}, env); len(errs) > 0 || b.Cron != "30 7 * * 6" || !b.At.IsZero() {
		t.Fatalf("cron: %+v %v", b, errs)
	}

	long := strings.Repeat("ư", 1025)
	for _, tt := range []struct {
		name string
		d    Draft
		want string
	}{
		{"empty", Draft{Now: true}, "text: empty"},
		{"too long", Draft{Text: strings.Repeat("a", 4097), Now: true}, "at most 4096"},
		{"caption too long", Draft{Text: long, Image: "https://a.vn/x.jpg", Now: true}, "a text with an image may have at most 1024"},
		{"bad image", Draft{Text: "x", Image: "ftp://a.vn/x.jpg", Now: true}, "image:"},
		{"loopback image", Draft{Text: "x", Image: "https://127.0.0.1:8443/x.jpg", Now: true}, "must be a public address: 127.0.0.1 is a private"},
		{"metadata image", Draft{Text: "x", Image: "https://169.254.169.254/x.jpg", Now: true}, "must be a public address"},
		{"localhost image", Draft{Text: "x", Image: "https://localhost/x.jpg", Now: true}, "names this machine"},
		{"hex loopback image", Draft{Text: "x", Image: "https://0x7f000001/x.jpg", Now: true}, "must be a public address"},
		{"mapped image", Draft{Text: "x", Image: "https://[::ffff:10.0.0.1]/x.jpg", Now: true}, "must be a public address"},
		{"no schedule", Draft{Text: "x"}, "exactly one of at, cron and now"},
		{"two schedules", Draft{Text: "x", Now: true, Cron: "@daily"}, "exactly one of"},
		{"past", Draft{Text: "x", At: "2026-11-30 07:30"}, "has passed"},
		{"bad date", Draft{Text: "x", At: "5/12/2026 7:30"}, "not a date and time"},
		{"bad cron", Draft{Text: "x", Cron: "every saturday"}, "cron:"},
		{"bad button", Draft{Text: "x", Now: true, Buttons: []string{"install_vneid"}}, "button 1"},
		{"unknown flow", Draft{Text: "x", Now: true, Buttons: []string{"a=nowhere"}}, `no flow "nowhere"`},
		{"unknown step", Draft{Text: "x", Now: true, Buttons: []string{"a=install_vneid:nowhere"}}, `has no step "nowhere"`},
		{"volunteer flow", Draft{Text: "x", Now: true, Buttons: []string{"a=volunteer"}}, "cannot be opened"},
		{"too many buttons", Draft{Text: "x", Now: true, Buttons: []string{"a=install_vneid", "b=install_vneid", "c=install_vneid", "d=install_vneid"}}, "at most 3"},
		{"long label", Draft{Text: "x", Now: true, Buttons: []string{strings.Repeat("ư", 41) + "=install_vneid"}}, "label of 41"},
		{"bad audience", Draft{Text: "x", Now: true, Audience: "aera:1"}, "unknown term"},
		{"unknown area", Draft{Text: "x", Now: true, Audience: "area:123"}, `unknown area "123"`},
		{"unknown audience flow", Draft{Text: "x", Now: true, Audience: "started:instal_vneid"}, `did you mean "install_vneid"`},
		{"negative expiry", Draft{Text: "x", Now: true, Expires: -time.Hour}, "negative"},
		{"invalid utf-8", Draft{Text: "a\xffb", Now: true}, "UTF-8"},
	} {
		_, _, errs := Compose(tt.d, env)
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tt.want)
		}
		if !found {
			t.Errorf("%s: errors %v, want one containing %q", tt.name, errs, tt.want)
		}
	}
}
