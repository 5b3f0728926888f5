// Package lograte keeps repeated failures from flooding a log: a warning or
// error that repeats (same level, message and logger attributes) is written
// once per window, and what was held back is summed up when the window ends.
//
// Why: a failure that is retried forever (a full disk, an unreachable
// store) logged each retry, 4.3 MB a minute, onto the very disk that was
// full. Info and debug records pass untouched; they do not come from retry
// loops.
package lograte

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// DefaultWindow is how long a repeated failure stays quiet after it is
// written once.
const DefaultWindow = 10 * time.Second

// Handler wraps another slog.Handler. Create it with New.
type Handler struct {
	inner  slog.Handler
	prefix string // the attributes and groups this handler adds, as part of the key
	state  *state
}

type state struct {
	window time.Duration
	keyBy  []string // record attributes that tell repeats apart (NewKeyed)
	mu     sync.Mutex
	keys   map[string]*repeat
}

// repeat is one key's current window.
type repeat struct {
	held    int          // records held back in this window
	last    slog.Record  // the newest of them, summarized at the end
	handler slog.Handler // the handler (attributes included) that saw it
	timer   *time.Timer
}

// New returns a handler that writes a repeated warning or error at most
// once per window (DefaultWindow if window <= 0).
func New(inner slog.Handler, window time.Duration) *Handler {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Handler{inner: inner, state: &state{window: window, keys: map[string]*repeat{}}}
}

// NewKeyed is New, telling repeats apart also by the record attributes
// named keyBy: a worker logs every failed activity attempt with the same
// message, and one failing activity type must not silence another's
// failures (nor a run's id make every line new).
func NewKeyed(inner slog.Handler, window time.Duration, keyBy ...string) *Handler {
	h := New(inner, window)
	h.state.keyBy = keyBy
	return h
}

// Enabled reports whether the wrapped handler handles level.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle writes r, unless a record with its key was written less than a
// window ago; then it counts it for the window's summary.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.inner.Handle(ctx, r)
	}
	key := r.Level.String() + "\x00" + h.prefix + "\x00" + r.Message
	s := h.state
	if len(s.keyBy) > 0 {
		r.Attrs(func(a slog.Attr) bool {
			if slices.Contains(s.keyBy, a.Key) {
				key += "\x00" + a.String()
			}
			return true
		})
	}
	s.mu.Lock()
	if rp, ok := s.keys[key]; ok {
		rp.held++
		rp.last, rp.handler = r.Clone(), h.inner
		s.mu.Unlock()
		return nil
	}
	rp := &repeat{}
	s.keys[key] = rp
	rp.timer = time.AfterFunc(s.window, func() { s.flush(key) })
	s.mu.Unlock()
	return h.inner.Handle(ctx, r)
}

// flush ends key's window: if records were held back, the newest is
// written with how many it stands for.
func (s *state) flush(key string) {
	s.mu.Lock()
	rp := s.keys[key]
	delete(s.keys, key)
	s.mu.Unlock()
	if rp == nil || rp.held == 0 {
		return
	}
	r := rp.last
	r.AddAttrs(slog.Int("repeated", rp.held), slog.Duration("within", s.window))
	_ = rp.handler.Handle(context.Background(), r)
}

// WithAttrs returns a handler whose records carry attrs; it shares the
// windows of h, keyed apart by the attributes.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.prefix)
	for _, a := range attrs {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &Handler{inner: h.inner.WithAttrs(attrs), prefix: b.String(), state: h.state}
}

// WithGroup returns a handler that puts later attributes in group name.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), prefix: h.prefix + name + ".", state: h.state}
}
