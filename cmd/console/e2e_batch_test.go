package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/examples"
	"github.com/foremanhq/foreman/jetstream"
)

// A batch approve over 500 waiting orders is killed (SIGKILL) midway and
// resumed with the same batch id: every order ends with exactly one
// approval, by the batch's identity, and every order has a result line.
func TestBatchApproveKilledAndResumed(t *testing.T) {
	e := startEngine(t)
	const n = 500
	runs := startWaitingOrders(t, e, n)
	query := "type:OrderFulfillment waiting_on:approval"
	waitFor(t, "the index to see 500 orders waiting", 60*time.Second, func() (bool, string) {
		r := e.fm(t, "boss", nil, "count", query)
		return strings.TrimSpace(r.stdout) == "500", r.String()
	})

	dry := jsonOut[struct {
		Count  int `json:"count"`
		Sample []struct {
			WorkflowID string `json:"workflow_id"`
		} `json:"sample"`
	}](t, e.ok(t, "boss", "approve", "-q", query, "--dry-run", "-o", "json"))
	if dry.Count != n || len(dry.Sample) != 10 {
		t.Fatalf("dry run: count %d, sample %d", dry.Count, len(dry.Sample))
	}
	e.fails(t, "boss", 4, "pass --yes to confirm", "approve", "-q", query)
	e.fails(t, "boss", 4, "--read-only is set", "approve", "-q", query, "--yes", "--read-only")

	const batchID = "b-e2e-approve"
	args := []string{"approve", "-q", query, "--yes", "--rate", "150", "--batch-id", batchID, "--comment", "bulk", "-o", "jsonl"}
	first := startForeman(t, e, "boss", args...)
	first.waitLines(t, 40)
	// while it runs, the same batch cannot run twice
	e.fails(t, "boss", 4, "batch is running in another process", args...)
	// nor can its id be reused for something else
	e.fails(t, "boss", 2, "belongs to another batch", "reject", "-q", query, "--yes", "--batch-id", batchID)
	first.waitLines(t, 150)
	first.kill(t)
	lines1 := jsonLines[itemLine](t, first.stdout())
	t.Logf("first attempt: %d results before SIGKILL", len(lines1))
	okFirst := map[string]bool{}
	for _, l := range lines1 {
		okFirst[l.WorkflowID] = true
	}
	for _, l := range lines1 {
		if l.Result != "ok" || l.Action != "approve" || l.Detail != "approved manager" {
			t.Fatalf("first attempt result %+v", l)
		}
	}
	if len(lines1) >= n {
		t.Fatalf("the batch finished before it was killed (%d results)", len(lines1))
	}
	if !strings.Contains(first.stderr(), "batch "+batchID+": approve 500 runs") {
		t.Fatalf("the batch did not announce its id on stderr:\n%s", first.stderr())
	}

	// Make the interruption's worst cases certain, whatever the kill hit:
	// run A was claimed and the process died before acting; run B was
	// claimed, acted on, and the process died before journaling it.
	runA, runB := pickUnhandled(t, e, runs, okFirst)
	simulateInterrupted(t, e, batchID, runs, runA, runB)

	second := e.fm(t, "boss", nil, args...)
	if second.code != 0 {
		var errs []string
		for _, l := range jsonLines[itemLine](t, second.stdout) {
			if l.Result == "error" {
				errs = append(errs, jsonString(l))
			}
		}
		t.Fatalf("resume: exit %d; %d error lines, e.g. %q\nstderr:\n%s", second.code, len(errs), errs[:min(len(errs), 3)], tail(second.stderr, 15))
	}
	if !strings.Contains(second.stderr, "resuming batch "+batchID) || !strings.Contains(second.stderr, "runs in") {
		t.Fatalf("resume stderr:\n%s", second.stderr)
	}
	for _, l := range strings.Split(second.stderr, "\n") {
		if strings.Contains(l, "so far") || strings.Contains(l, "runs in") {
			t.Logf("resume: %s", l)
		}
	}
	lines2 := jsonLines[itemLine](t, second.stdout)
	resumed := map[string]itemLine{}
	for _, l := range lines2 {
		resumed[l.WorkflowID] = l
	}
	if l := resumed[runA]; l.Result != "ok" {
		t.Fatalf("run claimed but never acted on: resume says %+v, want ok", l)
	}
	if l := resumed[runB]; l.Result != "skipped" || !strings.Contains(l.Reason, "confirmed from history") {
		t.Fatalf("run acted on but not journaled: resume says %+v, want skipped (confirmed from history)", l)
	}
	seen := map[string]bool{}
	for _, l := range lines2 {
		if seen[l.WorkflowID] {
			t.Fatalf("run %s reported twice by the resume", l.WorkflowID)
		}
		seen[l.WorkflowID] = true
		switch {
		case l.Result == "ok" && okFirst[l.WorkflowID]:
			t.Fatalf("run %s approved by both attempts", l.WorkflowID)
		case l.Result == "ok":
		case l.Result == "skipped" && (strings.Contains(l.Reason, "already handled by this batch") || strings.Contains(l.Reason, "interrupted attempt")):
			// the index had not yet seen the approval, or an interrupted attempt took effect
		default:
			t.Fatalf("resume result %+v", l)
		}
	}
	// every run is journaled done (a run done just before the kill may have
	// lost its line, and no longer match the query on resume)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := jetstream.OpenBatches(ctx, e.node.Conn, 0)
	if err != nil {
		t.Fatal(err)
	}
	items, err := j.Items(ctx, batchID)
	if err != nil {
		t.Fatal(err)
	}
	done := 0
	for _, it := range items {
		if it.State == jetstream.ItemOK {
			done++
		} else {
			t.Errorf("journal: %s is %s (%s)", it.WorkflowID, it.State, it.Reason)
		}
	}
	if done != n {
		t.Fatalf("journal has %d runs done, want %d", done, n)
	}

	// the histories agree: one decision per order, by the batch's identity
	assertOneApprovalEach(t, e, runs, "boss", "bulk")

	// a third attempt finds everything done and acts on nothing
	third := e.ok(t, "boss", append(args[:len(args):len(args)], "--rate", "0")...)
	for _, l := range jsonLines[itemLine](t, third.stdout) {
		if l.Result != "skipped" {
			t.Fatalf("third attempt acted: %+v", l)
		}
	}
	assertOneApprovalEach(t, e, runs, "boss", "bulk")
}

