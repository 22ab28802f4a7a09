package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
	"github.com/gocua/gocua/flows"
)

// markedRecord is an update's durable record as its dedupe marker keeps it
// when the core writes the record after the commit
// (bot.Conversation.Record): what a re-delivery of the update must write
// again if the first attempt stopped before the record was in. The key and
// the update id are the marker's own. Only records written after the
// commit go this way (bot.UpdateRecord.AfterCommit: no ticket request, no
// transcript lines), so only the rest of bot.UpdateRecord is kept, under
// short names (a marker lives 48 hours).
type markedRecord struct {
	At           time.Time     `json:"a"`
	Name         string        `json:"n,omitempty"`
	Lang         string        `json:"l,omitempty"`
	Area         string        `json:"ar,omitempty"`
	SkipResident bool          `json:"sk,omitempty"`
	Ticket       int64         `json:"t,omitempty"`
	Events       []markedEvent `json:"e,omitempty"`
}

type markedEvent struct {
	Kind    flows.EventKind `json:"k"`
	Flow    string          `json:"f,omitempty"`
	Step    string          `json:"s,omitempty"`
	Version string          `json:"v,omitempty"`
	At      time.Time       `json:"a,omitzero"`
}

// errMarkedRecord is returned for a record a marker cannot keep.
var errMarkedRecord = errors.New("store: a dedupe marker keeps only a record without a ticket request, transcript or rerun")

// encodeMarked encodes r for its update's dedupe marker.
func encodeMarked(r bot.UpdateRecord) ([]byte, error) {
	if !r.AfterCommit() {
		return nil, errMarkedRecord
	}
	m := markedRecord{At: r.At, Name: r.Name, Lang: r.Lang, Area: r.Area, SkipResident: r.SkipResident, Ticket: r.Ticket}
	if len(r.Events) > 0 {
		m.Events = make([]markedEvent, len(r.Events))
		for i, e := range r.Events {
			m.Events[i] = markedEvent{Kind: e.Kind, Flow: e.Flow, Step: e.Step, Version: e.Version, At: e.At}
		}
	}
	return json.Marshal(m)
}

// decodeMarked decodes the record a dedupe marker of key's updateID keeps.
func decodeMarked(key bot.ConvKey, updateID, data string) (bot.UpdateRecord, error) {
	var m markedRecord
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return bot.UpdateRecord{}, fmt.Errorf("decode the record kept with the marker: %w", err)
	}
	r := bot.UpdateRecord{Key: key, UpdateID: updateID, At: m.At, Name: m.Name, Lang: m.Lang, Area: m.Area,
		SkipResident: m.SkipResident, Ticket: m.Ticket}
	if len(m.Events) > 0 {
		r.Events = make([]flows.Event, len(m.Events))
		for i, e := range m.Events {
			r.Events[i] = flows.Event{Kind: e.Kind, Flow: e.Flow, Step: e.Step, Version: e.Version, At: e.At}
		}
	}
	return r, nil
}
