package tui

import (
	"encoding/json"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Messages that commands send back to Update. Replies carry the id of the
// screen or dialog that asked (addr) and enough of the request to recognise
// a stale answer, which is dropped.

// addr names the screen or dialog a reply is for.
type addr struct{ to int }

func (a addr) target() int { return a.to }

// addressed is a reply routed to one screen or dialog.
type addressed interface{ target() int }

type (
	// indexUpdatedMsg: the index applied new history (live refresh).
	indexUpdatedMsg struct{}
	// liveClosedMsg: the update stream ended.
	liveClosedMsg struct{}
	// refreshDueMsg: the debounce window after an update has passed.
	refreshDueMsg struct{}
	// clockMsg re-renders ages once a second.
	clockMsg time.Time
	// flashExpiredMsg clears the footer message it was scheduled for.
	flashExpiredMsg struct{ seq int }
	lagMsg          struct {
		lag searchapi.Lag
		err error
	}
	viewsMsg struct {
		views []SavedView
		err   error
	}
	viewSavedMsg struct {
		name string
		err  error
	}
)

type pageMsg struct {
	addr
	req     pageReq
	query   string
	pending bool // a new query being tried: an error keeps the old rows
	res     searchapi.SearchResult
	err     error
}

type countMsg struct {
	addr
	query string
	res   searchapi.CountResult
	err   error
}

type describeMsg struct {
	addr
	seq    int
	x      *engine.Execution
	events []engine.Event
	err    error
}

type queryMsg struct {
	addr
	seq  int
	name string
	res  json.RawMessage
	err  error
}

type planMsg struct {
	addr
	plan []CompensationStep
	err  error
}

type previewMsg struct {
	addr
	to  string
	res ResetPreview
	err error
}

// actionDoneMsg reports one action on one run.
type actionDoneMsg struct {
	act action
	t   target
	res ResetPreview
	err error
}

// batchStepMsg reports one run of a batch, or (done) its end.
type batchStepMsg struct {
	addr
	result      *operator.ItemResult
	done        bool
	interrupted bool // done before every run was handled
	err         error
}

type approvalsMsg struct {
	addr
	res searchapi.SearchResult
	err error
}

type queuesMsg struct {
	addr
	running, retrying, failing searchapi.CountResult
	err                        error
	pulse                      searchapi.Pulse // workers and backlogs (pulse.go)
	pulseErr                   error
}
