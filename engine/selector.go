package engine

// Selector waits for the first of several channels and futures, like a
// select statement; when several are ready the first added wins, so replay
// picks the same one.
type Selector interface {
	AddReceive(c Channel, fn func(c Channel, more bool)) Selector
	AddFuture(f Future, fn func(f Future)) Selector
	AddDefault(fn func()) Selector
	// Select blocks until one case is ready and runs its function.
	Select(ctx Context)
	// HasPending tells whether a case is ready now.
	HasPending() bool
}

type selectCase struct {
	ch     *channelImpl
	recvFn func(Channel, bool)
	fut    Future
	futFn  func(Future)
	used   bool // futures fire once per selector
}

type selectorImpl struct {
	cases     []*selectCase
	defaultFn func()
}

// NewSelector returns an empty selector.
func NewSelector(ctx Context) Selector { return &selectorImpl{} }

func (s *selectorImpl) AddReceive(c Channel, fn func(Channel, bool)) Selector {
	s.cases = append(s.cases, &selectCase{ch: c.(*channelImpl), recvFn: fn})
	return s
}

func (s *selectorImpl) AddFuture(f Future, fn func(Future)) Selector {
	s.cases = append(s.cases, &selectCase{fut: f, futFn: fn})
	return s
}

func (s *selectorImpl) AddDefault(fn func()) Selector {
	s.defaultFn = fn
	return s
}

func (s *selectorImpl) readyCase() *selectCase {
	for _, c := range s.cases {
		if c.ch != nil && c.ch.ready() {
			return c
		}
		if c.fut != nil && !c.used && c.fut.IsReady() {
			return c
		}
	}
	return nil
}

func (s *selectorImpl) HasPending() bool { return s.readyCase() != nil }

func (s *selectorImpl) Select(ctx Context) {
	wc := mustCtx(ctx)
	if s.readyCase() == nil && s.defaultFn != nil {
		s.defaultFn()
		return
	}
	var c *selectCase
	wc.block(func() string { return "select" }, func() bool { c = s.readyCase(); return c != nil })
	if c.ch != nil {
		if c.recvFn != nil {
			c.recvFn(c.ch, !(c.ch.closed && len(c.ch.buf) == 0))
		} else {
			c.ch.take(nil)
		}
		return
	}
	c.used = true
	if c.futFn != nil {
		c.futFn(c.fut)
	}
}
