package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// NotificationReader is what a Backend offers when it can read the
// notification rules (foreman notify); the :notifications view needs it.
type NotificationReader interface {
	NotificationRules(ctx context.Context) ([]NotificationRule, error)
}

// NotificationRule is a rule with how it has been doing.
type NotificationRule struct {
	Name      string `json:"name"`
	Describe  string `json:"describe"` // what it does, in one line
	Condition string `json:"condition"`
	// EvaluatedAt, Matched and Error are its last evaluation.
	EvaluatedAt time.Time `json:"evaluated_at"`
	Matched     uint64    `json:"matched"`
	Error       string    `json:"error,omitempty"`
	Sent        int       `json:"sent"`
	Failed      int       `json:"failed"`
	// Last are its newest deliveries, newest first.
	Last []NotificationDelivery `json:"last,omitempty"`
}

// NotificationDelivery is one notification sent (or that failed).
type NotificationDelivery struct {
	At         time.Time `json:"at"`
	WorkflowID string    `json:"workflow_id"`
	Reason     string    `json:"reason"`
	NATS       string    `json:"nats"`
	Webhook    string    `json:"webhook,omitempty"` // "", pending, ok, failed
	Error      string    `json:"error,omitempty"`   // the webhook's last error
}

// Failed tells whether the delivery did not reach a receiver.
func (d NotificationDelivery) Failed() bool { return d.NATS != "ok" || d.Webhook == "failed" }

// notificationsScreen lists the rules, each with what it sent and what
// failed; below, the selected rule's last deliveries.
type notificationsScreen struct {
	id      int
	rules   []NotificationRule
	cursor  int
	err     error
	loading bool
}

type notificationsMsg struct {
	addr
	rules []NotificationRule
	err   error
}

func newNotifications(m *Model) *notificationsScreen { return &notificationsScreen{id: m.id()} }

func (s *notificationsScreen) sid() int                { return s.id }
func (s *notificationsScreen) acts() bool              { return false }
func (s *notificationsScreen) crumb() string           { return "notifications" }
func (s *notificationsScreen) resize(m *Model) tea.Cmd { return nil }
func (s *notificationsScreen) load(m *Model) tea.Cmd   { s.loading = true; return s.refresh(m) }

func (s *notificationsScreen) refresh(m *Model) tea.Cmd {
	b, ctx, timeout, id := m.b, m.ctx, m.opts.RequestTimeout, s.id
	return func() tea.Msg {
		r, ok := b.(NotificationReader)
		if !ok {
			return notificationsMsg{addr: addr{id}, err: errors.New("this connection cannot read the notification rules")}
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		rules, err := r.NotificationRules(c)
		return notificationsMsg{addr: addr{id}, rules: rules, err: err}
	}
}

func (s *notificationsScreen) receive(m *Model, msg tea.Msg) tea.Cmd {
	n, ok := msg.(notificationsMsg)
	if !ok {
		return nil
	}
	s.loading, s.err = false, n.err
	if n.err == nil {
		s.rules = n.rules
		s.cursor = min(s.cursor, max(len(s.rules)-1, 0))
	}
	return nil
}

func (s *notificationsScreen) key(m *Model, k tea.KeyPressMsg) (tea.Cmd, bool) {
	return nil, moveCursor(m.keys, k, &s.cursor, len(s.rules))
}

func (s *notificationsScreen) help(k keyMap) []helpGroup {
	return []helpGroup{{"Notification rules", []key.Binding{k.Up, k.Down}}, k.globalGroup()}
}

func (s *notificationsScreen) footer(k keyMap) []key.Binding { return []key.Binding{k.Back, k.Palette} }

func (s *notificationsScreen) header(m *Model) string {
	if s.err != nil {
		return m.st.Error.Render("notifications: " + errorText(s.err))
	}
	sent, failed, broken := 0, 0, 0
	for _, r := range s.rules {
		sent, failed = sent+r.Sent, failed+r.Failed
		if r.Error != "" {
			broken++
		}
	}
	h := m.st.Bold.Render(thousands(len(s.rules))) + m.st.Dim.Render(fmt.Sprintf(" rules · %s sent", thousands(sent)))
	if failed > 0 {
		h += m.st.Dim.Render(" · ") + m.st.Fail.Render(fmt.Sprintf("✗ %s failed", thousands(failed)))
	}
	if broken > 0 {
		h += m.st.Dim.Render(" · ") + m.st.Fail.Render(fmt.Sprintf("✗ %d rules failing to evaluate", broken))
	}
	return h + m.st.Dim.Render(" · manage with foreman notify")
}

func (s *notificationsScreen) view(m *Model, w, h int) string {
	var b strings.Builder
	const nameW, condW, numW, whenW = 18, 16, 7, 16
	restW := max(w-2-nameW-condW-2*numW-whenW, 10)
	b.WriteString(m.st.ColHeader.Render("  " + fit("RULE", nameW) + fit("CONDITION", condW) + fitRight("SENT", numW-1) + " " + fitRight("FAILED", numW-1) + " " + fit("EVALUATED", whenW) + fit("WHAT / ERROR", restW)))
	if s.loading {
		return b.String() + "\n" + m.st.Dim.Render("  loading…")
	}
	if len(s.rules) == 0 {
		return b.String() + "\n" + m.st.Dim.Render("  no notification rules (foreman notify add NAME --on failed)")
	}
	lines := make([]string, len(s.rules))
	for i, r := range s.rules {
		what := r.Describe
		if r.Error != "" {
			what = "✗ " + r.Error
		}
		lines[i] = fit(r.Name, nameW) + fit(r.Condition, condW) + fitRight(thousands(r.Sent), numW-1) + " " + fitRight(thousands(r.Failed), numW-1) + " " +
			fit(ageText(m, r.EvaluatedAt), whenW) + fit(what, restW)
	}
	rows := min(len(lines), max(h/2, 3))
	b.WriteString(cursorRows(m, lines, s.cursor, rows, func(i int) bool { return s.rules[i].Error != "" || s.rules[i].Failed > 0 }))
	if s.cursor >= len(s.rules) {
		return b.String()
	}
	r := s.rules[s.cursor]
	b.WriteString("\n\n" + m.st.Bold.Render(fit("  last deliveries of "+r.Name, w)))
	if len(r.Last) == 0 {
		b.WriteString("\n" + m.st.Dim.Render("  none yet"))
	}
	left := h - 1 - rows - 2
	for i, d := range r.Last {
		if i >= left {
			break
		}
		state := "nats " + d.NATS
		if d.Webhook != "" {
			state += ", webhook " + d.Webhook
		}
		line := "  " + fit(ageText(m, d.At), whenW) + fit(d.WorkflowID, nameW+4) + fit(state, 26) + fit(d.Reason+errSuffix(d.Error), max(w-2-whenW-nameW-4-26, 10))
		if d.Failed() {
			line = m.st.Error.Render(line)
		}
		b.WriteString("\n" + line)
	}
	return b.String()
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " — " + e
}

// ageText says how long ago t was ("-" for never).
func ageText(m *Model, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return compactDuration(m.now().Sub(t).Truncate(time.Second)) + " ago"
}
