package crashtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestCrashSoak is an opt-in, randomized companion of TestCrashRecovery:
// it kills the host after a random number (1 to 120) of new history batches,
// again and again until every run has completed or FOREMAN_CRASH_SOAK kills
// were made, staying down until every started timer is due on every fifth
// kill. Run it with
//
//	FOREMAN_CRASH_SOAK=40 go test -run TestCrashSoak -count=5 -v ./internal/crashtest
func TestCrashSoak(t *testing.T) {
	maxKills, _ := strconv.Atoi(os.Getenv("FOREMAN_CRASH_SOAK"))
	if maxKills <= 0 || testing.Short() {
		t.Skip("set FOREMAN_CRASH_SOAK to the most kills to make")
	}
	r := newRig(t)
	ids := runNames(numRuns)
	st := startRuns(t.Context(), r.c, ids)
	for len(r.kills) < maxKills {
		p, _ := r.obs.snapshot()
		n := 1 + rand.IntN(120)
		target := p.batches + n
		p = waitFor(t, r.h, r.obs, fmt.Sprintf("%d more history batches", n), 60*time.Second, func(p progress) bool {
			return p.batches >= target || p.completed >= numRuns
		})
		if p.completed >= numRuns {
			break
		}
		k := r.kill(fmt.Sprintf("after %d batches", n), p.String())
		if len(r.kills)%5 == 0 {
			time.Sleep(time.Until(p.latestFireAt.Add(300 * time.Millisecond))) // deliberate: timers fall due while down
		}
		r.restart(k)
	}
	select {
	case <-st.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("starts not done: %d/%d acknowledged", st.acked.Load(), numRuns)
	}
	if err := st.err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r.h, r.obs, "every run completed", finalTimeout, func(p progress) bool { return p.completed >= numRuns })
	_, au := verifyRuns(t, r.c, ids)
	r.checkLiveView(numRuns)
	r.logHostErrors()
	t.Logf("soak: %d runs, %d kills, %d history batches audited, %s in all", numRuns, len(r.kills), au.batches, time.Since(r.began).Round(time.Millisecond))
}
