package main

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReport: the table puts the bots side by side with the ratio
// gocua/floor, says when no capacity step passed or every one did, and
// lists each bot's steps with their verdicts.
func TestReport(t *testing.T) {
	o := options{rate: 1000, duration: 5 * time.Second, warmup: 2 * time.Second, chats: 10000, steps: []float64{250, 500}, p99: 25 * time.Millisecond}
	at := func(cpu time.Duration, p99 time.Duration) stepResult {
		return stepResult{Rate: 1000, Sent: 1000, Replied: 1000, Posted: 1000, P50: p99 / 2, P99: p99, BotCPU: cpu, ServersMeasured: true}
	}
	r := &report{opts: o, bots: []botResult{
		{Name: "gocua", At: at(800*time.Millisecond, 40*time.Millisecond), PeakRSS: 100 << 20, Calls: map[string]int64{"sendMessage": 2000},
			Steps: []stepResult{{Rate: 250, Sent: 10, Replied: 10, P99: 30 * time.Millisecond}}},
		{Name: "floor", At: at(400*time.Millisecond, 10*time.Millisecond), PeakRSS: 20 << 20, Calls: map[string]int64{"sendMessage": 1000},
			Capacity: 500, AllPass: true, Steps: []stepResult{{Rate: 250, Sent: 10, Replied: 10, P99: time.Millisecond}, {Rate: 500, Sent: 10, Replied: 10, P99: time.Millisecond}}},
	}}
	var b bytes.Buffer
	r.WriteMarkdown(&b)
	out := b.String()
	for _, want := range []string{
		"| | gocua | floor | gocua/floor |",
		"| capacity at p99 ≤ 25ms (updates/s) | < 250 | ≥ 500 | – |",
		"| p99 webhook→reply at 1000/s (ms) | 40.00 | 10.00 | 4.00 |",
		"| CPU per update, bot (µs) | 800 | 400 | 2.00 |",
		"| peak RSS, VmHWM (MiB) | 100.0 | 20.0 | 5.00 |",
		"| Bot API calls per update at 1000/s | sendMessage 2.00 | sendMessage 1.00 | 2.00 |",
		"| 250 | 10 | 10 | 0.00 | 30.00 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "| ✗ |"); n != 2 { // gocua at -rate (p99 40 ms) and at 250/s
		t.Errorf("%d failing steps shown, want 2:\n%s", n, out)
	}
}

// TestStepPass: a step passes only with p99 within bound, every update
// posted and answered, and the load on schedule.
func TestStepPass(t *testing.T) {
	ok := stepResult{Sent: 100, Replied: 100, P99: 20 * time.Millisecond, Late: 5}
	if !ok.pass(25 * time.Millisecond) {
		t.Fatalf("%+v should pass", ok)
	}
	for name, f := range map[string]func(*stepResult){
		"slow":    func(s *stepResult) { s.P99 = 26 * time.Millisecond },
		"missing": func(s *stepResult) { s.Missing, s.Replied = 1, 99 },
		"errors":  func(s *stepResult) { s.Errors = 1 },
		"dropped": func(s *stepResult) { s.Dropped = 1 },
		"busy":    func(s *stepResult) { s.Busy = 1 },
		"late":    func(s *stepResult) { s.Late = 6 },
		"nothing": func(s *stepResult) { *s = stepResult{} },
	} {
		s := ok
		f(&s)
		if s.pass(25 * time.Millisecond) {
			t.Errorf("%s: %+v passed", name, s)
		}
	}
}

// TestProc: CPU time, parent and peak RSS as /proc gives them.
func TestProc(t *testing.T) {
	deadline := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(deadline) { // use some CPU
	}
	st, err := readStat(os.Getpid())
	if err != nil || st.cpu <= 0 || st.ppid != os.Getppid() {
		t.Fatalf("readStat: %+v, %v (ppid want %d)", st, err, os.Getppid())
	}
	if rss, err := peakRSS(os.Getpid()); err != nil || rss < 1<<20 {
		t.Fatalf("peakRSS: %d, %v", rss, err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	kids, err := children(os.Getpid())
	if err != nil || !slices.Contains(kids, cmd.Process.Pid) {
		t.Fatalf("children: %v, %v; want %d among them", kids, err, cmd.Process.Pid)
	}
	if _, err := readStat(1 << 30); err == nil {
		t.Error("readStat of a pid that does not exist succeeded")
	}
}
