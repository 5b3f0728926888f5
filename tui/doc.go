// Package tui is Foreman's interactive console: the screen operators live
// in to find, inspect and act on executions (DESIGN.md §6).
//
// The foreman CLI opens it with Run, giving it a Backend (backend.go) built
// over engine.Client and searchapi.Client. The console never talks to
// JetStream or bleve: every read and write goes through that interface, in
// a tea.Cmd with a deadline.
//
// # Layout
//
// One tea.Model (Model, app.go) owns a stack of screens — the executions
// list and its presets (list.go), a run's detail (detail.go with its tabs in
// overview.go, history.go, querytab.go), the approvals inbox (approvals.go),
// task queues (queues.go), the engine's pulse (pulse.go, health.go) — and
// at most one modal: the query bar (querybar.go), the command palette (palette.go), help (help.go) or an
// action dialog (confirm.go, decide.go, signal.go, reset.go,
// compensate.go, batch.go). Screens and dialogs are plain structs with
// methods; only Model.Update changes state, and replies carry the id of the
// screen or dialog that asked, so an answer for something closed is dropped.
//
// Lists never hold every match: rowWindow (window.go) pages by search-after
// cursors from either end (G asks the index for the last page with the sort
// reversed) and keeps the rows of a few pages around the cursor.
//
// Writes are operator catalog actions (package operator): they start in
// Model.dispatch (actions.go) and all go through Model.acts, the backend
// behind operator.ReadOnly in read-only mode, the one place that refuses
// them; batches run on operator.Runner, journaled and resumable like the
// CLI's. Dialogs capture their target runs when they open, default to No,
// and ask to type the workflow id (terminate, reset, compensate) or the
// count (batches) before anything runs.
//
// Tables lay their columns out by priority (columns.go): the columns that
// say which run a row is are shown whole first, the status line claims
// room from extras such as RUN and EVENTS, and the sorted column is never
// dropped. The approvals inbox filters its approvals itself
// (approvalfilter.go); a run's own query handlers and signal names come
// from the __handlers built-in query (handlers.go).
//
// Keys are declared once (keymap.go) and feed the footer, the ? help and
// the read-only refusals; styles are one Styles value (theme.go) chosen from
// the terminal's background, or attributes only under NO_COLOR.
package tui
