package engine

import (
	"container/list"
	"sync"
)

// runCache keeps the live state of recently active runs so that a workflow
// task does not replay the whole history. A state is taken out while a task
// uses it, so evicting (which kills its coroutines) never races with use.
type runCache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recent; values are *cacheEntry
	byRun map[string]*list.Element
}

type cacheEntry struct {
	runID string
	env   *workflowEnv
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, order: list.New(), byRun: map[string]*list.Element{}}
}

// take removes and returns the cached state of a run.
func (c *runCache) take(runID string) *workflowEnv {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byRun[runID]
	if !ok {
		return nil
	}
	c.order.Remove(el)
	delete(c.byRun, runID)
	return el.Value.(*cacheEntry).env
}

// put caches a run's state, evicting the least recently used beyond max.
func (c *runCache) put(runID string, env *workflowEnv) {
	if c.max <= 0 || env.closed {
		env.close()
		return
	}
	c.mu.Lock()
	var evicted []*workflowEnv
	if el, ok := c.byRun[runID]; ok { // should not happen: states are taken while used
		evicted = append(evicted, el.Value.(*cacheEntry).env)
		c.order.Remove(el)
	}
	c.byRun[runID] = c.order.PushFront(&cacheEntry{runID: runID, env: env})
	for c.order.Len() > c.max {
		el := c.order.Back()
		c.order.Remove(el)
		e := el.Value.(*cacheEntry)
		delete(c.byRun, e.runID)
		evicted = append(evicted, e.env)
	}
	c.mu.Unlock()
	for _, e := range evicted {
		e.close()
	}
}

// has tells whether a run's state is cached (and not taken by a task).
func (c *runCache) has(runID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.byRun[runID]
	return ok
}

func (c *runCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// closeAll empties the cache.
func (c *runCache) closeAll() {
	c.mu.Lock()
	var all []*workflowEnv
	for _, el := range c.byRun {
		all = append(all, el.Value.(*cacheEntry).env)
	}
	c.byRun = map[string]*list.Element{}
	c.order.Init()
	c.mu.Unlock()
	for _, e := range all {
		e.close()
	}
}

// runLocks serializes the tasks and queries of one run inside a worker.
type runLocks struct {
	mu    sync.Mutex
	locks map[string]*runLock
}

type runLock struct {
	mu   sync.Mutex
	refs int
}

func (l *runLocks) lock(runID string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*runLock{}
	}
	rl := l.locks[runID]
	if rl == nil {
		rl = &runLock{}
		l.locks[runID] = rl
	}
	rl.refs++
	l.mu.Unlock()
	rl.mu.Lock()
	return func() {
		rl.mu.Unlock()
		l.mu.Lock()
		rl.refs--
		if rl.refs == 0 {
			delete(l.locks, runID)
		}
		l.mu.Unlock()
	}
}
