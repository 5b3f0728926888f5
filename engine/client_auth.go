package engine

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/foremanhq/foreman/internal/actwire"
)

func init() {
	// The sentinels an action's answer carries across the wire, most
	// specific first.
	for _, c := range []struct {
		code string
		err  error
	}{
		{"permission_denied", ErrPermissionDenied}, {"not_approver", ErrNotApprover},
		{"no_such_approval", ErrNoSuchApproval}, {"imported_run", ErrImportedRun}, {"run_closed", ErrRunClosed},
		{"workflow_not_found", ErrWorkflowNotFound}, {"already_started", ErrAlreadyStarted},
		{"history_limit", ErrHistoryLimit}, {"bad_reset_point", ErrBadResetPoint},
		{"invalid_argument", ErrInvalidArgument}, {"busy", ErrBusy}, {"not_found", ErrNotFound},
		{"no_responders", ErrNoResponders}, {"too_large", ErrTooLarge},
	} {
		actwire.Register(c.code, c.err)
	}
}

// acting is who a client acts as.
type acting struct {
	principal  string   // the authenticated user, recorded as who acted
	groups     []string // the principal's groups (approvers "group:NAME")
	onBehalfOf string   // the self-declared identity, when it differs
	served     bool     // the engine acting for a request: never forward it
}

// userOf is what a store offers when its connection authenticated as a
// user (jetstream.Store reads it from its credentials).
type userOf interface{ User() string }

func newActing(s Store, opts ClientOptions) acting {
	p := opts.Principal
	if u, ok := s.(userOf); ok && p == "" {
		p = u.User()
	}
	if p == "" {
		p = opts.Identity
	}
	a := acting{principal: p}
	if opts.Identity != p {
		a.onBehalfOf = opts.Identity
	}
	return a
}

// Acting is who the engine performs a requested action for.
type Acting struct {
	Principal  string
	Groups     []string
	OnBehalfOf string
}

// As returns a client of the same store that acts as a: the engine's
// action service performs each request through one. It appends itself
// (with the engine's key, signing), never forwarding to the engine.
func (c *Client) As(a Acting) *Client {
	n := *c
	n.acting = acting{principal: a.Principal, groups: a.Groups, onBehalfOf: a.OnBehalfOf, served: true}
	if n.onBehalfOf == a.Principal {
		n.onBehalfOf = ""
	}
	return &n
}

// Principal is the authenticated user the client acts as.
func (c *Client) Principal() string { return c.principal }

// requester is what a store offers to send requests to the engine
// (jetstream.Store.Request).
type requester interface {
	Request(ctx context.Context, subject string, req []byte) ([]byte, error)
}

// forward reports whether operator actions must be sent to the engine
// rather than appended: the deployment signs operator events (a key is
// published) and this process does not hold the key.
func (c *Client) forward(ctx context.Context) (requester, bool) {
	if c.served {
		return nil, false
	}
	if k, ok := c.store.(OperatorKeys); !ok || k.OperatorSigner() != nil {
		return nil, false
	}
	r, ok := c.store.(requester)
	if !ok {
		return nil, false
	}
	v, err := verifierOf(ctx, c.store)
	if err == nil && v == nil {
		// The store may remember a "none" read before the engine
		// published its key (this client connected while it started):
		// an event appended unsigned now would be rejected as forged
		// after the caller was told it was recorded. Read it again.
		rc, ok := c.store.(keyRechecker)
		if !ok {
			return nil, false
		}
		if pub, err := rc.RecheckOperatorPublicKey(ctx); err == nil && pub == nil {
			return nil, false
		}
	}
	// a key is published, or cannot be read (then the engine decides, and
	// nothing unsigned is appended)
	return r, true
}

// keyRechecker is what a store offers (jetstream.Store does) whose
// OperatorPublicKey remembers a "none" for a while: the key read again.
type keyRechecker interface {
	RecheckOperatorPublicKey(ctx context.Context) (ed25519.PublicKey, error)
}

// act sends an operator action to the engine and returns its answer.
func (c *Client) act(ctx context.Context, r requester, action string, req actwire.Request) (actwire.Reply, error) {
	if req.OnBehalfOf == "" {
		req.OnBehalfOf = c.onBehalfOf
	}
	req.BatchID = actwire.BatchOf(ctx)
	data, _ := json.Marshal(req)
	resp, err := r.Request(ctx, actwire.Subject(c.principal, action), data)
	if err != nil {
		return actwire.Reply{}, fmt.Errorf("%s: %w", action, err)
	}
	var rep actwire.Reply
	if err := json.Unmarshal(resp, &rep); err != nil {
		return actwire.Reply{}, fmt.Errorf("%s: malformed answer from the engine: %w", action, err)
	}
	return rep, actwire.Error(rep)
}

// stamp records who acts on the operator events among events.
func (c *Client) stamp(events []Event) {
	for _, e := range events {
		if a, ok := e.Attrs.(operatorAttrs); ok {
			a.stamp(c.principal, c.onBehalfOf)
		}
	}
}

// mayDecide is the engine's check of a decision on p by this client's
// principal: the approvers (users and "group:NAME"), then four-eyes. The
// error names the rule that refused.
func (c *Client) mayDecide(x *Execution, p PendingApproval) error {
	who := c.principal
	if len(p.Approvers) > 0 && !slices.ContainsFunc(p.Approvers, func(a string) bool {
		g, isGroup := strings.CutPrefix(a, "group:")
		return a == who || isGroup && slices.Contains(c.groups, g)
	}) {
		return fmt.Errorf("%w: %q may not decide approval %q: rule approvers (allowed: %s)", ErrNotApprover, who, p.Name, strings.Join(p.Approvers, ", "))
	}
	if p.FourEyes && x.StartedBy != "" && x.StartedBy == who {
		return fmt.Errorf("%w: %q may not decide approval %q: rule four-eyes (%s started the run)", ErrNotApprover, who, p.Name, who)
	}
	if p.NotByField != "" {
		var in map[string]any
		if json.Unmarshal(x.Input, &in) == nil {
			if v, _ := in[p.NotByField].(string); v != "" && v == who {
				return fmt.Errorf("%w: %q may not decide approval %q: rule four-eyes (%s is the input's %s)", ErrNotApprover, who, p.Name, who, p.NotByField)
			}
		}
	}
	return nil
}
