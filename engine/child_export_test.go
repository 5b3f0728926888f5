package engine

// SetChildStartHook makes fn run between a child's run record and its
// parent's notice (an error stands for a crash there); nil removes it.
func SetChildStartHook(fn func(runID string) error) { testHookChildStart = fn }
