package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/foremanhq/foreman/internal/actwire"
)

// Notification rules (issue 18 scope 4) are changed as operator actions:
// the request goes to the engine on fm.api.act.<user>.<action> like every
// other, the engine checks the role against the catalog (operator and
// admin; viewers read the rules, they do not change them) and audits it,
// then keeps the rule in its own bucket, which no client may write.
const (
	ActNotifyAdd    = "notify-add"
	ActNotifyDelete = "notify-delete"
	ActNotifyTest   = "notify-test"
)

// Rules manages notification rules. The engine's implementation (package
// notify) validates and stores them; a client's (RemoteRules) sends the
// request to the engine.
type Rules interface {
	// Put validates and stores a rule given as JSON, by who, replacing one
	// of the same name; detail says what the rule does.
	Put(ctx context.Context, by string, rule json.RawMessage) (detail string, err error)
	// Delete removes the rule called name and its delivery records.
	Delete(ctx context.Context, name string) error
	// Test sends one test notification through the rule's subject and
	// webhook at once and says how each went.
	Test(ctx context.Context, name string) (detail string, err error)
}

func init() {
	for _, a := range notifyActions() {
		Default.Register(a)
	}
}

func notifyActions() []Action {
	rules := func(env Env) (Rules, error) {
		if env.Rules == nil {
			return nil, errors.New("no notification rules here (the engine serves them)")
		}
		return env.Rules, nil
	}
	return []Action{
		{
			Name: ActNotifyAdd, Verb: "notify add", Write: true, Needs: Needs{Input: true},
			Summary: "add or replace a notification rule",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				r, err := rules(env)
				if err != nil {
					return Outcome{}, err
				}
				detail, err := r.Put(ctx, env.Identity, p.Input)
				return Outcome{Detail: detail}, err
			},
		},
		{
			Name: ActNotifyDelete, Verb: "notify delete", Write: true, Destructive: true, Needs: Needs{Confirm: true},
			Summary: "delete a notification rule and its delivery records",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				r, err := rules(env)
				if err != nil {
					return Outcome{}, err
				}
				return Outcome{Detail: "deleted rule " + p.Name}, r.Delete(ctx, p.Name)
			},
		},
		{
			// A write: it reaches the rule's receivers.
			Name: ActNotifyTest, Verb: "notify test", Write: true,
			Summary: "send a test notification through a rule's subject and webhook",
			Do: func(ctx context.Context, env Env, _ Target, p Params) (Outcome, error) {
				r, err := rules(env)
				if err != nil {
					return Outcome{}, err
				}
				detail, err := r.Test(ctx, p.Name)
				return Outcome{Detail: detail}, err
			},
		},
	}
}

// Requester sends a request to the engine and returns its answer
// (jetstream.Store.Request).
type Requester func(ctx context.Context, subject string, data []byte) ([]byte, error)

// RemoteRules is a client's Rules: each call is the action's request to
// the engine as user, which checks and performs it.
func RemoteRules(request Requester, user string) Rules {
	return remoteRules{request: request, user: user}
}

type remoteRules struct {
	request Requester
	user    string
}

func (r remoteRules) call(ctx context.Context, action string, req actwire.Request) (string, error) {
	req.BatchID = actwire.BatchOf(ctx)
	data, _ := json.Marshal(req)
	out, err := r.request(ctx, actwire.Subject(r.user, action), data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", action, err)
	}
	var rep actwire.Reply
	if err := json.Unmarshal(out, &rep); err != nil {
		return "", fmt.Errorf("%s: malformed answer from the engine: %w", action, err)
	}
	return rep.Detail, actwire.Error(rep)
}

func (r remoteRules) Put(ctx context.Context, _ string, rule json.RawMessage) (string, error) {
	return r.call(ctx, ActNotifyAdd, actwire.Request{Input: rule})
}

func (r remoteRules) Delete(ctx context.Context, name string) error {
	_, err := r.call(ctx, ActNotifyDelete, actwire.Request{Name: name})
	return err
}

func (r remoteRules) Test(ctx context.Context, name string) (string, error) {
	return r.call(ctx, ActNotifyTest, actwire.Request{Name: name})
}
