package engine

import (
	"fmt"
	"runtime/debug"
)

// A coroutine is a goroutine that runs only while the scheduler waits for it:
// control passes back and forth over two channels, so at most one coroutine
// of a workflow runs at a time and the order of everything the code does is
// fixed by the scheduler, live and on replay.
type coroutine struct {
	name     string
	resumeCh chan bool // true: unwind and exit
	yieldCh  chan struct{}

	started   bool
	done      bool
	progress  bool   // made progress since last resumed
	blockedOn string // what it waits for, for __stack
	panicVal  any    // a panic in workflow code, with its stack
	panicStk  string
}

// errKilled unwinds a coroutine whose workflow state is being discarded.
type errKilled struct{}

// newCoroutine starts fn's coroutine on pool's goroutines (nil: a new
// one): a reused goroutine keeps the stack a workflow's code grew, where
// a new one per coroutine copied its stack as it grew, a few times a run.
func newCoroutine(name string, fn func(), pool *goPool) *coroutine {
	co := &coroutine{name: name, resumeCh: make(chan bool), yieldCh: make(chan struct{}), progress: true}
	run := func(body func()) { go body() }
	if pool != nil {
		run = pool.Go
	}
	run(func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(errKilled); !ok {
					co.panicVal = r
					co.panicStk = string(debug.Stack())
				}
			}
			co.done = true
			co.yieldCh <- struct{}{}
		}()
		if kill := <-co.resumeCh; kill {
			panic(errKilled{})
		}
		fn()
	})
	return co
}

// resume runs the coroutine until it blocks or ends.
func (co *coroutine) resume() {
	first := !co.started
	co.started = true
	co.progress = false
	co.resumeCh <- false
	<-co.yieldCh
	if first {
		co.progress = true
	}
}

// kill unwinds a blocked coroutine's goroutine.
func (co *coroutine) kill() {
	if co.done {
		return
	}
	co.started = true
	co.resumeCh <- true
	<-co.yieldCh
}

// wait blocks the coroutine until ready() holds, describing what it waits
// for. It must be called from the coroutine itself.
func (co *coroutine) wait(desc func() string, ready func() bool) {
	for !ready() {
		co.blockedOn = desc()
		co.yieldCh <- struct{}{}
		if kill := <-co.resumeCh; kill {
			panic(errKilled{})
		}
	}
	co.blockedOn = ""
	co.progress = true
}

// scheduler runs a workflow's coroutines in a fixed order until none of
// them can make progress.
type scheduler struct {
	coroutines []*coroutine
	seq        int
	goroutines *goPool // where coroutines run (a worker's; nil: new goroutines)
}

func (s *scheduler) spawn(name string, fn func()) *coroutine {
	s.seq++
	if name == "" {
		name = fmt.Sprintf("coroutine-%d", s.seq)
	}
	co := newCoroutine(name, fn, s.goroutines)
	s.coroutines = append(s.coroutines, co)
	return co
}

// run resumes coroutines round by round until a round makes no progress.
// It returns the first panic raised by workflow code, if any.
func (s *scheduler) run() (panicVal any, stack string) {
	for {
		progressed := false
		for i := 0; i < len(s.coroutines); i++ { // coroutines spawned now run this round
			co := s.coroutines[i]
			if co.done {
				continue
			}
			co.resume()
			if co.panicVal != nil {
				return co.panicVal, co.panicStk
			}
			if co.progress || co.done {
				progressed = true
			}
		}
		live := s.coroutines[:0]
		for _, co := range s.coroutines {
			if !co.done {
				live = append(live, co)
			}
		}
		s.coroutines = live
		if !progressed {
			return nil, ""
		}
	}
}

// close unwinds every coroutine still blocked.
func (s *scheduler) close() {
	for _, co := range s.coroutines {
		co.kill()
	}
	s.coroutines = nil
}

// stack describes what each live coroutine waits for.
func (s *scheduler) stack() []CoroutineState {
	out := make([]CoroutineState, 0, len(s.coroutines))
	for _, co := range s.coroutines {
		if !co.done {
			out = append(out, CoroutineState{Name: co.name, BlockedOn: co.blockedOn})
		}
	}
	return out
}

// CoroutineState is one line of the __stack query.
type CoroutineState struct {
	Name      string `json:"name"`
	BlockedOn string `json:"blocked_on"`
}
