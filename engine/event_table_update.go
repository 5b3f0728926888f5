package engine

import (
	"encoding/json"
	"time"
)

// The registry's entries for updates (workflow_update.go): an accepted
// update is a fact the worker that validated it records in the workflow
// task that starts its handler; its completion is a command of the
// handler, matched on replay by the update's id. A rejected update leaves
// no event at all.
func init() {
	register(map[EventType]eventSpec{
		EventUpdateAccepted: eventDef[UpdateAccepted]{
			kind:    kindFact,
			derives: deriveNothing, // recorded by the workflow task that runs its handler
			pending: pendingNone,
			fold: func(x *summary, e Event, a *UpdateAccepted) {
				x.Updates = append(x.Updates, UpdateInfo{UpdateID: a.UpdateID, Name: a.Name, Input: a.Input, AcceptedAt: e.Time, Identity: a.Identity})
				if a.Identity != "" {
					x.Actions = append(x.Actions, OperatorAction{At: e.Time, Action: "updated " + a.Name, By: a.Identity, OnBehalfOf: a.OnBehalfOf})
				}
			},
			line: func(n *EventNarrator, _ Event, a *UpdateAccepted) string {
				return n.withPayload(a.Name+" "+a.UpdateID+n.by(a.Identity, a.OnBehalfOf), a.Input)
			},
		},
		EventUpdateCompleted: eventDef[UpdateCompleted]{
			kind: kindCommand,
			replay: func(a *UpdateCompleted) replayKey {
				return replayKey{seq: a.Seq, key: a.UpdateID, label: "update " + a.Name}
			},
			failure: false,
			derives: deriveNothing,
			pending: pendingNone,
			fold: func(x *summary, e Event, a *UpdateCompleted) {
				for i := range x.Updates {
					if u := &x.Updates[i]; u.UpdateID == a.UpdateID {
						u.Completed, u.CompletedAt, u.Result, u.Failure = true, e.Time, a.Result, a.Failure
					}
				}
			},
			line: func(n *EventNarrator, _ Event, a *UpdateCompleted) string {
				if a.Failure != nil {
					return a.Name + " " + a.UpdateID + " failed: " + n.failureText(a.Failure)
				}
				return n.withPayload(a.Name+" "+a.UpdateID, a.Result)
			},
		},
	})
}

// UpdateAccepted records an update the run's validator accepted: from
// here on it is durable and its handler runs (again, on replay) once.
type UpdateAccepted struct {
	UpdateID string          `json:"update_id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input,omitempty"`
	// Identity is the principal that sent the update, as the engine
	// authenticated it (empty for an SDK client without one).
	Identity   string `json:"identity,omitempty"`
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Sig is the engine's signature of the request (update_sign.go): an
	// update carries its sender only when the engine vouches for it.
	Sig string `json:"sig,omitempty"`
	// Unverified is the sender a reader found claimed without a valid
	// signature (Identity is then cleared).
	Unverified string `json:"unverified,omitempty"`
}

// UpdateCompleted is an update handler's outcome: its result, or the
// failure its error became.
type UpdateCompleted struct {
	Seq      int64           `json:"seq"`
	UpdateID string          `json:"update_id"`
	Name     string          `json:"name"`
	Result   json.RawMessage `json:"result,omitempty"`
	Failure  *Failure        `json:"failure,omitempty"`
}

// UpdateInfo is one update a run accepted (Execution.Updates), in the
// order it accepted them.
type UpdateInfo struct {
	UpdateID    string          `json:"update_id"`
	Name        string          `json:"name"`
	Input       json.RawMessage `json:"input,omitempty"`
	AcceptedAt  time.Time       `json:"accepted_at"`
	Identity    string          `json:"identity,omitempty"`
	Completed   bool            `json:"completed"`
	CompletedAt time.Time       `json:"completed_at,omitzero"`
	Result      json.RawMessage `json:"result,omitempty"`
	Failure     *Failure        `json:"failure,omitempty"`
}
