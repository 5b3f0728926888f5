package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// Notification rules (issue 18 scope 4) live in two buckets the engine
// alone writes (operators change rules through fm.api.act, where the
// engine checks the role) and every role but worker reads:
//   - NotifyRulesBucket: rule name -> the rule's JSON;
//   - NotifiedBucket: d.<rule>.<base64url(run id)> -> one delivery, created
//     with compare-and-swap so that a rule fires at most once per run
//     whatever the number of engines and restarts; s.<rule> -> the rule's
//     evaluation status (last evaluation, last error).
const (
	NotifyRulesBucket = "fm_notify_rules"
	NotifiedBucket    = "fm_notified"
)

// NotifyRule is a stored rule; package notify validates and evaluates it.
type NotifyRule struct {
	Name      string    `json:"name"`
	Query     string    `json:"query,omitempty"`
	Condition string    `json:"condition"`
	After     string    `json:"after,omitempty"` // stuck / approval threshold, a Go duration
	Subject   string    `json:"subject"`
	Webhook   string    `json:"webhook,omitempty"`
	Since     time.Time `json:"since,omitzero"` // runs that met the condition earlier are left alone (zero: backfill)
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NotifyDelivery is one rule firing for one run.
type NotifyDelivery struct {
	Rule       string    `json:"rule"`
	WorkflowID string    `json:"workflow_id"`
	RunID      string    `json:"run_id"`
	Reason     string    `json:"reason"`
	Command    string    `json:"command,omitempty"`
	At         time.Time `json:"at"`
	Engine     string    `json:"engine,omitempty"` // the engine instance that claimed it
	NATS       string    `json:"nats"`             // ok, or why the publish failed
	// Webhook is "" (no webhook), pending, ok or failed; WebhookAttempts
	// and WebhookError say how it went.
	Webhook         string    `json:"webhook,omitempty"`
	WebhookAttempts int       `json:"webhook_attempts,omitempty"`
	WebhookError    string    `json:"webhook_error,omitempty"`
	WebhookAt       time.Time `json:"webhook_at,omitzero"`
}

// NotifyStatus is how a rule's last evaluation went.
type NotifyStatus struct {
	Rule        string    `json:"rule"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	Matched     uint64    `json:"matched"`
	Error       string    `json:"error,omitempty"`
}

// Notify is the two notification buckets. It is safe for concurrent use.
type Notify struct {
	rules, notified natsjs.KeyValue
}

// OpenNotify opens (creating when absent) the notification buckets on nc;
// replicas 0 means 1.
func OpenNotify(ctx context.Context, nc *nats.Conn, replicas int) (*Notify, error) {
	rules, err := openBucket(ctx, nc, natsjs.KeyValueConfig{Bucket: NotifyRulesBucket, Description: "Foreman notification rules: name -> rule",
		History: 1, Storage: natsjs.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	notified, err := openBucket(ctx, nc, natsjs.KeyValueConfig{Bucket: NotifiedBucket, Description: "Foreman notifications sent: one key per (rule, run)",
		History: 1, Storage: natsjs.FileStorage, Replicas: max(replicas, 1)})
	if err != nil {
		return nil, err
	}
	return &Notify{rules: rules, notified: notified}, nil
}

// PutRule stores r, replacing a rule of that name (the caller validated
// the name: a KV token).
func (n *Notify) PutRule(ctx context.Context, r NotifyRule) error {
	val, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding rule %q: %w", r.Name, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if _, err := n.rules.Put(ctx, r.Name, val); err != nil {
		return fmt.Errorf("saving rule %q: %w", r.Name, mapPublishError(err))
	}
	return nil
}

// Rule returns the rule called name, or engine.ErrNotFound.
func (n *Notify) Rule(ctx context.Context, name string) (NotifyRule, error) {
	var r NotifyRule
	found, err := getJSON(ctx, n.rules, name, "rule "+name, &r)
	if err == nil && !found {
		err = fmt.Errorf("notification rule %q: %w", name, engine.ErrNotFound)
	}
	return r, err
}

// getJSON decodes the value under key into v; found is false when there
// is none (or key cannot be one). what names the value in errors.
func getJSON(ctx context.Context, kv natsjs.KeyValue, key, what string, v any) (found bool, err error) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	e, err := kv.Get(ctx, key)
	if errors.Is(err, natsjs.ErrKeyNotFound) || errors.Is(err, natsjs.ErrInvalidKey) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", what, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return true, fmt.Errorf("decoding %s: %w", what, err)
	}
	return true, nil
}

// Rules lists every rule, sorted by name. A rule that does not decode is
// skipped and named in the error beside the others (one bad record never
// stops the rest from firing).
func (n *Notify) Rules(ctx context.Context) ([]NotifyRule, error) {
	var out []NotifyRule
	var bad []error
	err := watchAll(ctx, n.rules, ">", func(e natsjs.KeyValueEntry) {
		var r NotifyRule
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			bad = append(bad, fmt.Errorf("decoding rule %s: %w", e.Key(), err))
			return
		}
		out = append(out, r)
	})
	if err != nil {
		return nil, fmt.Errorf("listing notification rules: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(bad...)
}

// DeleteRule removes the rule and what it delivered (a rule added again
// under the name starts afresh); engine.ErrNotFound if there is none.
func (n *Notify) DeleteRule(ctx context.Context, name string) error {
	if _, err := n.Rule(ctx, name); err != nil {
		return err
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if err := n.rules.Delete(ctx, name); err != nil {
		return fmt.Errorf("deleting rule %q: %w", name, err)
	}
	var keys []string
	if err := watchAll(ctx, n.notified, "d."+name+".>", func(e natsjs.KeyValueEntry) { keys = append(keys, e.Key()) }); err != nil {
		return fmt.Errorf("deleting the deliveries of rule %q: %w", name, err)
	}
	for _, k := range append(keys, "s."+name) {
		if err := n.notified.Purge(ctx, k); err != nil && !errors.Is(err, natsjs.ErrKeyNotFound) {
			return fmt.Errorf("deleting the deliveries of rule %q: %w", name, err)
		}
	}
	return nil
}

func deliveryKey(rule, runID string) string {
	return "d." + rule + "." + base64.RawURLEncoding.EncodeToString([]byte(runID))
}

// ErrDelivered is what ClaimDelivery returns when the rule already fired
// for the run (here or on another engine).
var ErrDelivered = errors.New("already notified")

// ClaimDelivery records d before anything is sent: created only if no
// delivery of (d.Rule, d.RunID) exists, so exactly one engine sends it,
// once. It returns the revision UpdateDelivery needs.
func (n *Notify) ClaimDelivery(ctx context.Context, d NotifyDelivery) (uint64, error) {
	val, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("encoding a delivery of %q: %w", d.Rule, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	rev, err := n.notified.Create(ctx, deliveryKey(d.Rule, d.RunID), val)
	if errors.Is(err, natsjs.ErrKeyExists) {
		return 0, ErrDelivered
	}
	if err != nil {
		return 0, fmt.Errorf("claiming the delivery of %q for run %s: %w", d.Rule, d.RunID, mapPublishError(err))
	}
	return rev, nil
}

// UpdateDelivery replaces the delivery at rev (compare-and-swap) and
// returns the new revision.
func (n *Notify) UpdateDelivery(ctx context.Context, d NotifyDelivery, rev uint64) (uint64, error) {
	val, err := json.Marshal(d)
	if err != nil {
		return 0, fmt.Errorf("encoding a delivery of %q: %w", d.Rule, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	rev, err = n.notified.Update(ctx, deliveryKey(d.Rule, d.RunID), val, rev)
	if err != nil {
		return 0, fmt.Errorf("updating the delivery of %q for run %s: %w", d.Rule, d.RunID, mapPublishError(err))
	}
	return rev, nil
}

// Deliveries lists the rule's deliveries, newest first.
func (n *Notify) Deliveries(ctx context.Context, rule string) ([]NotifyDelivery, error) {
	var out []NotifyDelivery
	err := watchAll(ctx, n.notified, "d."+rule+".>", func(e natsjs.KeyValueEntry) {
		var d NotifyDelivery
		if json.Unmarshal(e.Value(), &d) == nil {
			out = append(out, d)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("listing the deliveries of %q: %w", rule, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// PutStatus records how the rule's last evaluation went.
func (n *Notify) PutStatus(ctx context.Context, s NotifyStatus) error {
	val, _ := json.Marshal(s)
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if _, err := n.notified.Put(ctx, "s."+s.Rule, val); err != nil {
		return fmt.Errorf("saving the status of rule %q: %w", s.Rule, mapPublishError(err))
	}
	return nil
}

// Status returns the rule's last evaluation status (zero when none yet).
func (n *Notify) Status(ctx context.Context, rule string) (NotifyStatus, error) {
	var s NotifyStatus
	_, err := getJSON(ctx, n.notified, "s."+rule, "the status of rule "+rule, &s)
	return s, err
}

// watchAll calls fn with every current entry under filter.
func watchAll(ctx context.Context, kv natsjs.KeyValue, filter string, fn func(natsjs.KeyValueEntry)) error {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	w, err := kv.Watch(ctx, filter, natsjs.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-w.Updates():
			if !ok || e == nil { // nil: every current value delivered
				return nil
			}
			fn(e)
		}
	}
}

// NotifySubjectPrefix is the engine's namespace for notifications: every
// role but worker may subscribe under it.
const NotifySubjectPrefix = "fm.notify."
