// Package stuck diagnoses why running runs do not move (issue 18 scope
// 5): it groups them by cause — a workflow task failing on
// non-determinism or otherwise, an activity retrying with one error, a
// dead letter, a pause, a queue no worker polls, a person who has not
// decided — with counts, and gives each group the query that selects its
// runs and the operator action (catalog name and CLI line) that fits, so
// the console's :stuck view and `foreman stuck` act on a group as a batch.
//
// It reads only the search API (searchapi) and the engine's queue health
// (the pulse API), as the console does.
package stuck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Cause is why a group of runs is stuck.
type Cause string

// The causes, in the order a run is tested for them (the first that holds
// is its cause) and the groups are listed.
const (
	NonDeterminism Cause = "nondeterminism"
	TaskFailing    Cause = "task_failure"
	DeadLettered   Cause = "dead_lettered"
	Paused         Cause = "paused"
	NoWorker       Cause = "no_worker"
	Retrying       Cause = "retrying"
	OnPerson       Cause = "waiting_on_person"
	NoProgress     Cause = "no_progress"
)

var causeOrder = []Cause{NonDeterminism, TaskFailing, DeadLettered, Paused, NoWorker, Retrying, OnPerson, NoProgress}

// Actions offered on the groups: operator catalog names. The activity and
// pause ones are pause's (PAUSE-CONTRACT.md); the console offers them
// once the catalog has them.
const (
	ActReset         = "reset"
	ActApprove       = "approve"
	ActUnpause       = "unpause"
	ActActivityRetry = "activity-retry"
)

// Group is the stuck runs of one cause (and activity, error, queue or
// approval where the cause has them).
type Group struct {
	Cause     Cause  `json:"cause"`
	Title     string `json:"title"`
	Activity  string `json:"activity,omitempty"`
	ErrorType string `json:"error_type,omitempty"`
	Queue     string `json:"queue,omitempty"`
	Approval  string `json:"approval,omitempty"`
	Waiting   string `json:"waiting_on,omitempty"`
	Count     uint64 `json:"count"`
	// Query selects the group's runs (a batch's -q).
	Query string `json:"query"`
	// Action is the operator catalog action that fits, "" when the cure
	// is outside Foreman (start a worker); Command is its CLI line over
	// Query; Hint says what to do in words.
	Action  string   `json:"action,omitempty"`
	Command string   `json:"command,omitempty"`
	Hint    string   `json:"hint"`
	Sample  []string `json:"sample,omitempty"` // a few workflow ids
}

// Diagnosis is every group, largest cause first within the cause order.
type Diagnosis struct {
	At          time.Time `json:"at"`
	After       string    `json:"after"`
	PersonAfter string    `json:"person_after"`
	Total       uint64    `json:"total"`
	Groups      []Group   `json:"groups"`
	// Scanned is how many quiet runs were read one by one; Partial says
	// there were more (their causes are not counted).
	Scanned int  `json:"scanned"`
	Partial bool `json:"partial,omitempty"`
}

// Source is what the diagnosis reads.
type Source struct {
	Search func(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error)
	Count  func(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error)
	// Queues is the engine's queue health (pulse); nil or failing: no
	// no_worker group.
	Queues func(ctx context.Context) ([]searchapi.QueueHealth, error)
}

// Options tune a diagnosis.
type Options struct {
	// After is how long a run goes without a history event before it is
	// stuck (default 10m, as :stuck); PersonAfter how long an approval may
	// wait before its run counts (default After).
	After, PersonAfter time.Duration
	// Scope narrows every group to runs matching this query too.
	Scope string
	// Scan bounds the quiet runs read one by one (default 2000).
	Scan int
	Now  func() time.Time
}

// DefaultAfter is the console's :stuck threshold.
const DefaultAfter = 10 * time.Minute

// QuietQuery is every running run without a history event for after
// (imported copies aside: nobody runs them). The time is relative, so the
// index evaluates it at each search.
func QuietQuery(after time.Duration) string {
	return "status:running -imported:true last_event_time:<now-" + Compact(after)
}

// Query is the :stuck view: quiet runs, those waiting on a person aside.
func Query(after time.Duration) string {
	return QuietQuery(after) + " -waiting_on:approval"
}

// PersonQuery is running runs whose oldest pending approval waits longer
// than after.
func PersonQuery(after time.Duration) string {
	return "status:running -imported:true waiting_on:approval approval_since:<now-" + Compact(after)
}

// Pause's fields (PAUSE-CONTRACT.md).
const (
	deadLetterQuery = "status:running -imported:true dead_lettered:true"
	pausedQuery     = "status:running -imported:true paused:true -dead_lettered:true"
)

// Compact writes d as the query language's relative times want it.
func Compact(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%ds", max(int(d/time.Second), 1))
}