// pickUnhandled returns two workflow ids the first attempt did not touch
// (not reported, and still waiting: it may have been killed mid-action).
func pickUnhandled(t *testing.T, e *engineProc, runs map[string]string, done map[string]bool) (string, string) {
	t.Helper()
	var free []string
	for id := range runs {
		if !done[id] {
			free = append(free, id)
		}
	}
	sort.Strings(free)
	var picked []string
	for _, id := range free {
		if x := e.describe(t, id); len(x.Approvals) == 1 {
			if picked = append(picked, id); len(picked) == 2 {
				return picked[0], picked[1]
			}
		}
	}
	t.Fatalf("fewer than two runs left untouched by the first attempt")
	return "", ""
}

// simulateInterrupted leaves the journal as a batch killed mid-action
// would: a (unless already claimed) claimed and not acted on; b claimed and
// approved by the batch's identity, the outcome not journaled.
func simulateInterrupted(t *testing.T, e *engineProc, batchID string, runs map[string]string, a, b string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	j, err := jetstream.OpenBatches(ctx, e.node.Conn, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a, b} {
		if _, _, err := j.Claim(ctx, batchID, jetstream.BatchItem{WorkflowID: id, RunID: runs[id]}); err != nil {
			t.Fatal(err)
		}
	}
	// as the batch's principal: the engine records who authenticated
	boss := engine.NewClient(e.dialAs(t, e.asUser(t, "boss")[1]).Store, engine.ClientOptions{Identity: "boss"})
	if err := boss.Decide(ctx, b, runs[b], "manager", true, "bulk"); err != nil {
		t.Fatal(err)
	}
}

// startWaitingOrders starts n large orders and waits until each waits on
// its manager approval. It returns workflow id -> run id.
func startWaitingOrders(t *testing.T, e *engineProc, n int) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runs := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ids := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range ids {
				id := fmt.Sprintf("bulk-%03d", i)
				run, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: examples.OrderQueue}, "OrderFulfillment",
					examples.OrderInput{OrderID: id, Amount: 5000})
				if err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				runs[id] = run.RunID
				mu.Unlock()
			}
		})
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitFor(t, fmt.Sprintf("%d orders waiting on approval", n), 60*time.Second, func() (bool, string) {
		waiting := 0
		forEachRun(runs, func(id, run string) {
			if x, err := e.client.Describe(ctx, id, run); err == nil && len(x.Approvals) == 1 {
				mu.Lock()
				waiting++
				mu.Unlock()
			}
		})
		return waiting == n, fmt.Sprintf("%d waiting", waiting)
	})
	return runs
}

// forEachRun calls fn for every run, 8 at a time.
func forEachRun(runs map[string]string, fn func(id, run string)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for id, run := range runs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(id, run)
		})
	}
	wg.Wait()
}

func assertOneApprovalEach(t *testing.T, e *engineProc, runs map[string]string, by, comment string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var mu sync.Mutex
	var bad []string
	forEachRun(runs, func(id, run string) {
		events, err := e.client.History(ctx, id, run)
		d := eventsOf[engine.ApprovalDecided](events)
		if err != nil || len(d) != 1 || d[0].By != by || d[0].Comment != comment || !d[0].Approved {
			mu.Lock()
			bad = append(bad, fmt.Sprintf("%s: %d decisions %s (%v)", id, len(d), jsonString(d), err))
			mu.Unlock()
		}
	})
	if len(bad) > 0 {
		t.Fatalf("%d runs without exactly one approval by %s, e.g. %s", len(bad), by, bad[0])
	}
}

