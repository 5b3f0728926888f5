package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
)

var showCommand = &command{
	name: "show", args: "WORKFLOW_ID", group: groupInspect,
	summary: "summary: status, input, result or failure, pending work",
	flags:   func(fs *flag.FlagSet, o *opts) { defineRun(fs, o) },
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		t, err := oneTarget("show", args, o)
		if err != nil {
			return err
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		events, err := c.History(ctx, t.WorkflowID, t.RunID)
		if err != nil {
			return err
		}
		sx := shown{Execution: engine.Summarize(events), ResetAt: resetTime(events)}
		sx.Waiting = noWorkerReason(ctx, a, sx.Execution)
		if p := compensations.PlanFromHistory(events); len(p.Steps) > 0 {
			// with the progress of an operator-started compensation, if any
			if full, err := compensations.PlanOf(ctx, c, t.WorkflowID, sx.RunID); err == nil {
				p = full
			}
			sx.CompensationPlan = &p
		}
		if a.out.format != formatTable {
			return a.out.value(sx)
		}
		if err := printExecution(a.io.out, sx); err != nil {
			return err
		}
		if sx.CompensationPlan != nil {
			fmt.Fprintln(a.io.out)
			return printPlan(a.io.out, *sx.CompensationPlan)
		}
		return nil
	},
}

// shown is what show prints: the run's summary and its compensation plan.
type shown struct {
	*engine.Execution
	CompensationPlan *compensations.Plan `json:"compensation_plan,omitempty"`
	// ResetAt is when a reset created this run: its history (and
	// start_time) begins with the replayed events of the run it replaced.
	ResetAt *time.Time `json:"reset_at,omitempty"`
	// Waiting says what the run waits for that nothing will give: "no
	// worker polling queue X" when no announced worker polls it.
	Waiting string `json:"waiting,omitempty"`
}

// resetTime is when the run was made by a reset (its ResetApplied
// event), or nil.
func resetTime(events []engine.Event) *time.Time {
	for _, e := range events {
		if _, ok := e.Attrs.(*engine.ResetApplied); ok {
			t := e.Time
			return &t
		}
	}
	return nil
}

// oneTarget reads the WORKFLOW_ID argument of a command that takes nothing else.
func oneTarget(cmd string, args []string, o *opts) (target, error) {
	switch len(args) {
	case 0:
		return target{}, usagef("%s needs a WORKFLOW_ID", cmd)
	case 1:
		return target{WorkflowID: args[0], RunID: o.run}, nil
	}
	return target{}, usagef("%s takes one WORKFLOW_ID, got %d arguments %q", cmd, len(args), args)
}

