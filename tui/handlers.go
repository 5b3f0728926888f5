package tui

import (
	"encoding/json"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// A run's own query handlers and signal names come from the __handlers
// built-in (engine.QueryHandlers): a worker replays the run and lists what
// its code registered. It goes through the query path that already exists,
// so nothing is added to history or to the run record, and the answer is
// the code as deployed, at the step the run is at. Without a worker
// polling, the built-ins are still offered and the note says why the rest
// is missing.

// handlersState is what __handlers answered for one run.
type handlersState struct {
	h       engine.Handlers
	err     error
	loading bool
	loaded  bool
}

// fetchHandlers asks a worker for t's handlers; the reply is a queryMsg
// named engine.QueryHandlers, addressed to the screen or dialog to.
func (s *handlersState) fetch(m *Model, to int, t target) tea.Cmd {
	s.loading = true
	return runQuery(m, to, 0, t, engine.QueryHandlers, nil)
}

// receive takes the reply; ok is false for another query's.
func (s *handlersState) receive(msg queryMsg) (ok bool) {
	if msg.name != engine.QueryHandlers {
		return false
	}
	s.loading, s.loaded, s.err = false, true, msg.err
	if msg.err == nil {
		if err := json.Unmarshal(msg.res, &s.h); err != nil {
			s.err = err
		}
	}
	return true
}

// note says where the names come from, or why the workflow's own are not
// there.
func (s *handlersState) note(what string) string {
	switch {
	case s.loading:
		return "asking a worker for this workflow's " + what + "…"
	case s.err != nil:
		return "no worker listed this workflow's " + what + ": " + errorText(s.err)
	}
	return ""
}

// addNames puts names (the workflow's own) before the ones in list that
// are not among them.
func addNames(list, names []string) []string {
	out := slices.Clone(names)
	for _, n := range list {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// builtinQuery tells the built-in queries (__stack) from a workflow's own.
func builtinQuery(name string) bool { return strings.HasPrefix(name, "__") }
