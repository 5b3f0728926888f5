// Package enginetest tests workflows on the real engine with a clock the
// test controls.
//
// New starts an environment: an embedded JetStream server storing in the
// test's temporary directory, the engine's services (dispatcher, timer
// service) and a worker, all reading time from a test clock that starts at
// DefaultStart. Register workflows and activities (OnActivity replaces
// one), start a run, and wait for its result: whenever nothing is in
// flight, the clock jumps to the next timer, retry or timeout, so a
// 72-hour approval timeout or a month-long sleep takes milliseconds and
// lands at exactly its time in history.
//
//	env := enginetest.New(t)
//	env.RegisterWorkflow(ExpenseApproval)
//	env.RegisterActivity(PayExpense)
//	var res ExpenseResult
//	err := env.ExecuteWorkflow(ExpenseApproval, in, &res)
//
// Advance moves time by a given amount, AfterFunc acts (signals, decides an
// approval) at a chosen workflow time, WaitIdle waits for the engine to
// settle, RecordHistory writes a run's history for engine.WorkflowReplayer.
// Store returns the environment's store for workers of other task queues:
// they share the test clock.
package enginetest
