package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/compensations"
	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

type started struct {
	WorkflowID  string          `json:"workflow_id"`
	RunID       string          `json:"run_id"`
	Status      string          `json:"status"`
	CloseStatus string          `json:"close_status"`
	Result      json.RawMessage `json:"result"`
	Failure     *engine.Failure `json:"failure"`
}

type itemLine struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	Action     string `json:"action"`
	Result     string `json:"result"`
	Reason     string `json:"reason"`
	Detail     string `json:"detail"`
}

// startOrder starts an OrderFulfillment through the CLI as identity.
func startOrder(t *testing.T, e *engineProc, identity, id string, amount float64, extra ...string) started {
	t.Helper()
	in, _ := json.Marshal(map[string]any{"order_id": id, "amount": amount})
	args := append([]string{"start", "OrderFulfillment", "--queue", "orders", "--id", id, "--input", string(in), "-o", "json"}, extra...)
	return jsonOut[started](t, e.ok(t, identity, args...))
}

func startGate(t *testing.T, e *engineProc, id string) started {
	t.Helper()
	return jsonOut[started](t, e.ok(t, "ops", "start", "Gate", "--queue", testQueue, "--id", id, "--input", `{"ticket":"`+id+`"}`, "-o", "json"))
}

func TestStartShowHistory(t *testing.T) {
	e := sharedEngine(t)
	s := startOrder(t, e, "carol", "cli-order-show", 5000)
	if s.WorkflowID != "cli-order-show" || s.RunID == "" {
		t.Fatalf("start printed %+v", s)
	}
	e.waitApproval(t, s.WorkflowID, "manager")

	x := jsonOut[engine.Execution](t, e.ok(t, "auditor", "show", s.WorkflowID, "-o", "json"))
	if x.RunID != s.RunID || x.Status != engine.StatusRunning || x.TaskQueue != "orders" || len(x.Approvals) != 1 || x.StatusLine != "waiting for manager approval" {
		t.Fatalf("show -o json = %+v", x)
	}
	// the raw JSON uses the documented field names
	raw := e.ok(t, "auditor", "show", s.WorkflowID, "-o", "json").stdout
	for _, f := range []string{`"workflow_id"`, `"run_id"`, `"task_queue"`, `"start_time"`, `"status_line"`, `"pending_approvals"`, `"history_length"`, `"status": "running"`} {
		if !strings.Contains(raw, f) {
			t.Errorf("show -o json lacks %s:\n%s", f, raw)
		}
	}
	table := e.ok(t, "auditor", "show", s.WorkflowID).stdout
	for _, want := range []string{"cli-order-show", "waiting for manager approval", "Pending approvals:", "manager"} {
		if !strings.Contains(table, want) {
			t.Errorf("show table lacks %q:\n%s", want, table)
		}
	}
	// history says who started it
	h := e.historyOf(t, s.WorkflowID)
	if st := eventsOf[engine.WorkflowStarted](h); len(st) != 1 || st[0].Identity != "carol" {
		t.Fatalf("WorkflowStarted = %+v, want identity carol", st)
	}
	jl := jsonLines[engine.Event](t, e.ok(t, "auditor", "history", s.WorkflowID, "-o", "jsonl").stdout)
	if len(jl) != len(h) || jl[0].Type != engine.EventWorkflowStarted {
		t.Fatalf("history -o jsonl: %d events, json: %d", len(jl), len(h))
	}
	if out := e.ok(t, "auditor", "history", s.WorkflowID).stdout; !strings.Contains(out, "ApprovalRequested") || !strings.Contains(out, "identity=carol") {
		t.Fatalf("history table:\n%s", out)
	}

	e.fails(t, "auditor", 3, `workflow not found: "no-such-order"`, "show", "no-such-order")
	e.fails(t, "auditor", 3, "workflow not found", "history", "no-such-order")
	e.fails(t, "auditor", 2, "show needs a WORKFLOW_ID", "show")
	e.fails(t, "auditor", 2, `-o "yaml": want table, json or jsonl`, "show", s.WorkflowID, "-o", "yaml")
}

