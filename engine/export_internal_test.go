package engine

// Hooks for the external tests (package engine_test).

// TakeS2S returns the schedule-to-start histograms a worker would announce
// next (latency.Hist.Sparse: bucket, count pairs), and starts them over.
func TakeS2S(w *Worker) (activity, workflow []uint64) { return w.ann.takeS2S() }
