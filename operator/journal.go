package operator

import (
	"context"
	"encoding/json"
	"time"
)

// Journal is the batch journal: before acting on a run a batch claims it
// (create-only), after acting it records the outcome (compare-and-swap on
// the claim), so a resumed batch knows what was done. jetstream.Batches
// implements it in JetStream KV.
type Journal interface {
	// Begin records b under b.ID, or returns the batch recorded there
	// (resumed true); one with other arguments is refused.
	Begin(ctx context.Context, b BatchRecord) (BatchRecord, bool, error)
	// Hold marks the batch as running in this process until release.
	Hold(ctx context.Context, id, holder string) (release func(), err error)
	// Claim records that the batch is about to act on it.RunID; acquired
	// false returns the earlier record instead.
	Claim(ctx context.Context, id string, it ItemRecord) (ItemRecord, bool, error)
	// Retake claims again a run whose earlier record is prev.
	Retake(ctx context.Context, id string, prev ItemRecord) (ItemRecord, bool, error)
	// Finish records the outcome of a claimed run.
	Finish(ctx context.Context, id string, it ItemRecord) (ItemRecord, error)
	// Items returns every run record of the batch.
	Items(ctx context.Context, id string) ([]ItemRecord, error)
}

// BatchRecord is what the journal keeps of a batch: what was asked, over
// which query, by whom.
type BatchRecord struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Query  string `json:"query"`
	// Args are the action's parameters (signal name and payload, reason, …)
	// so that a resume can check it does the same thing.
	Args      json.RawMessage `json:"args,omitempty"`
	Identity  string          `json:"identity"`
	CreatedAt time.Time       `json:"created_at"`
}

// ItemState is where a batch stands with one run.
type ItemState string

const (
	// ItemStarted: claimed, the action may or may not have taken effect
	// (the process stopped before recording the outcome).
	ItemStarted ItemState = "started"
	// ItemOK: the action took effect.
	ItemOK ItemState = "ok"
	// ItemSkipped: nothing to do on this run (already in the wanted state).
	ItemSkipped ItemState = "skipped"
	// ItemError: the action was refused or failed and did not take effect.
	ItemError ItemState = "error"
)

// ItemRecord is the journal record of one run.
type ItemRecord struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	// Approval, when set, makes the record one approval's of the run (the
	// console decides several approvals of one run in one batch); the
	// record of a whole run, the CLI's, leaves it empty.
	Approval string    `json:"approval,omitempty"`
	State    ItemState `json:"state"`
	Reason   string    `json:"reason,omitempty"`
	// Attempts counts the claims of this run (1 unless a resume retried it).
	Attempts  int       `json:"attempts"`
	StartedAt time.Time `json:"started_at"`
	// FinishedAt is zero while State is ItemStarted.
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Revision is the journal revision the record was read or written at;
	// Finish and Retake compare-and-swap on it.
	Revision uint64 `json:"-"`
}