// bgForeman is a foreman process running in the background.
type bgForeman struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	out, err bytes.Buffer
	lines    int
	done     chan struct{}
}

func startForeman(t *testing.T, e *engineProc, identity string, args ...string) *bgForeman {
	t.Helper()
	b := &bgForeman{done: make(chan struct{})}
	b.cmd = exec.Command(filepath.Join(binDir, "foreman"), append(e.asUser(t, identity), args...)...)
	b.cmd.Env = append(os.Environ(), "FOREMAN_NATS="+e.url, "FOREMAN_IDENTITY="+identity)
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b.cmd.Stderr = &lockedWriter{mu: &b.mu, w: &b.err}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.mu.Lock()
			b.out.Write(sc.Bytes())
			b.out.WriteByte('\n')
			b.lines++
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = b.cmd.Process.Kill(); <-b.done; _ = b.cmd.Wait() })
	return b
}

func (b *bgForeman) waitLines(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d result lines", n), 30*time.Second, func() (bool, string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.lines >= n, fmt.Sprintf("%d lines; stderr: %s", b.lines, b.err.String())
	})
}

// kill sends SIGKILL: no cleanup, no journal update, nothing flushed.
func (b *bgForeman) kill(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-b.done
	_ = b.cmd.Wait()
}

func (b *bgForeman) stdout() string { b.mu.Lock(); defer b.mu.Unlock(); return b.out.String() }
func (b *bgForeman) stderr() string { b.mu.Lock(); defer b.mu.Unlock(); return b.err.String() }

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Batches of the other actions, with per-item errors and skips.
func TestBatchItemResults(t *testing.T) {
	e := sharedEngine(t)
	ids := []string{"cli-batch-1", "cli-batch-2", "cli-batch-3"}
	for _, id := range ids {
		startGate(t, e, id)
		e.waitApproval(t, id, "release")
	}
	q := "workflow_id:cli-batch-* waiting_on:approval"
	waitFor(t, "the index to see three gates waiting", 20*time.Second, func() (bool, string) {
		r := e.fm(t, "ops", nil, "count", q)
		return strings.TrimSpace(r.stdout) == "3", r.String()
	})

	// mallory may not approve: every item is an error with the reason, exit 1
	r := e.fm(t, "mallory", nil, "approve", "-q", q, "release", "--yes", "-o", "jsonl")
	lines := jsonLines[itemLine](t, r.stdout)
	if r.code != 1 || len(lines) != 3 || !strings.Contains(r.stderr, "3 of 3 runs failed") {
		t.Fatalf("batch approve as mallory: %s", r)
	}
	for _, l := range lines {
		if l.Result != "error" || !strings.Contains(l.Reason, "not an allowed approver") {
			t.Fatalf("item %+v", l)
		}
	}
	// alice may; the table shows one line per run
	r = e.ok(t, "alice", "approve", "-q", q, "release", "--yes")
	okLines := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(l, "ok ") && strings.HasSuffix(l, "approved release") {
			okLines++
		}
	}
	if okLines != 3 {
		t.Fatalf("batch approve as alice:\n%s", r)
	}
	for _, id := range ids {
		d := eventsOf[engine.ApprovalDecided](e.historyOf(t, id))
		if len(d) != 1 || d[0].By != "alice" {
			t.Fatalf("%s decisions %s", id, jsonString(d))
		}
	}
	// signal every gate; one was terminated meanwhile: skipped, not an error
	e.ok(t, "ops", "terminate", "cli-batch-3", "--reason", "obsolete", "--yes")
	gates := "workflow_id:cli-batch-*"
	waitFor(t, "the index to see two gates waiting on a signal", 20*time.Second, func() (bool, string) {
		r := e.fm(t, "ops", nil, "count", gates+" waiting_on:signal")
		return strings.TrimSpace(r.stdout) == "2", r.String()
	})
	r = e.ok(t, "ops", "signal", "-q", gates, "finish", "--input", `{"note":"batched"}`, "--yes", "--rate", "0", "-o", "json")
	res := map[string]itemLine{}
	for _, l := range jsonOut[[]itemLine](t, r) {
		res[l.WorkflowID] = l
	}
	if res["cli-batch-1"].Result != "ok" || res["cli-batch-2"].Result != "ok" || res["cli-batch-3"].Result != "skipped" ||
		!strings.Contains(res["cli-batch-3"].Reason, "run is closed") {
		t.Fatalf("batch signal results %s", jsonString(res))
	}
	for _, id := range ids[:2] {
		if x := e.waitStatus(t, id, engine.StatusCompleted); string(x.Result) != `"`+id+` finished: batched"` {
			t.Fatalf("%s result %s", id, x.Result)
		}
	}
	e.fails(t, "ops", 2, "--run names one run", "cancel", "-q", gates, "--run", "x", "--yes")
	e.fails(t, "ops", 2, "malformed query", "cancel", "-q", "stauts:x", "--yes")
}
