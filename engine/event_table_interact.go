package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The registry's entries for what the code and the people around a run
// exchange: signals, markers, approvals, status, progress and search
// attributes. See event_spec.go for what each entry declares.
func init() {
	register(map[EventType]eventSpec{
		EventSignalReceived: eventDef[SignalReceived]{
			kind:    kindFact,
			derives: deriveNothing, // its batch wakes the run
			pending: pendingNone,
			fold: func(x *summary, e Event, a *SignalReceived) {
				x.Signals = append(x.Signals, a.Name)
				x.acted(e, "signaled "+a.Name, a)
			},
			line: func(n *EventNarrator, _ Event, a *SignalReceived) string {
				return n.withPayload(a.Name+n.by(a.Identity, a.OnBehalfOf), a.Payload)
			},
		},
		EventMarkerRecorded: eventDef[MarkerRecorded]{
			kind: kindCommand,
			replay: func(a *MarkerRecorded) replayKey {
				return replayKey{seq: a.Seq, key: a.Kind + ":" + a.ID, label: a.Kind + " " + a.ID}
			},
			derives: deriveNothing,
			pending: pendingNone,
			fold: func(x *summary, _ Event, a *MarkerRecorded) {
				x.compensated = x.compensated || a.Kind == MarkerCompensated
			},
			line: func(n *EventNarrator, _ Event, a *MarkerRecorded) string {
				s := a.Kind
				if a.ID != "" {
					s += " " + a.ID
				}
				return n.withPayload(s, a.Value)
			},
		},
		EventApprovalRequested: eventDef[ApprovalRequested]{
			kind:     kindCommand,
			replay:   func(a *ApprovalRequested) replayKey { return replayKey{seq: a.Seq, key: a.Name, label: a.Name} },
			derives:  deriveWhileOpen,
			deriveIf: func(a *ApprovalRequested) bool { return a.Timeout > 0 },
			derive: func(ctx context.Context, s Store, h BatchHeader, e Event, a *ApprovalRequested) error {
				return wfTimer(ctx, s, h, "approval", a.Seq, e.Time.Add(a.Timeout), &inbound{Kind: inboundApprovalTimeout, Seq: a.Seq})
			},
			pending: pendingOpens,
			workSeq: func(a *ApprovalRequested) int64 { return a.Seq },
			fold: func(x *summary, e Event, a *ApprovalRequested) {
				x.approvals[a.Seq] = &PendingApproval{Seq: a.Seq, Name: a.Name, Description: a.Description, Approvers: a.Approvers, RequestedAt: e.Time, Timeout: a.Timeout,
					FourEyes: a.FourEyes, NotByField: a.NotByField}
			},
			line: func(n *EventNarrator, e Event, a *ApprovalRequested) string {
				n.approvals[a.Seq] = e.Time
				s := a.Name
				if a.Description != "" {
					s += ": " + n.f.Text(a.Description)
				}
				if len(a.Approvers) > 0 {
					s += " (approvers " + strings.Join(a.Approvers, ", ") + ")"
				}
				if a.Timeout > 0 {
					s += " timeout " + n.f.Age(a.Timeout)
				}
				return s
			},
		},
		EventApprovalDecided: eventDef[ApprovalDecided]{
			kind:    kindFact,
			derives: deriveNothing, // its batch wakes the run
			pending: pendingCloses,
			workSeq: func(a *ApprovalDecided) int64 { return a.Seq },
			fold: func(x *summary, e Event, a *ApprovalDecided) {
				delete(x.approvals, a.Seq)
				verb := "approved "
				if !a.Approved {
					verb = "rejected "
				}
				x.acted(e, verb+a.Name, a)
			},
			line: func(n *EventNarrator, e Event, a *ApprovalDecided) string {
				verb := "approved"
				if !a.Approved {
					verb = "rejected"
				}
				s := fmt.Sprintf("%s %s%s after %s", a.Name, verb, n.by(a.By, a.OnBehalfOf), n.f.Age(e.Time.Sub(n.approvals[a.Seq])))
				if a.Comment != "" {
					s += ": " + n.f.Text(a.Comment)
				}
				return s
			},
		},
		EventApprovalTimedOut: eventDef[ApprovalTimedOut]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ApprovalTimedOut) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *ApprovalTimedOut) { delete(x.approvals, a.Seq) },
			line: func(n *EventNarrator, e Event, a *ApprovalTimedOut) string {
				return a.Name + " timed out after " + n.f.Age(e.Time.Sub(n.approvals[a.Seq]))
			},
		},
		EventStatusSet: eventDef[StatusSet]{
			kind:    kindCommand,
			replay:  func(a *StatusSet) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing,
			pending: pendingNone,
			fold:    func(x *summary, _ Event, a *StatusSet) { x.StatusLine = a.Text },
			line:    func(_ *EventNarrator, _ Event, a *StatusSet) string { return fmt.Sprintf("%q", a.Text) },
		},
		EventProgressSet: eventDef[ProgressSet]{
			kind:    kindCommand,
			replay:  func(a *ProgressSet) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing,
			pending: pendingNone,
			fold:    func(x *summary, _ Event, a *ProgressSet) { x.Progress = &Progress{Done: a.Done, Total: a.Total} },
			line: func(_ *EventNarrator, _ Event, a *ProgressSet) string {
				return fmt.Sprintf("%d of %d", a.Done, a.Total)
			},
		},
		EventSearchAttributesUpserted: eventDef[SearchAttributesUpserted]{
			kind:    kindCommand,
			replay:  func(a *SearchAttributesUpserted) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing, // the indexer reads them from history
			pending: pendingNone,
			fold: func(x *summary, _ Event, a *SearchAttributesUpserted) {
				if x.SearchAttributes == nil {
					x.SearchAttributes = map[string]SearchAttribute{}
				}
				for k, v := range a.Attributes {
					x.SearchAttributes[k] = v
				}
			},
			line: func(_ *EventNarrator, _ Event, a *SearchAttributesUpserted) string {
				var parts []string
				for _, k := range slices.Sorted(maps.Keys(a.Attributes)) {
					v, _ := json.Marshal(a.Attributes[k].Value)
					parts = append(parts, k+"="+string(v))
				}
				return strings.Join(parts, " ")
			},
		},
	})
}