func TestApproveAndReject(t *testing.T) {
	e := sharedEngine(t)
	a := startOrder(t, e, "ops", "cli-order-approve", 5000)
	r := startOrder(t, e, "ops", "cli-order-reject", 7000)
	e.waitApproval(t, a.WorkflowID, "manager")
	e.waitApproval(t, r.WorkflowID, "manager")

	// read-only refuses before anything is written
	e.fails(t, "ann", 4, "--read-only is set", "approve", a.WorkflowID, "--read-only")
	if d := eventsOf[engine.ApprovalDecided](e.historyOf(t, a.WorkflowID)); len(d) != 0 {
		t.Fatalf("a read-only approve was recorded: %+v", d)
	}
	// no APPROVAL: the only pending one
	if r := e.ok(t, "ann", "approve", a.WorkflowID); !strings.Contains(r.stdout, "approved manager") || !strings.Contains(r.stdout, a.RunID) {
		t.Fatalf("approve printed %s", r)
	}
	// an unknown id, an unknown approval, a decided approval
	e.fails(t, "ann", 3, "workflow not found", "approve", "no-such-order")
	e.fails(t, "ann", 4, `no such pending approval: "cli-order-reject" has no pending approval "cfo"`, "approve", r.WorkflowID, "cfo")
	e.fails(t, "ann", 4, "", "approve", a.WorkflowID) // decided: no pending approval, or closed once shipped

	out := jsonOut[itemLine](t, e.ok(t, "bob", "reject", r.WorkflowID, "manager", "--comment", "too expensive", "-o", "json"))
	if out.Result != "ok" || out.Action != "reject" || out.RunID != r.RunID {
		t.Fatalf("reject -o json = %+v", out)
	}
	// It completed with the verdict after undoing its steps: compensated.
	x := e.waitStatus(t, r.WorkflowID, engine.StatusCompensated)
	if string(x.Result) != `"order cli-order-reject rejected by bob"` || x.CloseStatus != engine.StatusCompleted {
		t.Fatalf("rejected order result %s", x.Result)
	}
	e.fails(t, "bob", 4, "run is closed", "reject", r.WorkflowID, "manager")

	// history shows who decided what
	for id, want := range map[string]engine.ApprovalDecided{
		a.WorkflowID: {Name: "manager", Approved: true, By: "ann"},
		r.WorkflowID: {Name: "manager", Approved: false, By: "bob", Comment: "too expensive"},
	} {
		d := eventsOf[engine.ApprovalDecided](e.historyOf(t, id))
		if len(d) != 1 || d[0].Name != want.Name || d[0].Approved != want.Approved || d[0].By != want.By || d[0].Comment != want.Comment {
			t.Errorf("%s decisions = %+v, want one like %+v", id, d, want)
		}
	}
}

func TestApproverRestriction(t *testing.T) {
	e := sharedEngine(t)
	g := startGate(t, e, "cli-gate-approver")
	e.waitApproval(t, g.WorkflowID, "release")
	e.fails(t, "mallory", 4, `not an allowed approver: "mallory" may not decide approval "release"`, "approve", g.WorkflowID, "release")
	e.fails(t, "mallory", 4, "not an allowed approver", "reject", g.WorkflowID)
	e.ok(t, "alice", "approve", g.WorkflowID, "release")
	d := eventsOf[engine.ApprovalDecided](e.historyOf(t, g.WorkflowID))
	if len(d) != 1 || d[0].By != "alice" {
		t.Fatalf("decisions = %+v, want alice's alone", d)
	}
}

