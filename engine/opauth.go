package engine

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Operator events (a signal, a cancel request, a termination, an approval
// decision, a reset, a compensation) are appended only by the engine, which
// signs each one with its key. History subjects cannot be narrowed by run
// in NATS permissions, so a worker credential can append anything to any
// history: the signature is what tells the engine's events from a
// forgery. Once a store publishes the engine's public key (OperatorKeys),
// every reader that acts on history screens it: an operator event without
// a valid signature is replaced, in what the reader sees, by an
// OperatorEventRejected event with the same id, so replay stays
// deterministic and ids stay contiguous. With no key published (tests on a
// bare server) nothing is signed and nothing is screened.
//
// A forged closing event (WorkflowTerminated) sets its batch's Closed
// header, which header-only readers (a worker's "is this run closed?", the
// client's "refuse a closed run") trust. We chose: closedness comes from
// verified events for the readers that decide on a close (GetResult, the
// dispatcher, Summarize, replay), and the engine's dispatcher, on seeing a
// forged close, appends an OperatorEventRejected batch of its own right
// after it, so the run's last batch is open again for header-only readers
// too. Between the two (a few milliseconds) a header-only reader may see
// the run closed: a late task is then dropped and redelivered by its
// timer, and an operator action is refused and can be repeated.

// OperatorKeys is what a store offers when the deployment signs operator
// events: jetstream.Store implements it.
type OperatorKeys interface {
	// OperatorSigner is the engine's private key; nil in every process
	// but the engine's.
	OperatorSigner() ed25519.PrivateKey
	// OperatorPublicKey is the published public key; nil when none is
	// published (verification off).
	OperatorPublicKey(ctx context.Context) (ed25519.PublicKey, error)
}

// operatorAttrs are the attributes of an operator event.
type operatorAttrs interface {
	// stamp records who acted: the principal and the self-declared identity.
	stamp(principal, onBehalfOf string)
	// principal is who the event says acted; onBehalf what they declared.
	principal() string
	onBehalf() string
	sigField() *string
	// unsigned is a copy of the attributes without the signature.
	unsigned() any
}

func (a *SignalReceived) stamp(p, o string)          { a.Identity, a.OnBehalfOf = p, o }
func (a *SignalReceived) principal() string          { return a.Identity }
func (a *SignalReceived) onBehalf() string           { return a.OnBehalfOf }
func (a *SignalReceived) sigField() *string          { return &a.Sig }
func (a SignalReceived) unsigned() any               { a.Sig = ""; return a }
func (a *ApprovalDecided) stamp(p, o string)         { a.By, a.OnBehalfOf = p, o }
func (a *ApprovalDecided) principal() string         { return a.By }
func (a *ApprovalDecided) onBehalf() string          { return a.OnBehalfOf }
func (a *ApprovalDecided) sigField() *string         { return &a.Sig }
func (a ApprovalDecided) unsigned() any              { a.Sig = ""; return a }
func (a *WorkflowCancelRequested) stamp(p, o string) { a.Identity, a.OnBehalfOf = p, o }
func (a *WorkflowCancelRequested) principal() string { return a.Identity }
func (a *WorkflowCancelRequested) onBehalf() string  { return a.OnBehalfOf }
func (a *WorkflowCancelRequested) sigField() *string { return &a.Sig }
func (a WorkflowCancelRequested) unsigned() any      { a.Sig = ""; return a }
func (a *WorkflowTerminated) stamp(p, o string)      { a.Identity, a.OnBehalfOf = p, o }
func (a *WorkflowTerminated) principal() string      { return a.Identity }
func (a *WorkflowTerminated) onBehalf() string       { return a.OnBehalfOf }
func (a *WorkflowTerminated) sigField() *string      { return &a.Sig }
func (a WorkflowTerminated) unsigned() any           { a.Sig = ""; return a }
func (a *WorkflowReset) stamp(p, o string)           { a.Identity, a.OnBehalfOf = p, o }
func (a *WorkflowReset) principal() string           { return a.Identity }
func (a *WorkflowReset) onBehalf() string            { return a.OnBehalfOf }
func (a *WorkflowReset) sigField() *string           { return &a.Sig }
func (a WorkflowReset) unsigned() any                { a.Sig = ""; return a }
func (a *RunCompensated) stamp(p, o string)          { a.Identity, a.OnBehalfOf = p, o }
func (a *RunCompensated) principal() string          { return a.Identity }
func (a *RunCompensated) onBehalf() string           { return a.OnBehalfOf }
func (a *RunCompensated) sigField() *string          { return &a.Sig }
func (a RunCompensated) unsigned() any               { a.Sig = ""; return a }

// OperatorEventRejected stands, in what readers see, for an operator event
// history holds without a valid engine signature (a forgery); the engine
// also appends one after a forged closing event, to reopen the run.
type OperatorEventRejected struct {
	// EventID and Type name the ignored event; Principal is who it claims.
	EventID   int64     `json:"event_id"`
	Type      EventType `json:"event_type"`
	Principal string    `json:"principal,omitempty"`
	Reason    string    `json:"reason"`
	// Reopens marks the engine's own batch after a forged close (not a
	// forgery itself).
	Reopens bool `json:"reopens,omitempty"`
}

// signedBytes is what the engine signs for event e of run runID: the run,
// the event's id, type and time, and its attributes without the signature,
// so a signature holds for that one event of that one run.
func signedBytes(runID string, e Event, a operatorAttrs) ([]byte, error) {
	j, err := json.Marshal(a.unsigned())
	if err != nil {
		return nil, fmt.Errorf("encoding %s for its signature: %w", e.Type, err)
	}
	return fmt.Appendf(nil, "foreman-op-v1\x00%s\x00%d\x00%s\x00%d\x00%s", runID, e.ID, e.Type, e.Time.UnixNano(), j), nil
}

// signEvents signs the operator events among events (their ids and times
// set) when this process holds the engine's key.
func signEvents(s any, runID string, events []Event) error {
	k, ok := s.(OperatorKeys)
	if !ok {
		return nil
	}
	priv := k.OperatorSigner()
	if priv == nil {
		return nil
	}
	for _, e := range events {
		a, ok := e.Attrs.(operatorAttrs)
		if !ok {
			continue
		}
		*a.sigField() = ""
		msg, err := signedBytes(runID, e, a)
		if err != nil {
			return err
		}
		*a.sigField() = base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, msg))
	}
	return nil
}

