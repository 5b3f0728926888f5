package engine

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The worker's side of updates: see workflow_update.go for the design.

// updateRequest is what a client sends a worker of the run's task queue.
type updateRequest struct {
	RunID      string          `json:"run_id"`
	WorkflowID string          `json:"workflow_id"`
	UpdateID   string          `json:"update_id"`
	Name       string          `json:"name"`
	Input      json.RawMessage `json:"input,omitempty"`
	Identity   string          `json:"identity,omitempty"`
	OnBehalfOf string          `json:"on_behalf_of,omitempty"`
	Sig        string          `json:"sig,omitempty"` // the engine's, over the request (update_sign.go)
}

// updateResponse is the worker's answer. Code is empty when the update is
// in history (Stage accepted or completed).
type updateResponse struct {
	Stage   UpdateStage     `json:"stage,omitempty"`
	Seq     uint64          `json:"seq,omitempty"` // history holds the acceptance at or before it
	Result  json.RawMessage `json:"result,omitempty"`
	Failure *Failure        `json:"failure,omitempty"`
	Error   string          `json:"error,omitempty"`
	// Code: "rejected", "unknown_update", "closed", "busy" or "failed".
	Code string `json:"code,omitempty"`
}

type verdictKind uint8

const (
	_ verdictKind = iota
	verdictAccepted
	verdictDuplicate
	verdictRejected
	// verdictInputsFirst: the run has inputs its code has not seen; the
	// task runs them first and the update is judged after.
	verdictInputsFirst
)

// updateVerdict is how a worker judged an update on one state of the run.
type updateVerdict struct {
	kind verdictKind
	err  error
	env  *workflowEnv // the state judged (its update table tells the outcome)
}

// judgeUpdate is accept's judgement of an update: the acceptance event to
// append, or nothing (with the verdict saying why).
func judgeUpdate(env *workflowEnv, in *inbound) decision {
	r := in.Update
	v := &updateVerdict{env: env}
	in.verdict = v
	switch {
	case env.updates.accepted[r.UpdateID] != nil:
		v.kind = verdictDuplicate
	case env.unprocessed:
		v.kind = verdictInputsFirst
	default:
		if err := env.validateUpdate(r.Name, r.Input); err != nil {
			v.kind, v.err = verdictRejected, err
			return decision{}
		}
		v.kind = verdictAccepted
		return decision{events: []Event{{Type: EventUpdateAccepted, Attrs: &UpdateAccepted{UpdateID: r.UpdateID, Name: r.Name,
			Input: r.Input, Identity: r.Identity, OnBehalfOf: r.OnBehalfOf, Sig: r.Sig}}}}
	}
	return decision{}
}

// updateRounds bounds how often one request runs the run's pending inputs
// or loses a race before it gives up (the client asks again).
const updateRounds = 5

// serveUpdate handles an update request as a workflow task of its run.
func (w *Worker) serveUpdate(ctx context.Context, r *updateRequest) []byte {
	if r.RunID == "" || r.UpdateID == "" || r.Name == "" {
		return mustJSON(updateResponse{Code: "failed", Error: "malformed update request: run id, update id and name are required"})
	}
	for round := range updateRounds {
		t := &workflowTask{RunID: r.RunID, WorkflowID: r.WorkflowID, Inbound: &inbound{Kind: inboundUpdate, Update: r}}
		unlock := w.locks.lock(r.RunID)
		o := w.processWorkflowTask(ctx, t, 1)
		resp, done := w.updateAnswer(ctx, r, t.Inbound.verdict, o)
		unlock()
		if done {
			return mustJSON(resp)
		}
		select {
		case <-ctx.Done():
			return mustJSON(updateResponse{Code: "busy", Error: ctx.Err().Error()})
		case <-time.After(time.Duration(round) * 10 * time.Millisecond):
		}
	}
	return mustJSON(updateResponse{Code: "busy", Error: "the run's workflow task did not complete (is it failing? see its history)"})
}

// updateAnswer reads the outcome of one round, under the run's lock;
// done false asks for another round.
func (w *Worker) updateAnswer(ctx context.Context, r *updateRequest, v *updateVerdict, o taskOutcome) (updateResponse, bool) {
	if v == nil { // the task never judged it: the run is closed (or imported)
		last, err := w.store.LastBatch(ctx, r.RunID)
		switch {
		case errors.Is(err, ErrNotFound):
			return updateResponse{Code: "closed", Error: "run " + r.RunID + " has no history"}, true
		case err != nil:
			return updateResponse{}, false
		case last.Header.Closed || last.Header.Kind == BatchImported:
			return updateResponse{Code: "closed", Error: "run " + r.RunID + " is closed"}, true
		}
		return updateResponse{}, false
	}
	switch v.kind {
	case verdictRejected:
		code := "rejected"
		if errors.Is(v.err, ErrUnknownUpdate) {
			code = "unknown_update"
		}
		return updateResponse{Code: code, Error: v.err.Error()}, true
	case verdictAccepted, verdictDuplicate:
		if o.nak { // not appended: judge again
			return updateResponse{}, false
		}
		st := v.env.updates.accepted[r.UpdateID]
		if st == nil {
			return updateResponse{}, false
		}
		resp := updateResponse{Stage: WaitForAccepted, Seq: v.env.lastSeq}
		if st.done {
			resp.Stage, resp.Result, resp.Failure = WaitForCompleted, st.result, st.failure
		}
		return resp, true
	}
	return updateResponse{}, false // inputs first: they ran (or failed); judge again
}