func printExecution(w io.Writer, sx shown) error {
	x := sx.Execution
	t := &table{}
	status := string(x.Status)
	if x.CancelRequested && x.Status == engine.StatusRunning {
		status += " (cancel requested)"
	}
	t.add("Workflow", x.WorkflowID)
	t.add("Run", x.RunID)
	t.add("Type", x.Type)
	t.add("Task queue", x.TaskQueue)
	t.add("Status", status)
	if sx.Waiting != "" {
		t.add("Waiting", sx.Waiting)
	}
	if im := x.Imported; im != nil {
		t.add("Imported", fmt.Sprintf("read-only copy from %s, exported %s, imported by %s", im.Source, when(im.ExportedAt), im.Identity))
	}
	if sx.ResetAt != nil {
		// A reset run started when the reset made it; the start its
		// replayed history carries is the replaced run's.
		t.add("Started", when(*sx.ResetAt)+" (reset from run "+x.ResetFrom+", whose history it replays from "+when(x.StartTime)+")")
	} else {
		t.add("Started", when(x.StartTime))
	}
	if x.StartedBy != "" {
		t.add("Started by", x.StartedBy)
	}
	if !x.CloseTime.IsZero() {
		t.add("Closed", when(x.CloseTime)+" (after "+x.CloseTime.Sub(x.StartTime).Round(1e6).String()+")")
	}
	if x.StatusLine != "" {
		t.add("Status line", x.StatusLine)
	}
	if x.Progress != nil {
		t.add("Progress", fmt.Sprintf("%d/%d", x.Progress.Done, x.Progress.Total))
	}
	t.add("Input", clip(compactJSON(x.Input), 200))
	if len(x.Result) > 0 {
		t.add("Result", clip(compactJSON(x.Result), 200))
	}
	if x.Failure != nil {
		t.add("Failure", x.Failure.Error())
	}
	if x.TaskFailure != nil {
		t.add("Stuck", fmt.Sprintf("workflow task failing (attempt %d): [%s] %s", x.TaskFailure.Attempt, x.TaskFailure.Code, x.TaskFailure.Message))
	}
	if x.ContinuedAs != "" {
		t.add("Continued as", x.ContinuedAs)
	}
	parentRow(t, x)
	if len(x.Signals) > 0 {
		t.add("Signals", strings.Join(x.Signals, ", "))
	}
	for _, a := range x.Actions {
		by := a.By
		if a.OnBehalfOf != "" {
			by += " on behalf of " + a.OnBehalfOf
		}
		t.add("Action", a.Action+" by "+by+" "+when(a.At))
	}
	if x.Forgeries > 0 {
		t.add("Ignored", fmt.Sprintf("%d operator events without the engine's signature (forgeries; see foreman audit)", x.Forgeries))
	}
	t.add("History", fmt.Sprintf("%d events", x.HistoryLength))
	if err := t.print(w); err != nil {
		return err
	}
	if err := printChildren(w, x); err != nil {
		return err
	}
	if len(x.Approvals) > 0 {
		fmt.Fprintln(w, "\nPending approvals:")
		at := &table{header: []string{"  NAME", "DESCRIPTION", "APPROVERS", "REQUESTED"}}
		for _, p := range x.Approvals {
			at.add("  "+p.Name, p.Description, strings.Join(p.Approvers, ","), when(p.RequestedAt))
		}
		if err := at.print(w); err != nil {
			return err
		}
	}
	if len(x.Activities) > 0 {
		fmt.Fprintln(w, "\nPending activities:")
		at := &table{header: []string{"  SEQ", "ACTIVITY", "ATTEMPT", "LAST FAILURE", "NEXT ATTEMPT"}}
		for _, p := range x.Activities {
			last := ""
			if p.LastFailure != nil {
				last = clip(p.LastFailure.Error(), 80)
			}
			at.add(fmt.Sprintf("  %d", p.Seq), p.ActivityType, fmt.Sprint(p.Attempt), last, when(p.NextAttempt))
		}
		if err := at.print(w); err != nil {
			return err
		}
	}
	if len(x.Timers) > 0 {
		fmt.Fprintln(w, "\nTimers:")
		tt := &table{header: []string{"  SEQ", "FIRES AT"}}
		for _, p := range x.Timers {
			tt.add(fmt.Sprintf("  %d", p.Seq), when(p.FireAt))
		}
		if err := tt.print(w); err != nil {
			return err
		}
	}
	if len(x.SearchAttributes) > 0 {
		fmt.Fprintln(w, "\nSearch attributes:")
		keys := make([]string, 0, len(x.SearchAttributes))
		for k := range x.SearchAttributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		st := &table{}
		for _, k := range keys {
			v := x.SearchAttributes[k]
			b, _ := json.Marshal(v.Value)
			st.add("  "+k, string(b), string(v.Type))
		}
		if err := st.print(w); err != nil {
			return err
		}
	}
	return nil
}

var historyCommand = &command{
	name: "history", args: "WORKFLOW_ID [--follow]", group: groupInspect,
	summary: "the event history (--type, --failures, --compact filter it); --follow streams it until the run closes",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		fs.BoolVar(&o.follow, "follow", false, "keep printing new events until the run closes (with -o json: one event per line)")
		fs.BoolVar(&o.follow, "f", false, "same as --follow")
		fs.StringVar(&o.types, "type", "", "only these event types: comma-separated parts of names (activity,signal)")
		fs.BoolVar(&o.failures, "failures", false, "only the events that record a failure")
		fs.BoolVar(&o.compact, "compact", false, "fold workflow-task bookkeeping (completed tasks, repeated task failures)")
	},
	streams: func(o *opts) bool { return o.follow },
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		t, err := oneTarget("history", args, o)
		if err != nil {
			return err
		}
		filter, err := historyFilter(o)
		if err != nil {
			return err
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		if o.follow {
			if a.out.format == formatTable {
				printEventHeader(a.io.out)
			}
			return c.FollowHistory(ctx, t.WorkflowID, t.RunID, func(e engine.Event) error {
				if len(filter.Select([]engine.Event{e})) == 0 {
					return nil
				}
				if a.out.format == formatTable {
					return printEvent(a.io.out, e)
				}
				b, err := json.Marshal(e)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.io.out, "%s\n", b)
				return err
			})
		}
		all, err := c.History(ctx, t.WorkflowID, t.RunID)
		if err != nil {
			return err
		}
		events := make([]engine.Event, 0, len(all))
		for _, i := range filter.Select(all) {
			events = append(events, all[i])
		}
		if a.out.format != formatTable {
			return list(a.out, events)
		}
		printEventHeader(a.io.out)
		for _, e := range events {
			if err := printEvent(a.io.out, e); err != nil {
				return err
			}
		}
		return nil
	},
}

