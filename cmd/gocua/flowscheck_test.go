package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocua/gocua/config"
)

// oldFlow is an organizer's flow verified long before checkDay, with a
// message over the 350-character advice.
const oldFlow = `id: old_flow
sources: [https://dean06.hanam.gov.vn]
verified: 2026-03-01
owner: "Tổ công nghệ số phường 5"
start: a
steps:
  - id: a
    end: {vi: "` + "Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh. Bác bấm nút xanh." + `"}
`

// askOTP asks the resident to type the OTP: an error.
const askOTP = `id: ask_otp
sources: [https://dean06.hanam.gov.vn]
verified: 2026-11-20
owner: me
start: a
steps:
  - id: a
    ask:
      type: text
      text: {vi: "Bác gõ mã OTP vào đây nhé"}
      save: otp
    next: b
  - id: b
    end: {vi: "Xong"}
`

func writeFlows(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFlowsCheckWarnings(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	dir := writeFlows(t, map[string]string{"old.yaml": oldFlow})
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   []string // substrings
		noStderr []string
		stdout   string
	}{
		{"default max age", []string{dir}, 0,
			[]string{"old.yaml:3: warning: old_flow: verified 2026-03-01 is 275 days old (more than 180)",
				"old.yaml:8: warning: old_flow/a: end (vi) is 359 characters, over 350"}, nil, "flows ok, "},
		{"max age in days", []string{"--max-age", "300d", dir}, 0, []string{"warning: old_flow/a: end (vi)"}, []string{"old_flow: verified"}, "flows ok, "},
		{"max age with =, after the directory", []string{dir, "--max-age=30"}, 0, []string{"is 275 days old (more than 30)"}, nil, "warning(s)"},
		{"a Go duration", []string{"--max-age", "2400h", dir}, 0, []string{"is 275 days old (more than 100)"}, nil, "warning(s)"},
		{"zero: no age warning", []string{"--max-age", "0", dir}, 0, nil, []string{"days old"}, "flows ok, "},
		{"bad age", []string{"--max-age", "soon", dir}, 2, []string{`--max-age "soon"`}, nil, ""},
		{"negative age", []string{"--max-age", "-3d", dir}, 2, []string{"must not be negative"}, nil, ""},
		{"no value", []string{"--max-age"}, 2, []string{"--max-age needs a value"}, nil, ""},
		{"unknown flag", []string{"--strict", dir}, 2, []string{"unknown flag --strict"}, nil, ""},
		{"two directories", []string{dir, dir}, 2, []string{"one directory at most"}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs bytes.Buffer
			code := flowsCheck(tc.args, config.Config{}, now, &out, &errs)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errs.String())
			}
			for _, w := range tc.stderr {
				if !strings.Contains(errs.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs.String())
				}
			}
			for _, w := range tc.noStderr {
				if strings.Contains(errs.String(), w) {
					t.Errorf("stderr has %q:\n%s", w, errs.String())
				}
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.stdout)
			}
		})
	}
}

func TestFlowsCheckErrorsFail(t *testing.T) {
	dir := writeFlows(t, map[string]string{"old.yaml": oldFlow, "otp.yaml": askOTP})
	code, out, errs := runCLI(t, nil, "flows", "check", "--max-age", "365d", dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		"otp.yaml:10: ask_otp/a: the question (vi) asks the resident to type a secret (\"go ma otp\")",
		"old.yaml:8: warning: old_flow/a: end (vi)",
		"1 problem(s), ",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// The running bot loads the same directory with its warnings: only
	// the error stops it.
	if _, err := loadFlows(writeFlows(t, map[string]string{"old.yaml": oldFlow})); err != nil {
		t.Fatalf("warnings stopped loadFlows: %v", err)
	}
	if _, err := loadFlows(dir); err == nil || !strings.Contains(err.Error(), "asks the resident to type a secret") {
		t.Fatalf("loadFlows: %v", err)
	}
}

// TestFlowsCheckQuickFlow: an organizer's first flow without sources, owner
// or verified loads and checks, with warnings saying what to add.
func TestFlowsCheckQuickFlow(t *testing.T) {
	dir := writeFlows(t, map[string]string{"mine.yaml": "id: mine\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"})
	code, out, errs := runCLI(t, nil, "flows", "check", dir)
	if code != 0 || !strings.Contains(out, "flows ok, ") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"mine.yaml:1: warning: mine: the flow has no sources", "mine.yaml:1: warning: mine: the flow has no owner",
		"mine.yaml:1: warning: mine: the flow has no verified date"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
}
