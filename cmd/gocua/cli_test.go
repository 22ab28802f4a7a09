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

// TestFlowsCheckAreas: flows check also checks GOCUA_AREAS_FILE, or the
// bundled sample without it, and fails on its problems like on a flow's.
func TestFlowsCheckAreas(t *testing.T) {
	code, out, errs := runCLI(t, nil, "flows", "check")
	if code != 0 || !strings.Contains(out, "areas ok: 40 communes and wards of Thành phố Huế (sample/hue.yaml)") {
		t.Fatalf("the bundled sample: exit %d\n%s%s", code, out, errs)
	}

	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("province: {code: x, name: Tỉnh X}\nareas: [{code: a, name: Phường A}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, map[string]string{"GOCUA_AREAS_FILE": good}, "flows", "check")
	if code != 0 || !strings.Contains(out, "areas ok: 1 communes and wards of Tỉnh X") {
		t.Fatalf("a good file: exit %d\n%s%s", code, out, errs)
	}

	bad := filepath.Join(dir, "bad.yaml")
	data := "province: {code: x, name: Tỉnh X}\nareas:\n  - code: Phuong-A\n    name: Phường A\n  - code: b\n    name: Phường B\n    wards: 2\n" +
		"    offices: [{kind: police, name: C, phone: \"12\"}]\n"
	if err := os.WriteFile(bad, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runCLI(t, map[string]string{"GOCUA_AREAS_FILE": bad}, "flows", "check")
	if code != 1 {
		t.Fatalf("a bad file: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		bad + `:3: area code "Phuong-A" must use only a-z, 0-9 and _`,
		bad + `:7: unknown key "wards" (allowed here: code, name, kind, aliases, offices)`,
		bad + `:8: b: phone "12" must start with 0, +84, 1800 or 1900`,
		"3 problem(s) in " + bad,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in\n%s", want, errs)
		}
	}
	if !strings.Contains(out, "flows ok") {
		t.Errorf("the flows are still checked: %q", out)
	}

	if code, _, errs := runCLI(t, map[string]string{"GOCUA_AREAS_FILE": filepath.Join(dir, "nope.yaml")}, "flows", "check"); code != 2 ||
		!strings.Contains(errs, "GOCUA_AREAS_FILE") {
		t.Fatalf("a missing file: exit %d\n%s", code, errs)
	}

	// verified dates are judged by the day the command runs on
	future := filepath.Join(dir, "future.yaml")
	if err := os.WriteFile(future, []byte("province: {code: x, name: y}\nverified: 2026-12-02\nareas: [{code: a, name: Phường A}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	if code := checkAreas(future, time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC), &o, &e); code != 1 ||
		!strings.Contains(e.String(), future+":2: verified 2026-12-02 is after today (2026-12-01)") {
		t.Fatalf("on 2026-12-01: exit %d\n%s", code, e.String())
	}
	if code := checkAreas(future, time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), &o, &e); code != 0 {
		t.Fatalf("on 2026-12-02: exit %d", code)
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
