package engine

import "time"

// Hooks for the external tests (package engine_test).

// TakeS2S returns the schedule-to-start histograms a worker would announce
// next (latency.Hist.Sparse: bucket, count pairs), and starts them over.
func TakeS2S(w *Worker) (activity, workflow []uint64) { return w.ann.takeS2S() }

// SetLocalHotMax sets how long a wait for a run taken by a worker of its
// process goes without the shared reader (client_results.go), until
// restore is called.
func SetLocalHotMax(d time.Duration) (restore func()) {
	old := localHotMax
	localHotMax = d
	return func() { localHotMax = old }
}

// SetChainWait sets how long a workflow task waits for the attempts it
// chains (worker_chain.go), and its whole chain four times that, until
// restore is called.
func SetChainWait(d time.Duration) (restore func()) {
	oldWait, oldBudget := chainWait, chainBudget
	chainWait, chainBudget = d, 4*d
	return func() { chainWait, chainBudget = oldWait, oldBudget }
}
