package fields

import (
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Facts is everything a run's index document holds, derived from its
// events alone (so an index rebuilt from history is identical): the run as
// engine.Summarize folds it, and what the index adds (visibility's
// deriveFacts fills it). Text values are already bounded.
type Facts struct {
	X *engine.Execution
	// LastEvent is the newest event: when history last grew, and what the
	// run did last.
	LastEvent engine.Event

	WaitingOn     string
	Approvals     []string
	ApprovalSince time.Time
	Activities    []string
	Pending       []string
	Attempts      int
	ErrorTypes    []string
	SignalNames   []string
	Actors        []string
	ContinuedFrom string
	LastFailure   *engine.Failure
	// UpdateNames are the updates the run accepted; PendingUpdates those
	// whose handler has not returned yet.
	UpdateNames, PendingUpdates []string

	// The full-text values: payload values (not keys), the failure types
	// and messages, signal names and payloads, the status line, and what
	// history says in words.
	InputText, ResultText, FailureText, SignalsText, StatusLineText, HistoryText string
}

// DurationMS is close - start, or for a running run the time from its
// start to its newest event: derived from history alone, so a rebuilt index
// holds the same value.
func (f *Facts) DurationMS() int64 {
	x := f.X
	end := x.CloseTime
	if end.IsZero() {
		end = f.LastEvent.Time
	}
	if x.StartTime.IsZero() || end.Before(x.StartTime) {
		return 0
	}
	return end.Sub(x.StartTime).Milliseconds()
}
