package tui

import (
	"context"
	"errors"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/internal/audit"
)

// AuditReader is what a Backend offers when it can read the audit trail
// (stream FM_AUDIT); the :audit view needs it.
type AuditReader interface {
	// Audit returns every audit record, oldest first.
	Audit(ctx context.Context) ([]audit.Record, error)
}

// auditScreen lists the audit trail, newest first: every operator action
// the engine performed, every attempt it refused and every forged event
// it found in history, with who. Refusals and forgeries stand out.
type auditScreen struct {
	id      int
	rows    []audit.Record
	cursor  int
	err     error
	loading bool
}

type auditMsg struct {
	addr
	recs []audit.Record
	err  error
}

func newAudit(m *Model) *auditScreen { return &auditScreen{id: m.id()} }

func (s *auditScreen) sid() int                { return s.id }
func (s *auditScreen) acts() bool              { return false }
func (s *auditScreen) crumb() string           { return "audit" }
func (s *auditScreen) resize(m *Model) tea.Cmd { return nil }
func (s *auditScreen) load(m *Model) tea.Cmd   { s.loading = true; return s.refresh(m) }

func (s *auditScreen) refresh(m *Model) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	return func() tea.Msg {
		r, ok := b.(AuditReader)
		if !ok {
			return auditMsg{addr: addr{id}, err: errors.New("this connection cannot read the audit trail")}
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		recs, err := r.Audit(c)
		return auditMsg{addr: addr{id}, recs: recs, err: err}
	}
}

func (s *auditScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	a, ok := msg.(auditMsg)
	if !ok {
		return nil
	}
	s.loading, s.err = false, a.err
	if a.err == nil {
		s.rows = slices.Clone(a.recs)
		slices.Reverse(s.rows)
		s.cursor = min(s.cursor, max(len(s.rows)-1, 0))
	}
	return nil
}

func (s *auditScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	return nil, moveCursor(m.keys, k, &s.cursor, len(s.rows))
}

// moveCursor applies the movement keys (down, up, top, bottom) to a
// cursor over n rows; false when k is none of them.
func moveCursor(ks keyMap, k tea.KeyPressMsg, cursor *int, n int) bool {
	last := max(n-1, 0)
	switch {
	case key.Matches(k, ks.Down):
		*cursor = min(*cursor+1, last)
	case key.Matches(k, ks.Up):
		*cursor = max(*cursor-1, 0)
	case key.Matches(k, ks.Top):
		*cursor = 0
	case key.Matches(k, ks.Bottom):
		*cursor = last
	default:
		return false
	}
	return true
}

func (s *auditScreen) help(k keyMap) []helpGroup {
	return []helpGroup{{"Audit", []key.Binding{k.Up, k.Down}}, k.globalGroup()}
}

func (s *auditScreen) footer(k keyMap) []key.Binding { return []key.Binding{k.Back, k.Palette} }

func (s *auditScreen) header(m *Model) string {
	if s.err != nil {
		return m.st.Error.Render("audit: " + errorText(s.err))
	}
	refused := 0
	for _, r := range s.rows {
		if r.Outcome != audit.OK {
			refused++
		}
	}
	return m.st.Bold.Render(thousands(len(s.rows))) + m.st.Dim.Render(" audit records, newest first; ") +
		m.st.Bold.Render(thousands(refused)) + m.st.Dim.Render(" refused, failed or forged")
}

func (s *auditScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	const timeW, whoW, roleW, actW, outW = 20, 14, 10, 18, 10
	restW := max(w-2-timeW-whoW-roleW-actW-outW, 10)
	b.WriteString(m.st.ColHeader.Render("  " + fit("TIME", timeW) + fit("PRINCIPAL", whoW) + fit("ROLE", roleW) + fit("ACTION", actW) + fit("OUTCOME", outW) + fit("TARGETS / WHY", restW)))
	if s.loading {
		return b.String() + "\n" + m.st.Dim.Render("  loading…")
	}
	lines := make([]string, len(s.rows))
	for i, r := range s.rows {
		what := strings.Join(r.Targets, " ")
		if r.Why != "" {
			what += " — " + r.Why
		}
		lines[i] = fit(r.Time.Local().Format("01-02 15:04:05"), timeW) + fit(r.Principal, whoW) + fit(r.Role, roleW) + fit(r.Action, actW) + fit(r.Outcome, outW) + fit(what, restW)
	}
	b.WriteString(cursorRows(m, lines, s.cursor, h-1, func(i int) bool { return s.rows[i].Outcome != audit.OK }))
	return b.String()
}

// cursorRows renders up to n rows, each on a new line: the cursor's
// selected, the alerting ones in the error style.
func cursorRows(m *Model, rows []string, cursor, n int, alert func(i int) bool) string {
	var b strings.Builder
	for i, r := range rows[:min(n, len(rows))] {
		b.WriteByte('\n')
		switch {
		case i == cursor:
			b.WriteString(m.st.Selected.Render("▶ " + r))
		case alert(i):
			b.WriteString(m.st.Error.Render("  " + r))
		default:
			b.WriteString("  " + r)
		}
	}
	return b.String()
}
