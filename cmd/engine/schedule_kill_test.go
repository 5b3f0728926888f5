package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/internal/syncbuf"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// Schedules firing every second, while the engine is killed with -9 at
// random moments and restarted, then while a second engine on the same
// NATS fires them too (and is itself killed and restarted): every fire
// from each schedule's creation to its pause started exactly one run —
// none missing, none twice — and each schedule counted each once.
func TestScheduleFiresOnceThroughKill9AndTwoEngines(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the engine binary")
	}
	dir, bin := buildEngine(t)
	addr := "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))
	dataA := filepath.Join(dir, "a")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a := startEngine(t, bin, dataA, addr)
	st := connectStore(t, ctx, addr)
	c := engine.NewClient(st, engine.ClientOptions{Identity: "killtest"})
	const n = 8
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("k%d", i)
		sch := engine.Schedule{ID: ids[i], Overlap: engine.OverlapAllowAll, CatchupWindow: engine.Duration(3 * time.Minute),
			Spec:   engine.ScheduleSpec{Intervals: []engine.ScheduleInterval{{Every: engine.Duration(time.Second)}}},
			Action: engine.ScheduleAction{WorkflowType: "Nothing", TaskQueue: "nobody-polls"}}
		for { // the engine serves actions once it is up
			err := c.Schedules().Create(ctx, sch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("create %s: %v\n%s", sch.ID, err, a.logs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Phase 1: kill -9 the only engine (and its embedded NATS) three times.
	for range 3 {
		time.Sleep(time.Duration(800+rand.IntN(1500)) * time.Millisecond)
		kill9(t, a)
		a = startEngine(t, bin, dataA, addr)
		st = connectStore(t, ctx, addr)
		c = engine.NewClient(st, engine.ClientOptions{Identity: "killtest"})
	}
	// Phase 2: a second engine on the same NATS, sharing the signing key.
	dataB := filepath.Join(dir, "b")
	if err := os.MkdirAll(filepath.Join(dataB, "auth"), 0o700); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(dataA, "auth", "engine-sign.nk"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataB, "auth", "engine-sign.nk"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	creds := localCredsOf(t, addr)
	b := startSecondEngine(t, bin, dataB, addr, creds)
	time.Sleep(3 * time.Second)
	kill9(t, b)
	b = startSecondEngine(t, bin, dataB, addr, creds)
	time.Sleep(4 * time.Second)

	for _, id := range ids {
		if err := c.Schedules().Pause(ctx, id, "test over"); err != nil {
			t.Fatalf("pause %s: %v\nA:\n%s\nB:\n%s", id, err, a.logs, b.logs)
		}
	}
	time.Sleep(3 * time.Second) // a fire decided before the pause is carried out
	total := 0
	for _, id := range ids {
		d, err := c.Schedules().Describe(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Pending) > 0 {
			t.Fatalf("%s still has steps to carry out: %v", id, d.Pending)
		}
		want := map[string]bool{}
		for at := d.CreatedAt.Truncate(time.Second).Add(time.Second); !at.After(d.LastFire); at = at.Add(time.Second) {
			if !at.After(d.CreatedAt) {
				continue
			}
			want[id+"-"+at.UTC().Format(engine.FireTimeFormat)] = true
		}
		got := map[string]bool{}
		err = st.ListRuns(ctx, func(wf string, rec engine.RunRecord) error {
			if strings.HasPrefix(wf, id+"-") {
				got[wf] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for wf := range want {
			if !got[wf] {
				t.Errorf("%s: the fire %s started no run", id, wf)
			}
		}
		for wf := range got {
			if !want[wf] {
				t.Errorf("%s: run %s is no fire of the schedule", id, wf)
			}
		}
		if d.Missed != 0 || d.Actions != int64(len(want)) {
			t.Errorf("%s: %d fires, %d runs, counted %d started and %d missed", id, len(want), len(got), d.Actions, d.Missed)
		}
		total += len(want)
	}
	if total < n*10 {
		t.Fatalf("only %d fires in all: the test did not run long enough to mean anything", total)
	}
	t.Logf("%d fires across %d schedules, each started once", total, n)
}

// kill9 kills the engine at once, as a crash would.
func kill9(t *testing.T, p *engineProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

// localCredsOf is the admin credentials the engine at addr left for local
// clients.
func localCredsOf(t *testing.T, addr string) string {
	t.Helper()
	path, err := jetstream.LocalCredsPath("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// startSecondEngine runs an engine on the NATS of another one (--nats).
func startSecondEngine(t *testing.T, bin, data, addr, creds string) *engineProc {
	t.Helper()
	p := &engineProc{logs: &syncbuf.Buffer{}}
	p.cmd = exec.Command(bin, "--nats", "nats://"+addr, "--creds", creds, "--replicas", "1", "--data", data, "--log-level", "warn")
	p.cmd.Env = append(os.Environ(), "FOREMAN_NATS=")
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	return p
}
