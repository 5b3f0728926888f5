// Package audit is the shape of the audit trail (issue 16): one JSON record
// per operator action and per refused attempt, appended to the JetStream
// stream FM_AUDIT on fm.audit.<kind>. The engine writes them; `foreman
// audit` and the console read them.
package audit

import (
	"context"
	"strings"
	"time"
)

// Stream and subjects.
const (
	Stream        = "FM_AUDIT"
	SubjectPrefix = "fm.audit."
	// DefaultRetention is how long records are kept by default.
	DefaultRetention = 90 * 24 * time.Hour
)

// Outcomes of a record.
const (
	OK      = "ok"
	Refused = "refused"
	Failed  = "failed"
	// Forged: an operator event found in history without the engine's
	// signature (ignored by every reader).
	Forged = "forged"
)

// Record is one audited action or refusal.
type Record struct {
	Time       time.Time `json:"time"`
	Principal  string    `json:"principal"`
	Role       string    `json:"role,omitempty"`
	Action     string    `json:"action"`
	Targets    []string  `json:"targets,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	OnBehalfOf string    `json:"on_behalf_of,omitempty"`
	BatchID    string    `json:"batch_id,omitempty"`
	Outcome    string    `json:"outcome"`
	// Why says why a refused or failed attempt did not happen.
	Why string `json:"why,omitempty"`
}

// Subject is where r is appended: fm.audit.<outcome>.
func (r Record) Subject() string { return SubjectPrefix + r.Outcome }

// Matches tells whether r matches a free-text filter: every word of q
// appears in one of its fields (case-insensitive), or names a field as
// field=value (principal=alice, outcome=refused).
func (r Record) Matches(q string) bool {
	fields := map[string]string{
		"principal": r.Principal, "role": r.Role, "action": r.Action, "targets": strings.Join(r.Targets, " "),
		"reason": r.Reason, "on_behalf_of": r.OnBehalfOf, "batch": r.BatchID, "outcome": r.Outcome, "why": r.Why,
	}
	for _, w := range strings.Fields(strings.ToLower(q)) {
		if k, v, ok := strings.Cut(w, "="); ok {
			if !strings.Contains(strings.ToLower(fields[k]), v) {
				return false
			}
			continue
		}
		hit := false
		for _, f := range fields {
			hit = hit || strings.Contains(strings.ToLower(f), w)
		}
		if !hit {
			return false
		}
	}
	return true
}

// Log appends records; jetstream.Store implements it. msgID, when set,
// makes a redelivered append harmless.
type Log interface {
	AppendAudit(ctx context.Context, r Record, msgID string) error
}
