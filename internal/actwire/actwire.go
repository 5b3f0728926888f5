// Package actwire is the wire form of operator actions sent to the engine
// on fm.api.act.<user>.<action> (issue 16): the engine's client encodes
// them, the engine's action service (package operator) answers them. The
// subject's <user> token is the authenticated principal: NATS permissions
// let each user publish only under their own.
package actwire

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
)

// Prefix starts every action subject; ServeSubject is what the engine
// serves.
const (
	Prefix       = "fm.api.act."
	ServeSubject = Prefix + "*.>"
)

// Subject is where user asks for action.
func Subject(user, action string) string { return Prefix + user + "." + action }

// Parse splits an action subject into its user and action.
func Parse(subject string) (user, action string, ok bool) {
	rest, ok := strings.CutPrefix(subject, Prefix)
	if !ok {
		return "", "", false
	}
	user, action, ok = strings.Cut(rest, ".")
	return user, action, ok && user != "" && action != "" && !strings.Contains(action, ".")
}

// Request is one operator action on one run.
type Request struct {
	WorkflowID string          `json:"workflow_id,omitempty"`
	RunID      string          `json:"run_id,omitempty"`
	Approval   string          `json:"approval,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Comment    string          `json:"comment,omitempty"`
	Name       string          `json:"name,omitempty"`
	Input      json.RawMessage `json:"input,omitempty"`
	To         string          `json:"to,omitempty"`
	Reapply    bool            `json:"reapply_signals,omitempty"`
	DryRun     bool            `json:"dry_run,omitempty"`
	// OnBehalfOf is the self-declared identity (--identity): recorded as
	// a comment beside the principal, never as it.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	BatchID    string `json:"batch_id,omitempty"`
	// UpdateID names an update (its deduplication key).
	UpdateID string `json:"update_id,omitempty"`
}

// Reply is the engine's answer: Error empty on success; Code names the
// sentinel the client's error matches (errors.Is keeps working across the
// wire).
type Reply struct {
	RunID  string          `json:"run_id,omitempty"`
	Detail string          `json:"detail,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	Error  string          `json:"error,omitempty"`
	Code   string          `json:"code,omitempty"`
}

var (
	mu    sync.RWMutex
	codes = map[string]error{}
	order []string
)

// Register names a sentinel error for the wire (the engine registers its
// own at init).
func Register(code string, err error) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := codes[code]; !dup {
		order = append(order, code)
	}
	codes[code] = err
}

// Code is the code of the first registered sentinel err matches, or "".
func Code(err error) string {
	mu.RLock()
	defer mu.RUnlock()
	for _, c := range order {
		if errors.Is(err, codes[c]) {
			return c
		}
	}
	return ""
}

// Error rebuilds an error from a reply: its message, matching the
// sentinel its code names.
func Error(r Reply) error {
	if r.Error == "" {
		return nil
	}
	mu.RLock()
	sentinel := codes[r.Code]
	mu.RUnlock()
	if sentinel == nil {
		return errors.New(r.Error)
	}
	return &wireError{msg: r.Error, sentinel: sentinel}
}

type wireError struct {
	msg      string
	sentinel error
}

func (e *wireError) Error() string { return e.msg }
func (e *wireError) Unwrap() error { return e.sentinel }

type batchKey struct{}

// WithBatch marks ctx as the work of batch id: the requests sent with it
// name the batch, for the audit trail.
func WithBatch(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, batchKey{}, id)
}

// BatchOf is the batch WithBatch named, or "".
func BatchOf(ctx context.Context) string {
	id, _ := ctx.Value(batchKey{}).(string)
	return id
}
