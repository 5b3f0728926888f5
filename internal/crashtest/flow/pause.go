package flow

import "github.com/foremanhq/foreman/engine"

// PauseSignal is the signal PauseFlow waits for after its timer.
const PauseSignal = "go"

// PauseFlow sleeps TimerDuration, waits for PauseSignal, runs Prepare on
// the signal's payload and returns its result: the pause crash test
// pauses it, lets the timer fall due and the signal arrive while the host
// is killed and restarted, and checks both took effect once on resume.
func PauseFlow(ctx engine.Context, in CrashInput) (string, error) {
	if err := engine.Sleep(ctx, TimerDuration); err != nil {
		return "", err
	}
	var payload string
	engine.GetSignalChannel(ctx, PauseSignal).Receive(ctx, &payload)
	var out string
	err := engine.ExecuteActivity(ctx, Prepare, StepInput{ID: in.ID, Step: 1, Prev: payload}).Get(ctx, &out)
	return out, err
}
