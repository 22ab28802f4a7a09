package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const nameTaken = "another running gocua uses this replica's name"

// takenCount reads gocua_replica_name_taken_total from h's /metrics.
func takenCount(t *testing.T, h *harness) int {
	t.Helper()
	v, found, err := metricAt(http.DefaultClient, h.url, "gocua_replica_name_taken_total")
	if err != nil || !found {
		t.Fatalf("/metrics has no gocua_replica_name_taken_total (err %v)", err)
	}
	return int(v)
}

// Two running processes under one replica name are found by both, within
// a few beats, in the log and in /metrics; a replica restarted under its
// name (the way it takes its replies back) and one with a name of its own
// are not reported.
func TestReplicaNameTakenIsReported(t *testing.T) {
	beating := func(name string, beat time.Duration) option {
		return withMain(func(m *Main) { m.ReplicaID, m.NameBeat = name, beat })
	}
	named := func(name string) option { return beating(name, 20*time.Millisecond) }
	// its announcement lasts three beats, 6 s: it outlives the process, as
	// a killed one's does
	first := start(t, nil, beating("host-1/:8080", 2*time.Second))
	time.Sleep(100 * time.Millisecond) // its first announcement is made at once
	if err := first.main.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := start(t, nil, named("host-1/:8080"))
	other := start(t, nil, named("host-2/:8080"))
	time.Sleep(200 * time.Millisecond)
	for _, h := range []*harness{restarted, other} {
		if strings.Contains(h.logs.String(), nameTaken) || takenCount(t, h) != 0 {
			t.Fatalf("a restart or a distinct name was reported as a twin:\n%s", h.logs.String())
		}
	}

	twin := start(t, nil, named("host-1/:8080"))
	deadline := time.Now().Add(10 * time.Second)
	for takenCount(t, restarted) == 0 || takenCount(t, twin) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("twins not found within 10 s: %d and %d", takenCount(t, restarted), takenCount(t, twin))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for takenCount(t, restarted) < 3 { // every sighting counts, one a beat
		if time.Now().After(deadline) {
			t.Fatalf("sightings not counted: %d within 10 s", takenCount(t, restarted))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, h := range []*harness{restarted, twin} {
		if logs := h.logs.String(); !strings.Contains(logs, nameTaken) || !strings.Contains(logs, `name=host-1/:8080`) {
			t.Errorf("the twin's log does not say so, with the name:\n%s", logs)
		}
	}
	if n := strings.Count(restarted.logs.String(), nameTaken); n != 1 {
		t.Errorf("the error was logged %d times within a minute, want once (then once a minute)", n)
	}
	if strings.Contains(other.logs.String(), nameTaken) || takenCount(t, other) != 0 {
		t.Errorf("the replica with a name of its own was reported")
	}
}