// Quote writes s as a query value.
func Quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Diagnose groups the stuck runs src holds.
func Diagnose(ctx context.Context, src Source, o Options) (Diagnosis, error) {
	if o.After <= 0 {
		o.After = DefaultAfter
	}
	if o.PersonAfter <= 0 {
		o.PersonAfter = o.After
	}
	if o.Scan <= 0 {
		o.Scan = 2000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	scope := func(q string) string {
		if strings.TrimSpace(o.Scope) == "" {
			return q
		}
		return q + " (" + o.Scope + ")"
	}
	d := Diagnosis{At: o.Now(), After: Compact(o.After), PersonAfter: Compact(o.PersonAfter)}
	b := builder{by: map[string]*Group{}, scope: scope}

	// Causes the index answers by itself, counted whole.
	if err := b.counted(ctx, src, DeadLettered, scope(deadLetterQuery), "pending_activities"); err != nil {
		return d, err
	}
	if err := b.counted(ctx, src, Paused, scope(pausedQuery), ""); err != nil {
		return d, err
	}
	if err := b.counted(ctx, src, OnPerson, scope(PersonQuery(o.PersonAfter)), "approvals"); err != nil {
		return d, err
	}

	// The rest, run by run.
	var queues map[string]searchapi.QueueHealth
	if src.Queues != nil {
		if qs, err := src.Queues(ctx); err == nil {
			queues = map[string]searchapi.QueueHealth{}
			for _, q := range qs {
				queues[q.Queue] = q
			}
		}
	}
	quiet := scope(Query(o.After))
	req := searchapi.SearchRequest{Query: quiet, Size: 500, Sort: []string{"last_event_time"}}
	for d.Scanned < o.Scan {
		req.Size = min(500, o.Scan-d.Scanned)
		res, err := src.Search(ctx, req)
		if err != nil {
			return d, fmt.Errorf("diagnosing stuck runs (%s): %w", quiet, err)
		}
		for i := range res.Hits {
			b.classify(&res.Hits[i], quiet, queues)
		}
		d.Scanned += len(res.Hits)
		if len(res.Next) == 0 || len(res.Hits) == 0 {
			break
		}
		req.After = res.Next
		d.Partial = d.Scanned >= o.Scan
	}
	d.Groups = b.sorted()
	for _, g := range d.Groups {
		d.Total += g.Count
	}
	return d, nil
}

type builder struct {
	by    map[string]*Group
	order []string
	scope func(string) string
	// orphans are the queues of no_worker groups: the later causes' queries
	// leave them out, so that no run is in two groups' batches.
	orphans []string
}

// counted adds the groups of one index query, split by a keyword field
// (by "" is one group). A field the index does not have yet (pause's, on
// an engine without them) is no group rather than an error.
func (b *builder) counted(ctx context.Context, src Source, c Cause, q, by string) error {
	res, err := src.Count(ctx, searchapi.CountRequest{Query: q, GroupBy: by})
	var api *searchapi.APIError
	if errors.As(err, &api) && api.Code == searchapi.CodeBadQuery && strings.Contains(api.Message, "unknown field") {
		return nil
	}
	if err != nil {
		return fmt.Errorf("counting %s runs (%s): %w", c, q, err)
	}
	if by == "" || len(res.Groups) == 0 {
		if res.Total > 0 {
			b.add(Group{Cause: c, Query: q}, res.Total)
		}
		return nil
	}
	for _, g := range res.Groups {
		gr := Group{Cause: c, Query: q + " " + by + ":" + Quote(g.Value)}
		switch c {
		case DeadLettered:
			gr.Activity = g.Value
		case OnPerson:
			gr.Approval = g.Value
		}
		b.add(gr, g.Count)
	}
	return nil
}

// classify files one quiet run under its cause.
func (b *builder) classify(d *searchapi.Doc, quiet string, queues map[string]searchapi.QueueHealth) {
	g := Group{Cause: NoProgress, Waiting: d.WaitingOn}
	switch {
	case d.WaitingOn == "approval" || d.WaitingOn == "paused":
		return // counted from the index (OnPerson, Paused, DeadLettered)
	case d.WaitingOn == "task_failure" && d.LastFailure != nil && d.LastFailure.Type == engine.CodeNonDeterminism:
		g = Group{Cause: NonDeterminism, Query: quiet + " waiting_on:task_failure error_types:" + Quote(engine.CodeNonDeterminism)}
	case d.WaitingOn == "task_failure":
		g = Group{Cause: TaskFailing, Query: quiet + " waiting_on:task_failure -error_types:" + Quote(engine.CodeNonDeterminism)}
		if d.LastFailure != nil {
			g.ErrorType = d.LastFailure.Type
		}
	case noWorker(d, queues):
		g = Group{Cause: NoWorker, Queue: d.TaskQueue, Query: quiet + " -waiting_on:task_failure task_queue:" + Quote(d.TaskQueue)}
		b.orphans = append(b.orphans, d.TaskQueue)
	case d.WaitingOn == "retry":
		g = Group{Cause: Retrying}
		for _, p := range d.PendingActivities {
			if p.LastFailure != nil {
				g.Activity, g.ErrorType = p.ActivityType, p.LastFailure.Type
				break
			}
		}
		// last_error_type, not error_types: a run that once failed with
		// this error and now fails with another belongs to the other group.
		g.Query = quiet + " waiting_on:retry pending_activities:" + Quote(g.Activity)
		if g.ErrorType != "" {
			g.Query += " last_error_type:" + Quote(g.ErrorType)
		}
	case d.WaitingOn == "":
		g.Query = quiet + " -waiting_on:*"
	default:
		g.Query = quiet + " waiting_on:" + Quote(d.WaitingOn)
	}
	b.add(g, 1, d.WorkflowID)
}

// noWorker: the run's queue is known to the engine and nothing polls the
// work the run waits on there.
func noWorker(d *searchapi.Doc, queues map[string]searchapi.QueueHealth) bool {
	if queues == nil {
		return false
	}
	q, known := queues[d.TaskQueue]
	if !known || q.WorkflowPollers == 0 {
		// A queue the engine never saw a worker of is one nobody polls.
		return true
	}
	if d.WaitingOn == "activity" || d.WaitingOn == "retry" {
		for _, p := range d.PendingActivities {
			if a, ok := queues[p.TaskQueue]; p.TaskQueue != "" && (!ok || a.ActivityPollers == 0) {
				return true
			}
		}
	}
	return false
}

func (b *builder) add(g Group, n uint64, sample ...string) {
	key := strings.Join([]string{string(g.Cause), g.Activity, g.ErrorType, g.Queue, g.Approval, g.Waiting, g.Query}, "\x00")
	have, ok := b.by[key]
	if !ok {
		have = &g
		b.by[key] = have
		b.order = append(b.order, key)
	}
	have.Count += n
	if len(have.Sample) < 3 {
		have.Sample = append(have.Sample, sample...)
	}
}

func (b *builder) sorted() []Group {
	out := make([]Group, 0, len(b.by))
	for _, k := range b.order {
		g := *b.by[k]
		if g.Cause == Retrying || g.Cause == NoProgress {
			for _, q := range slices.Compact(slices.Sorted(slices.Values(b.orphans))) {
				g.Query += " -task_queue:" + Quote(q)
			}
		}
		finish(&g)
		out = append(out, g)
	}
	rank := map[Cause]int{}
	for i, c := range causeOrder {
		rank[c] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Cause != out[j].Cause {
			return rank[out[i].Cause] < rank[out[j].Cause]
		}
		return out[i].Count > out[j].Count
	})
	return out
}