// historyFilter reads --type, --failures and --compact.
func historyFilter(o *opts) (engine.HistoryFilter, error) {
	f := engine.HistoryFilter{Failures: o.failures, Compact: o.compact}
	if o.types != "" {
		ts, err := engine.ParseEventTypes(o.types)
		if err != nil {
			return f, usagef("--type: %v", err)
		}
		f.Types = ts
	}
	return f, nil
}

// Event lines have fixed widths so --follow can print them as they come.
func printEventHeader(w io.Writer) {
	fmt.Fprintf(w, "%5s  %-19s  %-26s  %s\n", "ID", "TIME", "TYPE", "DETAILS")
}

func printEvent(w io.Writer, e engine.Event) error {
	_, err := fmt.Fprintf(w, "%5d  %-19s  %-26s  %s\n", e.ID, when(e.Time), e.Type, clip(eventDetail(e), 160))
	return err
}

// eventDetail renders an event's attributes as key=value pairs (identity
// and by included: who did what is the point of a history).
// Durations read in human units (timeout=9m0s), not nanoseconds.
func eventDetail(e engine.Event) string {
	fields, ok := humanFields(e.Attrs)
	if !ok {
		raw, err := json.Marshal(e.Attrs)
		if err != nil {
			return ""
		}
		return cell(string(raw))
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v, err := json.Marshal(fields[k])
		if err != nil {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil && !strings.ContainsAny(s, " \t\n\"=") && s != "" {
			parts = append(parts, k+"="+s)
			continue
		}
		var b bytes.Buffer
		if json.Compact(&b, v) != nil {
			b.Reset()
			b.Write(v)
		}
		parts = append(parts, k+"="+b.String())
	}
	return cell(strings.Join(parts, " "))
}

var stackCommand = &command{
	name: "stack", args: "WORKFLOW_ID", group: groupInspect,
	summary: "what each coroutine waits on (the __stack query)",
	flags:   func(fs *flag.FlagSet, o *opts) { defineRun(fs, o) },
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		t, err := oneTarget("stack", args, o)
		if err != nil {
			return err
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		raw, err := c.Query(ctx, t.WorkflowID, t.RunID, engine.QueryStack, nil)
		if err != nil {
			return err
		}
		var stack []engine.CoroutineState
		if err := json.Unmarshal(raw, &stack); err != nil {
			return fmt.Errorf("stack of %s: unexpected answer %s: %w", t, clip(string(raw), 80), err)
		}
		if len(stack) == 0 {
			a.infof("no coroutine is live in %s: the run has closed", t)
		}
		if a.out.format != formatTable {
			return list(a.out, stack)
		}
		st := &table{header: []string{"COROUTINE", "BLOCKED ON"}}
		for _, s := range stack {
			st.add(s.Name, s.BlockedOn)
		}
		return st.print(a.io.out)
	},
}

var queryCommand = &command{
	name: "query", args: "WORKFLOW_ID NAME [--input JSON]", group: groupInspect,
	summary: "run a query handler and print its JSON answer",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineRun(fs, o)
		defineInput(fs, o, "the query's arguments")
	},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) != 2 {
			return usagef("query needs WORKFLOW_ID and the query NAME, got %q", args)
		}
		var qargs any
		if o.input != "" {
			raw, err := readJSON("--input", o.input, a.io.in)
			if err != nil {
				return err
			}
			qargs = raw
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		raw, err := c.Query(ctx, args[0], o.run, args[1], qargs)
		if err != nil {
			return err
		}
		return printRawJSON(a, raw)
	},
}

// printRawJSON prints a JSON answer: indented for table and json, one line
// for jsonl.
func printRawJSON(a *app, raw json.RawMessage) error {
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	var b bytes.Buffer
	var err error
	if a.out.format == formatJSONL {
		err = json.Compact(&b, raw)
	} else {
		err = json.Indent(&b, raw, "", "  ")
	}
	if err != nil {
		b.Reset()
		b.Write(raw)
	}
	_, err = fmt.Fprintf(a.io.out, "%s\n", b.Bytes())
	return err
}
