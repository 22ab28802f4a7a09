package handoff

import (
	"slices"
	"testing"

	"github.com/gocua/gocua/bot"
)

func TestParseQuickVisit(t *testing.T) {
	tests := []struct {
		args    string
		people  int
		actions []string
		ok      bool
	}{
		{"3 vneid,level1", 3, []string{"vneid", "level1"}, true},
		{"VNEID, scam 12", 12, []string{"vneid", "scam"}, true},
		{"dvc dvc", 0, []string{"dvc"}, true},
		{"500 scam", 500, []string{"scam"}, true},
		{"501 scam", 0, nil, false},
		{"0 scam", 0, nil, false},
		{"3 4 scam", 0, nil, false},
		{"3 dance", 0, nil, false},
		{"-2", 0, nil, false},
	}
	for _, tc := range tests {
		people, actions, ok := parseQuickVisit(tc.args)
		if people != tc.people || !slices.Equal(actions, tc.actions) || ok != tc.ok {
			t.Errorf("parseQuickVisit(%q) = %d, %v, %v; want %d, %v, %v", tc.args, people, actions, ok, tc.people, tc.actions, tc.ok)
		}
	}
}

// Each /visit starts a wizard of its own, whose id leaves a button's 64
// bytes room for an area code (longer codes go by index).
func TestWizardID(t *testing.T) {
	in := bot.Inbound{Key: bot.ConvKey{Channel: bot.ChannelDashboard, ChatID: "123456789012"}, UpdateID: "web:0123456789abcdef"}
	a := wizardID(in)
	in.UpdateID += "x"
	if b := wizardID(in); a == b {
		t.Fatalf("two updates share wizard id %q", a)
	}
	if data := visitButton(&visitDraft{Wizard: a}, "", visitArea, "").Data; len(data) > 16 {
		t.Fatalf("an area button's data %q leaves too little room for the code", data)
	}
}
