package engine

import (
	"sync"
	"time"
)

// goPool runs functions on goroutines that stay a while for the next one.
// A goroutine per task starts with a small stack and grows it by copying
// as the task goes deep (decoding, the workflow's code, a publish): the
// copies were ~7 % of a worker's CPU and ~3 % of the engine's under load.
// Reused goroutines keep their grown stacks between tasks.
type goPool struct {
	work chan func()
	quit chan struct{}
	once sync.Once
}

// goPoolIdle is how long an idle goroutine waits for another task.
const goPoolIdle = 10 * time.Second

func newGoPool() *goPool {
	return &goPool{work: make(chan func()), quit: make(chan struct{})}
}

// Go runs fn on an idle goroutine of the pool, or a new one.
func (p *goPool) Go(fn func()) {
	select {
	case p.work <- fn:
	default:
		go p.loop(fn)
	}
}

func (p *goPool) loop(fn func()) {
	idle := time.NewTimer(goPoolIdle)
	defer idle.Stop()
	for {
		fn()
		fn = nil // not kept alive while idle
		idle.Reset(goPoolIdle)
		select {
		case fn = <-p.work:
		case <-idle.C:
			return
		case <-p.quit:
			return
		}
	}
}

// close lets idle goroutines end at once (running ones end after their
// task); Go still works, on goroutines that end after their task.
func (p *goPool) close() { p.once.Do(func() { close(p.quit) }) }