func TestSignalQueryStack(t *testing.T) {
	e := sharedEngine(t)
	g := startGate(t, e, "cli-gate-signal")
	e.waitApproval(t, g.WorkflowID, "release")

	// query with JSON arguments, and the built-in stack
	q := e.ok(t, "ops", "query", g.WorkflowID, "state", "--input", `"ticket "`, "-o", "jsonl")
	if strings.TrimSpace(q.stdout) != `"ticket cli-gate-signal: waiting for release approval"` {
		t.Fatalf("query state = %s", q)
	}
	st := jsonOut[[]engine.CoroutineState](t, e.ok(t, "ops", "stack", g.WorkflowID, "-o", "json"))
	if len(st) == 0 || st[0].Name != "main" || !strings.Contains(st[0].BlockedOn, "approval release") {
		t.Fatalf("stack = %+v", st)
	}
	if out := e.ok(t, "ops", "stack", g.WorkflowID).stdout; !strings.Contains(out, "BLOCKED ON") || !strings.Contains(out, "approval release") {
		t.Fatalf("stack table:\n%s", out)
	}
	e.fails(t, "ops", 3, `no query handler "nope"`, "query", g.WorkflowID, "nope")
	e.fails(t, "ops", 3, "workflow not found", "query", "no-such-gate", "state")
	e.fails(t, "ops", 2, "--input: malformed JSON (inline) at line 1, column 5", "query", g.WorkflowID, "state", "--input", `"a" x`)

	e.ok(t, "alice", "approve", g.WorkflowID)
	// malformed JSON is a usage error naming the position; nothing is sent
	e.fails(t, "ops", 2, "at line 2, column 11", "signal", g.WorkflowID, "finish", "--input", "{\n  \"note\": oops}")
	e.fails(t, "ops", 2, "empty JSON", "signal", g.WorkflowID, "finish", "--input", "  ")
	e.fails(t, "ops", 2, "file /nonexistent/payload.json does not exist", "signal", g.WorkflowID, "finish", "--input", "@/nonexistent/payload.json")
	e.fails(t, "ops", 3, "workflow not found", "signal", "no-such-gate", "finish")
	e.fails(t, "ops", 2, "signal needs the signal NAME", "signal", g.WorkflowID)
	if s := eventsOf[engine.SignalReceived](e.historyOf(t, g.WorkflowID)); len(s) != 0 {
		t.Fatalf("refused signals reached history: %+v", s)
	}

	// payload from a file and from standard input
	file := filepath.Join(t.TempDir(), "note.json")
	if err := os.WriteFile(file, []byte(`{"note": "from a file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	other := startGate(t, e, "cli-gate-signal-2")
	e.waitApproval(t, other.WorkflowID, "release")
	e.ok(t, "alice", "approve", other.WorkflowID)
	e.ok(t, "dave", "signal", other.WorkflowID, "finish", "--input", "@"+file)
	if r := e.fm(t, "erin", strings.NewReader(`{"note":"from stdin"}`), "signal", g.WorkflowID, "finish", "--input", "-"); r.code != 0 {
		t.Fatalf("signal from stdin: %s", r)
	}
	x := e.waitStatus(t, g.WorkflowID, engine.StatusCompleted)
	if string(x.Result) != `"cli-gate-signal finished: from stdin"` {
		t.Fatalf("result %s", x.Result)
	}
	if x := e.waitStatus(t, other.WorkflowID, engine.StatusCompleted); string(x.Result) != `"cli-gate-signal-2 finished: from a file"` {
		t.Fatalf("result %s", x.Result)
	}
	sigs := eventsOf[engine.SignalReceived](e.historyOf(t, g.WorkflowID))
	if len(sigs) != 1 || sigs[0].Identity != "erin" || sigs[0].Name != "finish" || compact(sigs[0].Payload) != `{"note":"from stdin"}` {
		t.Fatalf("signals = %s", jsonString(sigs))
	}
	e.fails(t, "ops", 4, "run is closed", "signal", g.WorkflowID, "finish")
	if r := e.ok(t, "ops", "stack", g.WorkflowID); !strings.Contains(r.stderr, "no coroutine is live") {
		t.Fatalf("stack of a closed run: %s", r)
	}
}

func TestCancelAndTerminate(t *testing.T) {
	e := sharedEngine(t)
	c := startGate(t, e, "cli-gate-cancel")
	k := startGate(t, e, "cli-gate-terminate")
	e.waitApproval(t, c.WorkflowID, "release")
	e.waitApproval(t, k.WorkflowID, "release")

	e.ok(t, "frank", "cancel", c.WorkflowID, "--reason", "customer changed their mind")
	e.waitStatus(t, c.WorkflowID, engine.StatusCanceled)
	cr := eventsOf[engine.WorkflowCancelRequested](e.historyOf(t, c.WorkflowID))
	if len(cr) != 1 || cr[0].Identity != "frank" || cr[0].Reason != "customer changed their mind" {
		t.Fatalf("cancel requests = %+v", cr)
	}
	e.fails(t, "frank", 4, "run is closed", "cancel", c.WorkflowID)
	e.fails(t, "frank", 3, "workflow not found", "cancel", "no-such-gate")

	// terminate is destructive: refused without --yes when stdin is no terminal
	e.fails(t, "grace", 4, "pass --yes to confirm", "terminate", k.WorkflowID, "--reason", "stuck")
	e.fails(t, "grace", 2, "terminate needs --reason", "terminate", k.WorkflowID, "--yes")
	e.fails(t, "grace", 4, "--read-only is set", "terminate", k.WorkflowID, "--reason", "stuck", "--yes", "--read-only")
	if x := e.describe(t, k.WorkflowID); x.Status != engine.StatusRunning {
		t.Fatalf("refused terminations closed the run: %s", x.Status)
	}
	e.ok(t, "grace", "terminate", k.WorkflowID, "--reason", "stuck on a bad release", "--yes")
	x := e.describe(t, k.WorkflowID)
	if x.Status != engine.StatusTerminated {
		t.Fatalf("status after terminate: %s", x.Status)
	}
	tr := eventsOf[engine.WorkflowTerminated](e.historyOf(t, k.WorkflowID))
	if len(tr) != 1 || tr[0].Identity != "grace" || tr[0].Reason != "stuck on a bad release" {
		t.Fatalf("terminations = %+v", tr)
	}
	e.fails(t, "grace", 4, "run is closed", "terminate", k.WorkflowID, "--reason", "again", "--yes")
	e.fails(t, "grace", 3, "workflow not found", "terminate", "no-such-gate", "--reason", "x", "--yes")
}

func TestReset(t *testing.T) {
	e := sharedEngine(t)
	in := `{"order_id":"cli-order-reset","amount":10,"fail_at":"charge"}`
	s := jsonOut[started](t, e.ok(t, "ops", "start", "OrderFulfillment", "--queue", "orders", "--id", "cli-order-reset", "--input", in, "-o", "json"))
	e.waitClosed(t, s.WorkflowID) // failed, then compensated (the example registers compensations)

	e.fails(t, "heidi", 4, "pass --yes to confirm", "reset", s.WorkflowID, "--to", "first")
	e.fails(t, "heidi", 2, `--to "zero"`, "reset", s.WorkflowID, "--to", "zero", "--yes")
	e.fails(t, "heidi", 2, "not a reset point", "reset", s.WorkflowID, "--to", "9999", "--yes")
	e.fails(t, "heidi", 3, "workflow not found", "reset", "no-such-order", "--yes")
	e.fails(t, "heidi", 4, "--read-only is set", "reset", s.WorkflowID, "--yes", "--read-only")

	// a dry run needs no --yes, works read-only, and changes nothing
	dry := jsonOut[engine.ResetResult](t, e.ok(t, "heidi", "reset", s.WorkflowID, "--to", "first", "--dry-run", "--read-only", "-o", "json"))
	if !dry.DryRun || dry.NewRunID != "" || dry.ResetEventID < 1 || len(dry.Dropped) == 0 {
		t.Fatalf("dry run = %+v", dry)
	}
	if x := e.describe(t, s.WorkflowID); x.RunID != s.RunID || x.Status == engine.StatusRunning || x.Status == engine.StatusReset {
		t.Fatalf("dry run changed the run: %+v", x)
	}
	if out := e.ok(t, "heidi", "reset", s.WorkflowID, "--to", "first", "--dry-run").stdout; !strings.Contains(out, "Dry run") || !strings.Contains(out, "Dropped:") {
		t.Fatalf("dry run table:\n%s", out)
	}

	res := jsonOut[engine.ResetResult](t, e.ok(t, "heidi", "reset", s.WorkflowID, "--to", "first", "--reason", "card fixed", "--yes", "-o", "json"))
	if res.NewRunID == "" || res.OldRunID != s.RunID || len(res.Kept) != len(dry.Kept) || len(res.Dropped) != len(dry.Dropped) {
		t.Fatalf("reset = kept %d dropped %d new %q; dry run kept %d dropped %d", len(res.Kept), len(res.Dropped), res.NewRunID, len(dry.Kept), len(dry.Dropped))
	}
	old := e.historyOf(t, s.WorkflowID, "--run", s.RunID)
	rs := eventsOf[engine.WorkflowReset](old)
	if len(rs) != 1 || rs[0].Identity != "heidi" || rs[0].Reason != "card fixed" || rs[0].NewRunID != res.NewRunID {
		t.Fatalf("reset events on the old run = %+v", rs)
	}
	waitFor(t, "the new run to be current", 10e9, func() (bool, string) {
		x := e.describe(t, s.WorkflowID)
		return x.RunID == res.NewRunID, x.RunID
	})
	e.fails(t, "heidi", 4, "run is closed", "reset", s.WorkflowID, "--run", s.RunID, "--yes")
}

func TestStartWait(t *testing.T) {
	e := sharedEngine(t)
	s := startOrder(t, e, "ivan", "cli-order-wait", 10, "--wait")
	if s.Status != "completed" || string(s.Result) != `"TRK-cli-order-wait"` {
		t.Fatalf("start --wait = %+v", s)
	}
	f := e.fm(t, "ivan", nil, "start", "OrderFulfillment", "--queue", "orders", "--id", "cli-order-wait-fail", "--wait", "-o", "json",
		"--input", `{"order_id":"x","amount":1,"fail_at":"charge"}`)
	if f.code != 1 || !strings.Contains(f.stderr, "card declined") {
		t.Fatalf("start --wait of a failing order: %s", f)
	}
	// A saga that failed and undid its steps: the word list and show use.
	if out := jsonOut[started](t, f); out.Status != "compensated" || out.CloseStatus != "failed" || out.Failure == nil {
		t.Fatalf("failed run printed %+v", out)
	}
	g := startGate(t, e, "cli-gate-twice")
	e.fails(t, "ivan", 4, "workflow already started", "start", "Gate", "--queue", testQueue, "--id", g.WorkflowID)
	e.fails(t, "ivan", 2, "start needs --queue", "start", "Gate")
	// checked whole before anything is written: usage errors, and the id stays free
	e.fails(t, "ivan", 2, "over the 1000-byte limit", "start", "Gate", "--queue", testQueue, "--id", strings.Repeat("x", 1001))
	e.fails(t, "ivan", 2, `task queue "or.ders": only letters, digits`, "start", "Gate", "--queue", "or.ders", "--id", "cli-bad-queue")
	e.fails(t, "ivan", 3, "workflow not found", "show", "cli-bad-queue")
	e.fails(t, "ivan", 2, "malformed JSON", "start", "Gate", "--queue", testQueue, "--input", "{")
	e.fails(t, "ivan", 4, "--read-only is set", "start", "Gate", "--queue", testQueue, "--read-only")
}

func TestHistoryFollow(t *testing.T) {
	e := sharedEngine(t)
	g := startGate(t, e, "cli-gate-follow")
	done := make(chan result, 1)
	go func() { done <- e.fm(t, "watcher", nil, "history", g.WorkflowID, "--follow", "-o", "jsonl") }()
	e.waitApproval(t, g.WorkflowID, "release")
	e.ok(t, "alice", "approve", g.WorkflowID)
	e.ok(t, "ops", "signal", g.WorkflowID, "finish", "--input", `{"note":"followed"}`)
	r := <-done
	if r.code != 0 {
		t.Fatalf("history --follow: %s", r)
	}
	events := jsonLines[engine.Event](t, r.stdout)
	last := events[len(events)-1]
	if len(eventsOf[engine.ApprovalDecided](events)) != 1 || len(eventsOf[engine.SignalReceived](events)) != 1 ||
		(last.Type != engine.EventWorkflowCompleted && last.Type != engine.EventWorkflowTaskCompleted) {
		t.Fatalf("followed %d events, last %s", len(events), last.Type)
	}
	for i, ev := range events {
		if ev.ID != int64(i+1) {
			t.Fatalf("event %d has id %d: follow skipped or repeated events", i, ev.ID)
		}
	}
}

func TestUsageAndHelp(t *testing.T) {
	e := sharedEngine(t)
	bare := e.ok(t, "ops")
	if !strings.Contains(bare.stdout, "Usage: foreman") || !strings.Contains(bare.stdout, "Exit codes") {
		t.Fatalf("bare foreman with stdout not a terminal must print help: %s", bare)
	}
	if h := e.ok(t, "ops", "help", "approve"); !strings.Contains(h.stdout, "--comment") || !strings.Contains(h.stdout, "-q, --query") {
		t.Fatalf("help approve: %s", h)
	}
	if h := e.ok(t, "ops", "signal", "-h"); !strings.Contains(h.stdout, "Usage: foreman signal") {
		t.Fatalf("signal -h: %s", h)
	}
	e.fails(t, "ops", 2, `unknown command "frobnicate"`, "frobnicate")
	e.fails(t, "ops", 2, "flag provided but not defined: -frob", "show", "x", "--frob")
	e.fails(t, "ops", 1, "is foreman-engine running?", "show", "x", "--nats", "nats://127.0.0.1:1")
	// a run whose queue has no worker cannot answer a query: exit 5
	s := jsonOut[started](t, e.ok(t, "ops", "start", "Nothing", "--queue", "nobody-home", "-o", "json"))
	e.fails(t, "ops", 5, "no worker answered", "query", s.WorkflowID, "anything", "--timeout", "1s")
	// views: a write in read-only, unknown name
	e.ok(t, "ops", "views", "save", "big orders", "Amount:>1000")
	if v := e.ok(t, "ops", "views", "-o", "json"); !strings.Contains(v.stdout, `"query": "Amount:\u003e1000"`) && !strings.Contains(v.stdout, `Amount:>1000`) {
		t.Fatalf("views: %s", v)
	}
	e.fails(t, "ops", 4, "--read-only", "views", "save", "x", "y", "--read-only")
	e.fails(t, "ops", 3, "not found", "views", "delete", "no such view")
	e.ok(t, "ops", "views", "delete", "big orders")
}

func TestCompensate(t *testing.T) {
	e := sharedEngine(t)
	s := startOrder(t, e, "ops", "cli-order-compensate", 5000)
	e.waitApproval(t, s.WorkflowID, "manager")

	e.fails(t, "kim", 4, "pass --yes to confirm", "compensate", s.WorkflowID)
	e.fails(t, "kim", 4, "--read-only is set", "compensate", s.WorkflowID, "--yes", "--read-only")
	e.fails(t, "kim", 3, "workflow not found", "compensate", "no-such-order", "--yes")
	e.fails(t, "kim", 3, "has no compensation run", "compensate", s.WorkflowID, "--retry", "--yes")

	dry := jsonOut[compensations.Plan](t, e.ok(t, "kim", "compensate", s.WorkflowID, "--dry-run", "-o", "json"))
	if len(dry.Steps) != 2 || dry.Steps[0].Activity != "RefundPayment" || dry.Steps[1].Activity != "ReleaseInventory" ||
		dry.Steps[0].Status != compensations.StepPending || dry.Compensated {
		t.Fatalf("dry run plan (newest first) = %s", jsonString(dry))
	}
	if x := e.describe(t, s.WorkflowID); x.Status != engine.StatusRunning {
		t.Fatalf("a dry run changed the run: %s", x.Status)
	}
	if out := e.ok(t, "kim", "show", s.WorkflowID).stdout; !strings.Contains(out, "Compensation plan of cli-order-compensate") || !strings.Contains(out, "RefundPayment") {
		t.Fatalf("show lacks the compensation plan:\n%s", out)
	}

	p := jsonOut[compensations.Plan](t, e.ok(t, "kim", "compensate", s.WorkflowID, "--yes", "--wait", "--timeout", "20s", "--reason", "customer cancelled", "-o", "json"))
	// (the steps' own statuses are not asserted: PlanOf stops merging the
	// compensation run's outcomes once RunCompensated is recorded)
	if !p.Compensated || p.Via != compensations.CompensatorID(s.RunID) || len(p.Steps) != 2 {
		t.Fatalf("compensate --wait = %s", jsonString(p))
	}
	if x := e.describe(t, s.WorkflowID); x.Status != engine.StatusCompensated {
		t.Fatalf("status after compensate: %s", x.Status)
	}
	// who did it: the running order was terminated by kim, and kim started the compensation
	tr := eventsOf[engine.WorkflowTerminated](e.historyOf(t, s.WorkflowID))
	if len(tr) != 1 || tr[0].Identity != "kim" || !strings.Contains(tr[0].Reason, "customer cancelled") {
		t.Fatalf("terminations = %s", jsonString(tr))
	}
	st := eventsOf[engine.WorkflowStarted](e.historyOf(t, p.Via))
	if len(st) != 1 || st[0].Identity != "kim" {
		t.Fatalf("compensation run started by %s", jsonString(st))
	}
	e.fails(t, "kim", 4, "nothing to compensate", "compensate", s.WorkflowID, "--yes")
}

func TestListAndCount(t *testing.T) {
	e := sharedEngine(t)
	for _, id := range []string{"cli-list-a", "cli-list-b", "cli-list-c"} {
		startGate(t, e, id)
		e.waitApproval(t, id, "release")
	}
	e.ok(t, "alice", "approve", "cli-list-b") // now waits on its finish signal
	q := "workflow_id:cli-list-*"
	waitFor(t, "the index to see the three runs as they are", 20*time.Second, func() (bool, string) {
		r := e.fm(t, "ops", nil, "count", q, "--group-by", "waiting_on", "-o", "json")
		c := jsonOut[searchapi.CountResult](t, r)
		return c.Total == 3 && len(c.Groups) == 2 && c.Groups[0] == searchapi.Group{Value: "approval", Count: 2} &&
			c.Groups[1] == searchapi.Group{Value: "signal", Count: 1}, r.stdout
	})

	docs := jsonOut[[]searchapi.Doc](t, e.ok(t, "ops", "list", q, "--sort", "workflow_id", "-o", "json"))
	if len(docs) != 3 || docs[0].WorkflowID != "cli-list-a" || docs[2].WorkflowID != "cli-list-c" || docs[0].Type != "Gate" ||
		docs[0].Status != engine.StatusRunning || docs[1].WaitingOn != "signal" {
		t.Fatalf("list -o json = %s", jsonString(docs))
	}
	lim := e.ok(t, "ops", "list", "-q", q, "--limit", "2", "-o", "jsonl")
	if n := len(jsonLines[searchapi.Doc](t, lim.stdout)); n != 2 || !strings.Contains(lim.stderr, "2 of 3 matches shown") {
		t.Fatalf("list --limit 2: %d rows, %s", n, lim)
	}
	// --all pages with the search-after cursor (the batch test crosses pages)
	all := e.ok(t, "ops", "list", q, "--all", "--sort", "-workflow_id", "-o", "jsonl")
	if got := jsonLines[searchapi.Doc](t, all.stdout); len(got) != 3 || got[0].WorkflowID != "cli-list-c" {
		t.Fatalf("list --all: %s", all)
	}
	table := e.ok(t, "ops", "list", q).stdout
	for _, want := range []string{"WORKFLOW ID", "cli-list-b", "Gate", "running", "signal"} {
		if !strings.Contains(table, want) {
			t.Errorf("list table lacks %q:\n%s", want, table)
		}
	}
	// the Temporal dialect counts the same runs
	if out := e.ok(t, "ops", "count", "WorkflowId STARTS_WITH 'cli-list-' AND ExecutionStatus = 'Running'").stdout; strings.TrimSpace(out) != "3" {
		t.Fatalf("count in the Temporal dialect = %q", out)
	}
	r := e.fails(t, "ops", 2, "malformed query", "list", "stauts:running")
	if !strings.Contains(r.stderr, "stauts:running\n  ^") {
		t.Fatalf("the error does not point at the bad field:\n%s", r.stderr)
	}
	e.fails(t, "ops", 2, "either as an argument or with -q", "list", q, "-q", q)
}
