package tui

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Model is the console's one tea.Model. Screens (list, detail, approvals,
// ...) and dialogs are plain structs it owns: they render and expose
// methods; only Model.Update changes state, and every I/O happens in a
// tea.Cmd that returns a message.
type Model struct {
	ctx context.Context
	b   Backend
	// acts is every write's way out: b, behind operator.ReadOnly in
	// read-only mode.
	acts operator.Actions
	opts Options
	now  func() time.Time
	// tick schedules a message; tests replace it to record instead of wait.
	tick func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd

	keys    keyMap
	roKeys  map[string]string // disabled write key -> action, to explain refusals in read-only mode
	st      Styles
	w, h    int
	stack   []screen
	modal   modal
	flash   flash
	hist    *searchHistory
	views   []SavedView
	live    liveState
	lag     lagMsg
	mouse   bool
	nextID  int
	updates <-chan struct{}
	conn    connState
	busy    *running // a write in flight (nil when none)
	// health is the engine's newest pulse, healthAsked when it was last
	// asked for (pulse.go: no-worker reasons).
	health      healthMsg
	healthAsked time.Time
	idle        map[string]bool // queues no worker polls, from health
}

// liveState debounces index update notifications into refreshes.
type liveState struct {
	pending bool // a refresh is scheduled
	off     bool // the update stream ended
	count   int  // refreshes done (tests, header)
}

// debounce is how long updates are coalesced before the view refreshes:
// enough to absorb a burst of index batches, short enough to feel live.
const debounce = 250 * time.Millisecond

// New builds the console model; Run is the usual entry point.
func New(ctx context.Context, b Backend, opts Options) *Model {
	opts = opts.withDefaults()
	var acts operator.Actions = b
	if opts.ReadOnly {
		acts = operator.ReadOnly(operator.Default, b)
	}
	m := &Model{
		ctx: ctx, b: b, acts: acts, opts: opts, now: opts.Now, tick: tea.Tick,
		keys:  newKeyMap(acts),
		st:    newStyles(true, opts.NoColor),
		hist:  loadSearchHistory(opts.HistoryFile),
		mouse: opts.Mouse,
		w:     80, h: 24,
		conn: connState{ConnState: ConnState{Connected: true}},
	}
	m.roKeys = map[string]string{}
	for _, b := range m.keys.writes() {
		if !b.Enabled() {
			for _, k := range b.Keys() {
				m.roKeys[k] = b.Help().Desc
			}
		}
	}
	m.stack = []screen{newRunList(m, listExecutions, opts.InitialQuery)}
	return m
}

func (m *Model) id() int {
	m.nextID++
	return m.nextID
}

// Init asks for the terminal background (theme), starts listening for index
// updates and loads the first screen.
func (m *Model) Init() tea.Cmd {
	m.updates = m.b.Updates(m.ctx)
	return tea.Batch(tea.RequestBackgroundColor, m.listen(), m.start(), m.clock())
}

// start loads what the first frame needs (tests call it instead of Init).
func (m *Model) start() tea.Cmd {
	return tea.Batch(m.top().load(m), m.fetchViews(), m.fetchLag(), m.fetchHealth())
}

func (m *Model) top() screen { return m.stack[len(m.stack)-1] }

func (m *Model) push(s screen) tea.Cmd {
	m.stack = append(m.stack, s)
	return s.load(m)
}

// jump opens a top-level view from the palette: it replaces whatever was
// drilled into, so Esc leads back to the executions list, not through
// every view visited.
func (m *Model) jump(s screen) tea.Cmd {
	m.stack = m.stack[:1]
	return m.push(s)
}

// pop goes back one screen; the one revealed refreshes, as it stopped
// following updates while hidden.
func (m *Model) pop() tea.Cmd {
	if len(m.stack) == 1 {
		return nil
	}
	m.stack = m.stack[:len(m.stack)-1]
	return m.top().refresh(m)
}

func (m *Model) screenByID(id int) screen {
	for _, s := range m.stack {
		if s.sid() == id {
			return s
		}
	}
	return nil
}

func (m *Model) listen() tea.Cmd {
	ch := m.updates
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		if _, ok := <-ch; !ok {
			return liveClosedMsg{}
		}
		// Coalesce what is already queued: one refresh covers them all.
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return indexUpdatedMsg{}
				}
			default:
				return indexUpdatedMsg{}
			}
		}
	}
}

func (m *Model) clock() tea.Cmd {
	return m.tick(time.Second, func(t time.Time) tea.Msg { return clockMsg(t) })
}

