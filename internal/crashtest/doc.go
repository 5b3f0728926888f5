// Package crashtest holds the crash test of issue #2: a real process that
// hosts the embedded JetStream server, the engine services and a worker
// (internal/crashhost) is killed with SIGKILL at several moments while
// hundreds of flow.CrashFlow runs are in flight, restarted on the same data
// directory each time, and every run must still complete exactly as if
// nothing had happened. Run it with
//
//	go test -v -run TestCrashRecovery ./internal/crashtest
//
// It is skipped under -short. TestCrashSoak, opt-in, kills the host at
// random points instead (FOREMAN_CRASH_SOAK=40 sets the most kills).
package crashtest
