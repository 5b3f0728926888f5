package engine

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/foremanhq/foreman/internal/audit"
)

// Commands that reach beyond their own run. A workflow task's batch may
// hold commands the engine's dispatcher carries out with the engine's own
// rights on another run or another task queue: a child start, a signal to
// another workflow, a child's cancellation, an activity on another queue.
// A worker credential limited to queue A cannot itself consume B's tasks
// nor send operator signals, so the dispatcher must not do so on its
// behalf either: it checks that whoever wrote the command may act on the
// target's queue.
//
// The dispatcher reads history, and history cannot tell who appended a
// batch (NATS stamps no publisher, and history subjects cannot be
// narrowed by run), so the writer signs such commands with the key of its
// credentials (the nkey NATS authenticated it with) and names its user;
// the dispatcher looks the user up in the user directory (its public key,
// role and queues) and verifies the signature. A process that holds the
// engine's key (workers hosted by the engine) signs with it instead and
// is unlimited. Only these rare commands are signed and checked: the hot
// path (a task batch scheduling activities on its own queue) is not.
//
// The check is on where operator events are verified (a signing key is
// published) and the deployment keeps a user directory; a command that
// fails it fails the way a failed start or delivery does, with a
// PermissionDenied failure naming the queue, and is audited as refused.

// CommandWriter attests who wrote a command: the user whose key signed it,
// or the engine (Engine: signed with the engine's key).
type CommandWriter struct {
	User   string `json:"user,omitempty"`
	Engine bool   `json:"engine,omitempty"`
	Sig    string `json:"sig"`
}

// WriterRights is what the user directory says of a command's writer.
type WriterRights struct {
	Key    ed25519.PublicKey // the user's public key (its credentials')
	Role   string            // the role's name: admin, worker, ...
	Queues []string          // the task queues it is limited to; none: every queue
}

// ErrNoUserDirectory: the deployment keeps no user directory, so nobody
// is limited to queues (tests on a bare server).
var ErrNoUserDirectory = errors.New("no user directory")

// CommandKeys is what a store offers for commands that act beyond their
// run: jetstream.Store implements it.
type CommandKeys interface {
	// CommandSigner is the user the store's connection authenticated as
	// and a signature with its key; ok is false when it holds no user key.
	CommandSigner() (user string, sign func(msg []byte) ([]byte, error), ok bool)
	// CommandRights looks user up in the deployment's user directory:
	// ErrNotFound when unknown or revoked, ErrNoUserDirectory when there
	// is no directory at all.
	CommandRights(ctx context.Context, user string) (WriterRights, error)
}

// commandAttrs are the attributes of a command that can act beyond its run.
type commandAttrs interface {
	writerField() **CommandWriter
	// unattested is a copy of the attributes without the attestation.
	unattested() any
}

func (a *StartChildWorkflowRequested) writerField() **CommandWriter  { return &a.Writer }
func (a StartChildWorkflowRequested) unattested() any                { a.Writer = nil; return a }
func (a *ExternalSignalRequested) writerField() **CommandWriter      { return &a.Writer }
func (a ExternalSignalRequested) unattested() any                    { a.Writer = nil; return a }
func (a *ChildWorkflowCancelRequested) writerField() **CommandWriter { return &a.Writer }
func (a ChildWorkflowCancelRequested) unattested() any               { a.Writer = nil; return a }
func (a *ActivityScheduled) writerField() **CommandWriter            { return &a.Writer }
func (a ActivityScheduled) unattested() any                          { a.Writer = nil; return a }

// reachesBeyond tells whether the command needs an attestation in a run
// of queue runQueue: an activity only on another queue (the common one,
// on the run's own queue, is left alone), the others always.
func reachesBeyond(a commandAttrs, runQueue string) bool {
	if act, ok := a.(*ActivityScheduled); ok {
		return act.TaskQueue != "" && act.TaskQueue != runQueue
	}
	return true
}

// commandSignedBytes is what a writer signs for a command of type t: the
// writer's claim and the command's attributes without the attestation.
// Not bound to the run: a reset copies commands into its new run, and a
// command names its own target and ids (a child's ids, a signal's request
// id), so a copy elsewhere repeats the same act, done once.
func commandSignedBytes(t EventType, w *CommandWriter, a commandAttrs) ([]byte, error) {
	j, err := json.Marshal(a.unattested())
	if err != nil {
		return nil, fmt.Errorf("encoding %s for its attestation: %w", t, err)
	}
	return fmt.Appendf(nil, "foreman-cmd-v1\x00%s\x00%s\x00%t\x00%s", t, w.User, w.Engine, j), nil
}

// canonical round-trips a command's attributes through JSON, so the
// writer signs exactly what a reader decodes from history (nil and empty
// slices, raw payloads).
func canonical(a commandAttrs) (commandAttrs, error) {
	j, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	c := reflect.New(reflect.TypeOf(a).Elem()).Interface().(commandAttrs)
	return c, json.Unmarshal(j, c)
}

