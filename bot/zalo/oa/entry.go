package oa

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gocua/gocua/bot"
)

// entry is what the webhook queues in the inbox for one event: the
// Inbound(s) it became, all of one conversation. Its JSON has short, fixed
// names and kinds spelled out, so entries queued by one version of gocua
// are read by the next (the inbox outlives a deploy).
type entry struct {
	V  int      `json:"v"`
	In []queued `json:"in"`
}

const entryVersion = 1

type queued struct {
	Chat     string     `json:"c"`
	UpdateID string     `json:"u"`
	Seq      int64      `json:"q"`
	Kind     string     `json:"k"`
	Text     string     `json:"x,omitempty"`
	Data     string     `json:"d,omitempty"`
	Command  string     `json:"cm,omitempty"`
	Args     string     `json:"a,omitempty"`
	UserID   string     `json:"f,omitempty"`
	Name     string     `json:"n,omitempty"`
	At       int64      `json:"t"` // epoch ms
	Media    *bot.Media `json:"m,omitempty"`
	Phone    string     `json:"p,omitempty"`
	OwnPhone bool       `json:"po,omitempty"`
}

// kindNames are the inbox's names for the kinds the webhook queues.
var kindNames = map[bot.InboundKind]string{
	bot.InText: "text", bot.InButton: "button", bot.InCommand: "command",
	bot.InBlocked: "blocked", bot.InUnblocked: "unblocked", bot.InMedia: "media",
	bot.InTakeover: "takeover",
}

var kindsByName = func() map[string]bot.InboundKind {
	m := make(map[string]bot.InboundKind, len(kindNames))
	for k, n := range kindNames {
		m[n] = k
	}
	return m
}()

// encodeEntry is the inbox entry for ins (one conversation's, at least one).
func encodeEntry(ins []bot.Inbound) ([]byte, error) {
	e := entry{V: entryVersion, In: make([]queued, 0, len(ins))}
	for _, in := range ins {
		name, ok := kindNames[in.Kind]
		if !ok {
			return nil, fmt.Errorf("zalo oa: inbound kind %d cannot be queued", in.Kind)
		}
		q := queued{
			Chat: in.Key.ChatID, UpdateID: in.UpdateID, Seq: in.Seq, Kind: name,
			Text: in.Text, Data: in.Data, Command: in.Command, Args: in.Args,
			UserID: in.UserID, Name: in.Name, At: in.At.UnixMilli(), Media: in.Media,
		}
		if in.Contact != nil {
			q.Phone, q.OwnPhone = in.Contact.Phone, in.Contact.Own
		}
		e.In = append(e.In, q)
	}
	return json.Marshal(e)
}

var errBadEntry = errors.New("zalo oa: malformed inbox entry")

// decodeEntry reads an inbox entry back into Inbounds. An entry that is not
// one (another version, damaged) is an error: Run drops it.
func decodeEntry(data []byte) ([]bot.Inbound, error) {
	var e entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadEntry, err)
	}
	if e.V != entryVersion || len(e.In) == 0 {
		return nil, fmt.Errorf("%w: version %d with %d updates", errBadEntry, e.V, len(e.In))
	}
	ins := make([]bot.Inbound, 0, len(e.In))
	for _, q := range e.In {
		kind, ok := kindsByName[q.Kind]
		switch {
		case !ok:
			return nil, fmt.Errorf("%w: kind %q", errBadEntry, q.Kind)
		case !validID(q.Chat) || q.UpdateID == "":
			return nil, fmt.Errorf("%w: no chat or update id", errBadEntry)
		case q.Chat != e.In[0].Chat:
			return nil, fmt.Errorf("%w: several conversations", errBadEntry)
		}
		in := bot.Inbound{
			Key: bot.ConvKey{Channel: bot.ChannelZaloOA, ChatID: q.Chat}, UpdateID: q.UpdateID, Seq: q.Seq,
			Kind: kind, Text: q.Text, Data: q.Data, Command: q.Command, Args: q.Args,
			UserID: q.UserID, Name: q.Name, At: time.UnixMilli(q.At), Media: q.Media,
		}
		if q.Phone != "" {
			in.Contact = &bot.Contact{Phone: q.Phone, Own: q.OwnPhone}
		}
		ins = append(ins, in)
	}
	return ins, nil
}
