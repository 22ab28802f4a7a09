package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestFlowsCheckBundledOK(t *testing.T) {
	code, out, errs := runCLI(t, nil, "flows", "check")
	if code != 0 {
		t.Fatalf("gocua flows check on the bundled flows: exit %d\n%s", code, errs)
	}
	if !strings.Contains(out, "ok") {
		t.Fatalf("output %q", out)
	}
}

// TestFlowsCheckReportsEveryKind runs the command on a directory holding one
// broken file per kind of problem and expects each file to be reported with a
// line number, and a non-zero exit.
func TestFlowsCheckReportsEveryKind(t *testing.T) {
	dir := filepath.Join("..", "..", "flows", "testdata", "bad")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCLI(t, nil, "flows", "check", dir)
	if code == 0 {
		t.Fatal("exit 0 on a directory full of errors")
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(e.Name()) != ".yaml" || strings.HasPrefix(strings.TrimSpace(stripComments(string(b))), "texts:") {
			continue // locale fixtures only make sense without the bundled locale under them
		}
		if !strings.Contains(errs, e.Name()+":") {
			t.Errorf("no problem reported for %s\n%s", e.Name(), errs)
		}
	}
}

// TestFlowsCheckVerifiedInTheFuture: the command judges verified dates by the
// day it runs on.
func TestFlowsCheckVerifiedInTheFuture(t *testing.T) {
	dir := t.TempDir()
	flow := "id: extra\nsources: [https://dean06.hanam.gov.vn]\nverified: 2026-12-02\nstart: a\nsteps:\n  - id: a\n    end: {vi: ok}\n"
	if err := os.WriteFile(filepath.Join(dir, "extra.yaml"), []byte(flow), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := checkFlows(dir, time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC), &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "extra.yaml:3: extra: verified 2026-12-02 is after today (2026-12-01)") {
		t.Fatalf("on 2026-12-01: exit %d\n%s", code, errs.String())
	}
	out.Reset()
	errs.Reset()
	if code := checkFlows(dir, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), &out, &errs); code != 0 {
		t.Fatalf("on 2026-12-02: exit %d\n%s", code, errs.String())
	}
}

func TestFlowsCheckMissingDir(t *testing.T) {
	if code, _, _ := runCLI(t, nil, "flows", "check", filepath.Join(t.TempDir(), "nope")); code == 0 {
		t.Fatal("exit 0 for a missing directory")
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	code, _, errs := runCLI(t, map[string]string{"GOCUA_TELEGRAM_TOKEN": "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ra"}, "migrate")
	if code != 2 || !strings.Contains(errs, "GOCUA_TELEGRAM_WEBHOOK_SECRET") {
		t.Fatalf("exit %d, stderr %q: want 2 naming GOCUA_TELEGRAM_WEBHOOK_SECRET", code, errs)
	}
	if strings.Contains(errs, "AAEhBOweik6ad9r") {
		t.Fatal("the token leaked into the error output")
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := runCLI(t, nil, "frobnicate"); code != 2 || !strings.Contains(errs, "usage") {
		t.Fatalf("exit %d, %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	if code, out, _ := runCLI(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "gocua ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

func TestMigrateCommand(t *testing.T) {
	code, _, errs := runCLI(t, map[string]string{"GOCUA_DATABASE_URL": testDB.url}, "migrate")
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s", code, errs)
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