// finish writes a group's title, action, command and hint.
func finish(g *Group) {
	q := shellQuote(g.Query)
	switch g.Cause {
	case NonDeterminism:
		g.Title = "workflow task failing: non-determinism"
		g.Action, g.Command = ActReset, "foreman reset -q "+q+" --to last-good --reason 'after the fixed worker is deployed'"
		g.Hint = "deploy a worker whose code replays the history (or a GetVersion branch), then reset to the last good task"
	case TaskFailing:
		g.Title = "workflow task failing"
		if g.ErrorType != "" {
			g.Title += ": " + g.ErrorType
		}
		g.Action, g.Command = ActReset, "foreman reset -q "+q+" --to last-good --reason 'after the fix is deployed'"
		g.Hint = "the workflow code fails on every attempt; fix and deploy it, it retries by itself, or reset"
	case DeadLettered:
		g.Title = "dead-lettered"
		if g.Activity != "" {
			g.Title += ": activity " + g.Activity + " ran out of retries"
		}
		g.Action, g.Command = ActActivityRetry, "foreman activity retry -q "+q+activityFlag(g.Activity)
		g.Hint = "fix what the activity calls, then retry it (or reset the run)"
	case Paused:
		g.Title = "paused by an operator"
		g.Action, g.Command = ActUnpause, "foreman unpause -q "+q
		g.Hint = "unpause when the reason for the pause is gone"
	case NoWorker:
		g.Title = "no worker polls queue " + g.Queue
		g.Hint = "start a worker for queue " + g.Queue + " (foreman queues lists the workers)"
	case Retrying:
		g.Title = "activity " + g.Activity + " retrying"
		if g.ErrorType != "" {
			g.Title += " with " + g.ErrorType
		}
		g.Action, g.Command = ActActivityRetry, "foreman activity retry -q "+q+activityFlag(g.Activity)
		g.Hint = "fix the cause, then retry now instead of waiting for the backoff"
	case OnPerson:
		g.Title = "waiting on a person"
		if g.Approval != "" {
			g.Title += ": approval " + g.Approval
		}
		g.Action, g.Command = ActApprove, "foreman approve -q "+q
		if g.Approval != "" {
			g.Command += " " + shellQuote(g.Approval)
		}
		g.Command += " --comment '…'"
		g.Hint = "the approvers have not decided (:approvals)"
	default:
		g.Title = "no progress"
		if g.Waiting != "" {
			g.Title += ", waiting on " + g.Waiting
		}
		g.Hint = "the run waits for something outside Foreman (a signal, a long timer, a slow activity)"
	}
}

func activityFlag(a string) string {
	if a == "" {
		return ""
	}
	return " --activity " + shellQuote(a)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