// Update is the one place state changes.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		cmds := make([]tea.Cmd, 0, len(m.stack))
		for _, s := range m.stack {
			cmds = append(cmds, s.resize(m))
		}
		return m, tea.Batch(cmds...)
	case tea.BackgroundColorMsg:
		m.st = newStyles(msg.IsDark(), m.opts.NoColor)
		return m, nil
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	case tea.PasteMsg:
		if p, ok := m.modal.(paster); ok {
			p.paste(msg.Content)
		}
		return m, nil
	case tea.MouseMsg:
		return m, m.onMouse(msg)
	case clockMsg:
		return m, tea.Batch(m.pollConn(), m.clock())
	case spinMsg:
		return m, m.spin()
	case indexUpdatedMsg:
		cmds := []tea.Cmd{m.listen()}
		if !m.live.pending {
			m.live.pending = true
			cmds = append(cmds, m.tick(debounce, func(time.Time) tea.Msg { return refreshDueMsg{} }))
		}
		return m, tea.Batch(cmds...)
	case refreshDueMsg:
		m.live.pending = false
		m.live.count++
		return m, tea.Batch(m.top().refresh(m), m.fetchLag(), m.fetchHealth())
	case healthMsg:
		m.onHealth(msg)
		return m, nil
	case liveClosedMsg:
		m.live.off = true
		return m, nil
	case flashExpiredMsg:
		if msg.seq == m.flash.seq {
			m.flash = flash{seq: m.flash.seq}
		}
		return m, nil
	case lagMsg:
		m.lag = msg
		return m, nil
	case viewsMsg:
		if msg.err == nil {
			m.views = msg.views
		}
		return m, nil
	case viewSavedMsg:
		if msg.err != nil {
			return m, m.flashErr("saving view %q: %v", msg.name, msg.err)
		}
		return m, tea.Batch(m.flashOK("saved view %q (shared through the engine)", msg.name), m.fetchViews())
	case actionDoneMsg:
		return m, m.onActionDone(msg)
	case addressed:
		if d, ok := m.modal.(receiver); ok && d.mid() == msg.target() {
			return m, d.receive(m, msg)
		}
		if s := m.screenByID(msg.target()); s != nil {
			return m, s.receive(m, msg)
		}
		return m, nil // the screen or dialog that asked is gone
	}
	return m, nil
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	if m.busy != nil {
		return m.busyKey(k)
	}
	if m.modal != nil {
		return m.modal.key(m, k)
	}
	if m.tooSmall() {
		if key.Matches(k, m.keys.Quit) {
			return tea.Quit
		}
		return nil
	}
	if cmd, ok := m.top().key(m, k); ok {
		return cmd
	}
	// A write key the screen did not take (its binding is disabled): say why.
	if act, ok := m.roKeys[k.String()]; ok && m.top().acts() {
		return m.flashErr("read-only: %s is disabled", act)
	}
	switch {
	case key.Matches(k, m.keys.Help):
		m.modal = newHelpModal(m)
	case key.Matches(k, m.keys.Palette):
		m.modal = newPalette(m)
	case key.Matches(k, m.keys.Back):
		return m.pop()
	case key.Matches(k, m.keys.Refresh):
		return tea.Batch(m.top().refresh(m), m.fetchLag())
	case key.Matches(k, m.keys.Quit):
		if len(m.stack) > 1 && k.String() == "q" {
			return m.pop()
		}
		return tea.Quit
	}
	return nil
}

func (m *Model) onMouse(msg tea.MouseMsg) tea.Cmd {
	if !m.mouse || m.modal != nil || m.tooSmall() {
		return nil
	}
	if ms, ok := m.top().(mouser); ok {
		return ms.mouse(m, msg, m.bodyTop())
	}
	return nil
}

func (m *Model) closeModal() { m.modal = nil }

func (m *Model) tooSmall() bool { return m.w < minWidth || m.h < minHeight }

// Minimum terminal size: the classic 80x24, which works over any SSH.
const (
	minWidth  = 80
	minHeight = 24
)

// fetch is a command that runs one backend read under the request
// timeout and wraps its answer in a message.
func fetch[T any](m *Model, read func(context.Context) (T, error), msg func(T, error) tea.Msg) tea.Cmd {
	ctx, to := m.ctx, m.opts.RequestTimeout
	return func() tea.Msg {
		c, cancel := context.WithTimeout(ctx, to)
		defer cancel()
		return msg(read(c))
	}
}

func (m *Model) fetchViews() tea.Cmd {
	return fetch(m, m.b.Views, func(v []SavedView, err error) tea.Msg { return viewsMsg{views: v, err: err} })
}

func (m *Model) fetchLag() tea.Cmd {
	return fetch(m, m.b.Lag, func(l searchapi.Lag, err error) tea.Msg { return lagMsg{lag: l, err: err} })
}