// verifier checks operator events against the published key.
type verifier struct{ pub ed25519.PublicKey }

// verifierOf returns s's verifier, or nil when no key is published (or s
// signs nothing): then every event counts, as before signing existed. A
// key that cannot be read is an error, never "no key": a reader that
// screened nothing would act on forgeries (fail closed; callers retry).
func verifierOf(ctx context.Context, s any) (*verifier, error) {
	k, ok := s.(OperatorKeys)
	if !ok {
		return nil, nil
	}
	pub, err := k.OperatorPublicKey(ctx)
	if err != nil || pub == nil {
		return nil, err
	}
	return &verifier{pub: pub}, nil
}

// problem says why e is not a genuine operator event ("" when it is, or
// is no operator event at all).
func (v *verifier) problem(runID string, e Event) string {
	a, ok := e.Attrs.(operatorAttrs)
	if !ok {
		return ""
	}
	if t, ok := a.(*WorkflowTerminated); ok && e.ID >= HistoryLimit && strings.HasPrefix(t.Reason, "["+CodeHistoryTooLarge+"]") {
		// a worker ends a run at the history limit (terminateOverLimit):
		// forging it gains nothing, the run is at its end anyway
		return ""
	}
	sig := *a.sigField()
	if sig == "" {
		return "unsigned"
	}
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return "malformed signature"
	}
	msg, err := signedBytes(runID, e, a)
	if err != nil || !ed25519.Verify(v.pub, msg, raw) {
		return "bad signature"
	}
	return ""
}

// screen replaces the forged operator events of b (a batch of run runID)
// by OperatorEventRejected and returns the originals. No batch is exempt,
// a run's first one included: the signals a start carries (a continuation,
// SignalWithStart in the engine) are signed for the new run too, and a
// forger could otherwise dress a batch up as a start.
func (v *verifier) screen(runID string, b *Batch) (forged []Event) {
	if v == nil || b == nil {
		return nil
	}
	for i, e := range b.Events {
		if a, ok := e.Attrs.(*UpdateAccepted); ok {
			v.vouch(runID, a) // a fact replay needs: kept, only its sender is checked
			continue
		}
		why := v.problem(runID, e)
		if why == "" {
			continue
		}
		forged = append(forged, e)
		b.Events[i] = Event{ID: e.ID, Type: EventOperatorEventRejected, Time: e.Time,
			Attrs: &OperatorEventRejected{EventID: e.ID, Type: e.Type, Principal: e.Attrs.(operatorAttrs).principal(), Reason: why}}
	}
	return forged
}

// closes tells whether b still closes its run once screened.
func closes(b *Batch) bool {
	for _, e := range b.Events {
		if e.Type.Closes() {
			return true
		}
	}
	return false
}

// ScreenBatch replaces the operator events of b (a batch of run runID read
// from store s) that lack a valid engine signature, when s publishes a
// key, and returns how many it replaced: what the search indexer and other
// readers outside the engine package call after DecodeBatch. It fails when
// the key cannot be read.
func ScreenBatch(ctx context.Context, s any, runID string, b *Batch) (int, error) {
	v, err := verifierOf(ctx, s)
	return len(v.screen(runID, b)), err
}

// forgedClose tells whether a batch whose header says it closes the run
// holds no genuine closing event: a forged close, which closes nothing.
func (v *verifier) forgedClose(sb StoredBatch) bool {
	if v == nil || !sb.Header.Closed {
		return false
	}
	b, err := DecodeBatch(sb.Data)
	if err != nil {
		return false
	}
	if len(v.screen(sb.Header.RunID, b)) == 0 {
		return false
	}
	return !closes(b)
}