// attestCommands signs the commands among events that reach beyond their
// run (of queue runQueue), when this process holds a key: the engine's,
// else its user's. Without either they stay unattested, which a
// deployment with a user directory refuses.
func attestCommands(s any, runQueue string, events []Event) error {
	var sign func([]byte) ([]byte, error)
	w := CommandWriter{}
	for _, e := range events {
		a, ok := e.Attrs.(commandAttrs)
		if !ok || !reachesBeyond(a, runQueue) {
			continue
		}
		if sign == nil {
			if k, ok := s.(OperatorKeys); ok && k.OperatorSigner() != nil {
				priv := k.OperatorSigner()
				w.Engine, sign = true, func(m []byte) ([]byte, error) { return ed25519.Sign(priv, m), nil }
			} else if k, ok := s.(CommandKeys); ok {
				user, fn, ok := k.CommandSigner()
				if !ok {
					return nil
				}
				w.User, sign = user, fn
			} else {
				return nil
			}
		}
		c, err := canonical(a)
		if err != nil {
			return fmt.Errorf("attesting %s: %w", e.Type, err)
		}
		msg, err := commandSignedBytes(e.Type, &w, c)
		if err != nil {
			return err
		}
		sig, err := sign(msg)
		if err != nil {
			return fmt.Errorf("attesting %s: %w", e.Type, err)
		}
		att := w
		att.Sig = base64.RawURLEncoding.EncodeToString(sig)
		*a.writerField() = &att
	}
	return nil
}

// commandDenied is a command whose writer may not act on its target.
type commandDenied struct {
	principal, role string
	why             string
}

func (d *commandDenied) Error() string { return d.why }

// checkCommand tells whether the writer of command a (event type t) may
// act on task queue queue: nil when it may (or nothing is checked here),
// a *commandDenied when not, another error when the directory could not
// be read (the dispatcher retries).
func checkCommand(ctx context.Context, s any, t EventType, a commandAttrs, queue string) error {
	v, err := verifierOf(ctx, s)
	if err != nil || v == nil {
		return err
	}
	w := *a.writerField()
	if w != nil && w.Engine {
		if !w.verify(t, a, v.pub) {
			return &commandDenied{principal: "engine", why: fmt.Sprintf("permission denied for queue %s: the command's engine signature does not verify", queue)}
		}
		return nil
	}
	dir, ok := s.(CommandKeys)
	if !ok {
		return nil
	}
	user := ""
	if w != nil {
		user = w.User
	}
	r, err := dir.CommandRights(ctx, user)
	switch {
	case errors.Is(err, ErrNoUserDirectory):
		return nil // nobody is limited
	case errors.Is(err, ErrNotFound) && w == nil:
		return &commandDenied{principal: "unknown", why: fmt.Sprintf("permission denied for queue %s: the command names no writer (written without foreman user credentials)", queue)}
	case errors.Is(err, ErrNotFound):
		return &commandDenied{principal: user, why: fmt.Sprintf("permission denied for queue %s: user %s is unknown or revoked", queue, user)}
	case err != nil:
		return fmt.Errorf("checking who wrote %s: %w", t, err)
	}
	if !w.verify(t, a, r.Key) {
		return &commandDenied{principal: user, role: r.Role, why: fmt.Sprintf("permission denied for queue %s: the command is not signed by user %s's key", queue, user)}
	}
	switch {
	case r.Role == "admin", r.Role == "worker" && (len(r.Queues) == 0 || slices.Contains(r.Queues, queue)):
		return nil
	case r.Role == "worker":
		return &commandDenied{principal: user, role: r.Role, why: fmt.Sprintf("permission denied for queue %s: worker %s may act on queue %s only", queue, user, strings.Join(r.Queues, ", "))}
	}
	return &commandDenied{principal: user, role: r.Role, why: fmt.Sprintf("permission denied for queue %s: role %s writes no workflow commands", queue, r.Role)}
}

// verify checks the attestation's signature with key.
func (w *CommandWriter) verify(t EventType, a commandAttrs, key ed25519.PublicKey) bool {
	raw, err := base64.RawURLEncoding.DecodeString(w.Sig)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return false
	}
	msg, err := commandSignedBytes(t, w, a)
	return err == nil && ed25519.Verify(key, msg, raw)
}

// refuseCommand records a refused command in the audit trail (once: the
// record's id names the run, the command's seq and the attempt) and returns the
// failure the commanding workflow sees.
func refuseCommand(ctx context.Context, s Store, h BatchHeader, seq int64, attempt int, action, target string, d *commandDenied) (*Failure, error) {
	if l, ok := s.(audit.Log); ok {
		rec := audit.Record{Time: clockOf(s).Now().UTC(), Principal: d.principal, Role: d.role, Action: action,
			Targets: []string{target}, Reason: "commanded by run " + h.WorkflowID + "/" + h.RunID, Outcome: audit.Refused, Why: d.why}
		id := "denied-" + action + "-" + h.RunID + "-" + strconv.FormatInt(seq, 10) + "-" + strconv.Itoa(attempt)
		if err := l.AppendAudit(ctx, rec, id); err != nil {
			return nil, fmt.Errorf("auditing a refused %s of run %s: %w", action, h.RunID, err)
		}
	}
	return &Failure{Type: permissionDeniedType, Message: d.why, NonRetryable: true}, nil
}

// permissionDeniedType is the failure type of a refused command; the
// workflow reads it back as ErrPermissionDenied.
const permissionDeniedType = "PermissionDenied"

// Is lets workflow code tell a refused command with
// errors.Is(err, ErrPermissionDenied): a child's start, a signal's
// delivery (their *Failure) or an activity (its ApplicationError).
func (f *Failure) Is(target error) bool {
	return target == ErrPermissionDenied && f.Type == permissionDeniedType
}

// Is: see (*Failure).Is.
func (e *ApplicationError) Is(target error) bool {
	return target == ErrPermissionDenied && e.Type == permissionDeniedType
}
