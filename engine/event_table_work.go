package engine

import "fmt"

// The registry's entries for activities and timers. See event_spec.go for
// what each entry declares.
func init() {
	register(map[EventType]eventSpec{
		EventActivityScheduled: eventDef[ActivityScheduled]{
			kind: kindCommand,
			replay: func(a *ActivityScheduled) replayKey {
				return replayKey{seq: a.Seq, key: a.ActivityType, label: a.ActivityType}
			},
			derives: deriveWhileOpen,
			derive:  deriveActivityTask,
			pending: pendingOpens,
			workSeq: func(a *ActivityScheduled) int64 { return a.Seq },
			fold: func(x *summary, e Event, a *ActivityScheduled) {
				x.acts[a.Seq] = &PendingActivity{Seq: a.Seq, ActivityType: a.ActivityType, TaskQueue: a.TaskQueue, Attempt: 1, ScheduledAt: e.Time}
			},
			line: func(n *EventNarrator, e Event, a *ActivityScheduled) string {
				n.activities[a.Seq] = activityRef{name: a.ActivityType, at: e.Time}
				return n.withPayload(fmt.Sprintf("%s (seq %d) on %s", a.ActivityType, a.Seq, a.TaskQueue), a.Input)
			},
		},
		EventActivityAttemptFailed: eventDef[ActivityAttemptFailed]{
			kind:     kindFact,
			failure:  true,
			derives:  deriveWhileOpen,
			deriveIf: func(a *ActivityAttemptFailed) bool { return !a.NextAttempt.IsZero() }, // a dead letter retries when an operator says
			derive:   deriveRetry,
			pending:  pendingUpdates,
			workSeq:  func(a *ActivityAttemptFailed) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *ActivityAttemptFailed) {
				if p := x.acts[a.Seq]; p != nil {
					p.Attempt, p.LastFailure, p.NextAttempt = a.Attempt+1, a.Failure, a.NextAttempt
					p.DeadLettered, p.Held = a.DeadLetter, a.DeadLetter
				}
			},
			line: func(n *EventNarrator, e Event, a *ActivityAttemptFailed) string {
				s := fmt.Sprintf("%s attempt %d: %s", n.activities[a.Seq].name, a.Attempt, n.failureText(a.Failure))
				if !a.NextAttempt.IsZero() {
					s += fmt.Sprintf("; retry in %s", n.f.Duration(a.NextAttempt.Sub(e.Time)))
				}
				if a.DeadLetter {
					s += "; attempts exhausted: dead letter, the run pauses"
				}
				return s
			},
		},
		EventActivityCompleted: eventDef[ActivityCompleted]{
			kind:    kindFact,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ActivityCompleted) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *ActivityCompleted) { delete(x.acts, a.Seq) },
			line: func(n *EventNarrator, e Event, a *ActivityCompleted) string {
				ref := n.activities[a.Seq]
				return n.withPayload(fmt.Sprintf("%s took %s (attempt %d)", ref.name, n.f.Duration(e.Time.Sub(ref.at)), a.Attempt), a.Result)
			},
		},
		EventActivityFailed: eventDef[ActivityFailed]{
			kind:    kindFact,
			failure: true,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *ActivityFailed) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *ActivityFailed) { delete(x.acts, a.Seq) },
			line: func(n *EventNarrator, e Event, a *ActivityFailed) string {
				ref := n.activities[a.Seq]
				return fmt.Sprintf("%s failed after %d attempt(s), %s: %s", ref.name, a.Attempt, n.f.Duration(e.Time.Sub(ref.at)), n.failureText(a.Failure))
			},
		},
		EventActivityCancelRequested: eventDef[ActivityCancelRequested]{
			kind:    kindCommand,
			replay:  func(a *ActivityCancelRequested) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveAlways, // a closing run still stops what runs
			derive:  deriveCancelNotice,
			pending: pendingCloses,
			workSeq: func(a *ActivityCancelRequested) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *ActivityCancelRequested) { delete(x.acts, a.Seq) },
			line: func(n *EventNarrator, _ Event, a *ActivityCancelRequested) string {
				return n.activities[a.Seq].name
			},
		},
		EventTimerStarted: eventDef[TimerStarted]{
			kind:    kindCommand,
			replay:  func(a *TimerStarted) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveWhileOpen,
			derive:  deriveTimer,
			pending: pendingOpens,
			workSeq: func(a *TimerStarted) int64 { return a.Seq },
			fold: func(x *summary, _ Event, a *TimerStarted) {
				x.timers[a.Seq] = &PendingTimer{Seq: a.Seq, FireAt: a.FireAt}
			},
			line: func(n *EventNarrator, e Event, a *TimerStarted) string {
				n.timers[a.Seq] = e.Time
				return fmt.Sprintf("%s, fires %s", n.f.Duration(a.Duration), a.FireAt.UTC().Format("15:04:05"))
			},
		},
		EventTimerFired: eventDef[TimerFired]{
			kind:    kindFact,
			derives: deriveNothing, // recorded by the workflow task that handles it
			pending: pendingCloses,
			workSeq: func(a *TimerFired) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *TimerFired) { delete(x.timers, a.Seq) },
			line: func(n *EventNarrator, e Event, a *TimerFired) string {
				return "after " + n.f.Duration(e.Time.Sub(n.timers[a.Seq]))
			},
		},
		EventTimerCanceled: eventDef[TimerCanceled]{
			kind:    kindCommand,
			replay:  func(a *TimerCanceled) replayKey { return replayKey{seq: a.Seq} },
			derives: deriveNothing, // the stored timer fires into a run that ignores it
			pending: pendingCloses,
			workSeq: func(a *TimerCanceled) int64 { return a.Seq },
			fold:    func(x *summary, _ Event, a *TimerCanceled) { delete(x.timers, a.Seq) },
			line:    func(_ *EventNarrator, _ Event, a *TimerCanceled) string { return fmt.Sprintf("timer seq %d", a.Seq) },
		},
	})
}
