package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
)

// Options configure the console.
type Options struct {
	// Identity is shown in the header; the Backend records it with actions.
	Identity string
	// Principal is the user the connection authenticated as; the header
	// shows it, and Identity beside it when they differ ("on behalf of").
	Principal string
	// Context is the connection profile in use (foreman context), shown
	// in the header; Production marks it with a badge.
	Context    string
	Production bool
	// ReadOnly hides every write and refuses it (operator.ReadOnly in front
	// of the backend's actions).
	ReadOnly bool
	// NoColor renders with attributes only (NO_COLOR in the environment
	// does the same).
	NoColor bool
	// InitialQuery is the search the executions list opens with.
	InitialQuery string
	// Mouse enables mouse support (clicks select and sort, the wheel
	// scrolls); off by default so the terminal's own selection keeps working.
	Mouse bool
	// StuckAfter is how long a running run may go without progress before
	// :stuck lists it (default 10m).
	StuckAfter time.Duration
	// HistoryFile keeps past searches across sessions ("" = this session only).
	HistoryFile string
	// RequestTimeout bounds every backend call (default 10s).
	RequestTimeout time.Duration
	// Input and Output default to the terminal (stdin, stdout).
	Input  io.Reader
	Output io.Writer
	// Now is the clock (tests fix it); default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.StuckAfter <= 0 {
		o.StuckAfter = defaultStuckAfter
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if os.Getenv("NO_COLOR") != "" {
		o.NoColor = true
	}
	return o
}

// Run opens the console and returns when the operator quits or ctx ends.
func Run(ctx context.Context, b Backend, opts Options) error {
	if b == nil {
		return errors.New("tui: a backend is required")
	}
	opts = opts.withDefaults()
	m := New(ctx, b, opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	if opts.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.ASCII))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller ended the context: a normal way to stop
	}
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// IsTerminal tells whether f is a terminal; bare `foreman` starts the
// console only when stdout is one, and prints help otherwise.
func IsTerminal(f *os.File) bool {
	return term.IsTerminal(f.Fd())
}
