package operator

// ItemResult is the result of the action on one run: a line of the CLI's
// output (jsonl with -o jsonl) and a row of the console's batch dialog.
type ItemResult struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
	Action     string `json:"action"`
	Result     string `json:"result"` // ok, skipped or error
	Reason     string `json:"reason,omitempty"`
	Detail     string `json:"detail,omitempty"`
	// Approval is the target's approval, when it named one.
	Approval string `json:"-"`
	// Earlier: an earlier attempt of the batch handled the run; this
	// attempt left it alone.
	Earlier bool `json:"-"`
	// Err is the error behind an error result.
	Err error `json:"-"`
}

// Counts are a batch's results so far.
type Counts struct {
	Done, OK, Skipped, Failed int
}

// Summary is how a batch run ended.
type Summary struct {
	ID string
	Counts
	// Resumed: the batch id was already journaled.
	Resumed bool
	// Interrupted: ctx ended before every run was handled; run the batch
	// again with the same ID to finish it.
	Interrupted bool
}

// Results of one run.
const (
	ResultOK      = "ok"
	ResultSkipped = "skipped"
	ResultError   = "error"
)
