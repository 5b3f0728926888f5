package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// Options configure a Service.
type Options struct {
	Store *jetstream.Notify
	// Search is the engine's own index.
	Search func(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error)
	// Publish sends one NATS message (the engine's connection).
	Publish func(subject string, data []byte) error
	// Interval between evaluations of every rule (default 5s): with the
	// index's lag, how late a notification may be.
	Interval time.Duration
	// Lookback: each evaluation reads the runs that met a condition since
	// the previous evaluation minus Lookback (default 10m), which covers
	// the index's lag; the first one after a start reads back to the rule's
	// creation (deliveries already claimed are not sent again).
	Lookback time.Duration
	// MaxPerRule bounds the runs one evaluation of a rule reads (default
	// 1000); the rest are read by the next evaluations.
	MaxPerRule int
	Webhook    WebhookOptions
	// Engine names this engine in the deliveries it claims.
	Engine string
	Now    func() time.Time
	Log    *slog.Logger
}

// Service evaluates the rules and sends the notifications. It implements
// operator.Rules for the engine's action service.
type Service struct {
	o     Options
	hooks *webhooks
	Stats *Stats

	mu     sync.Mutex
	floors map[string]time.Time       // rule -> start of its last clean evaluation
	seen   map[string]map[string]bool // rule -> runs claimed (here or elsewhere)
}

var _ operator.Rules = (*Service)(nil)

// New returns a service; Run evaluates the rules until its context ends.
func New(o Options) *Service {
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	if o.Lookback <= 0 {
		o.Lookback = 10 * time.Minute
	}
	if o.MaxPerRule <= 0 {
		o.MaxPerRule = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	st := &Stats{}
	s := &Service{o: o, Stats: st, floors: map[string]time.Time{}, seen: map[string]map[string]bool{}}
	s.hooks = newWebhooks(o.Webhook, o.Store, st, o.Log)
	return s
}

// Run evaluates every rule each Interval and posts webhooks until ctx
// ends; it returns ctx's error.
func (s *Service) Run(ctx context.Context) error {
	stop := s.hooks.start(ctx)
	defer stop()
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		s.Evaluate(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Evaluate runs every rule once (Run calls it each Interval).
func (s *Service) Evaluate(ctx context.Context) {
	rules, err := s.o.Store.Rules(ctx)
	if err != nil {
		s.o.Log.Warn("reading notification rules", "err", err)
	}
	for _, r := range rules {
		if ctx.Err() != nil {
			return
		}
		start := s.o.Now()
		n, complete, err := s.evaluate(ctx, r)
		st := jetstream.NotifyStatus{Rule: r.Name, EvaluatedAt: start, Matched: n}
		if err != nil {
			st.Error = err.Error()
			s.o.Log.Warn("notification rule failed", "rule", r.Name, "err", err)
		} else if complete {
			// Only a complete evaluation moves the floor: what a capped one
			// left is read again by the next.
			s.mu.Lock()
			s.floors[r.Name] = start
			s.mu.Unlock()
		}
		if err := s.o.Store.PutStatus(ctx, st); err != nil && ctx.Err() == nil {
			s.o.Log.Warn("saving a notification rule's status", "rule", r.Name, "err", err)
		}
	}
}

// evaluate sends r's notifications for the runs newly meeting its
// condition, at most MaxPerRule of them, and returns how many runs meet it
// and whether it read them all.
func (s *Service) evaluate(ctx context.Context, r Rule) (matched uint64, complete bool, err error) {
	s.mu.Lock()
	floor := r.Since
	if last, ok := s.floors[r.Name]; ok && last.Add(-s.o.Lookback).After(floor) {
		floor = last.Add(-s.o.Lookback)
	}
	seen := s.seen[r.Name]
	if seen == nil || len(seen) > 100_000 {
		seen = map[string]bool{} // the KV still refuses a second claim
		s.seen[r.Name] = seen
	}
	s.mu.Unlock()
	req := searchapi.SearchRequest{Query: conditionQuery(r, floor), Size: 200, Sort: []string{"last_event_time"}}
	// Runs already claimed are skipped without a KV round trip, but still
	// read: reading is bounded apart from sending.
	for sent, read := 0, 0; sent < s.o.MaxPerRule && read < 20*s.o.MaxPerRule; {
		res, err := s.o.Search(ctx, req)
		if err != nil {
			return matched, false, fmt.Errorf("searching %q: %w", req.Query, err)
		}
		matched = max(matched, res.Total)
		for i := range res.Hits {
			d := &res.Hits[i]
			s.mu.Lock()
			done := seen[d.RunID]
			s.mu.Unlock()
			if done || sent >= s.o.MaxPerRule {
				continue
			}
			if err := s.deliver(ctx, r, d); err != nil {
				return matched, false, err
			}
			sent++
			s.mu.Lock()
			seen[d.RunID] = true
			s.mu.Unlock()
		}
		read += len(res.Hits)
		if len(res.Next) == 0 || len(res.Hits) == 0 {
			return matched, sent < s.o.MaxPerRule, nil
		}
		req.After = res.Next
	}
	return matched, false, nil
}

// deliver claims (r, d's run) and, if this engine got it, sends it.
func (s *Service) deliver(ctx context.Context, r Rule, doc *searchapi.Doc) error {
	now := s.o.Now()
	m := message(r, doc, now)
	d := jetstream.NotifyDelivery{Rule: r.Name, WorkflowID: doc.WorkflowID, RunID: doc.RunID, Reason: m.Reason, Command: m.Command,
		At: now, Engine: s.o.Engine, NATS: "sending"}
	if r.Webhook != "" {
		d.Webhook = webhookPending
	}
	rev, err := s.o.Store.ClaimDelivery(ctx, d)
	if errors.Is(err, jetstream.ErrDelivered) {
		return nil
	}
	if err != nil {
		return err
	}
	// Claimed: from here on the notification is this engine's to send,
	// and nobody else's (at most once: a crash now loses it).
	body := m.encode()
	d.NATS = "ok"
	if err := s.o.Publish(r.Subject, body); err != nil {
		d.NATS = "failed: " + err.Error()
		s.Stats.add(&s.Stats.NATSFailed)
	} else {
		s.Stats.add(&s.Stats.Published)
	}
	if rev, err = s.o.Store.UpdateDelivery(ctx, d, rev); err != nil {
		s.o.Log.Warn("recording a notification", "rule", r.Name, "run", d.RunID, "err", err)
	}
	if r.Webhook != "" {
		s.hooks.enqueue(hookJob{url: r.Webhook, body: body, d: d, rev: rev})
	}
	return nil
}

// ruleInput is the JSON of the notify-add action: the rule, and whether
// it also fires for runs that met the condition before it existed.
type ruleInput struct {
	Rule
	Backfill bool `json:"backfill,omitempty"`
}

// Put validates and stores a rule (operator.Rules).
func (s *Service) Put(ctx context.Context, by string, raw json.RawMessage) (string, error) {
	var in ruleInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return "", fmt.Errorf("%w: notification rule: %v", engine.ErrInvalidArgument, err)
	}
	r := in.Rule
	if err := Validate(&r); err != nil {
		return "", err
	}
	if err := s.checkQuery(ctx, r); err != nil {
		return "", err
	}
	now := s.o.Now().UTC()
	r.CreatedBy, r.CreatedAt, r.UpdatedAt, r.Since = by, now, now, now
	if old, err := s.o.Store.Rule(ctx, r.Name); err == nil {
		r.CreatedBy, r.CreatedAt = old.CreatedBy, old.CreatedAt
	}
	if in.Backfill {
		r.Since = time.Time{}
	}
	if err := s.o.Store.PutRule(ctx, r); err != nil {
		return "", err
	}
	return "rule " + r.Name + ": " + Describe(r), nil
}

// checkQuery refuses a rule whose query the index rejects; a condition on
// a field this index does not have yet (dead_lettered before pause's
// fields) is only an error when its query has a field of its own wrong.
func (s *Service) checkQuery(ctx context.Context, r Rule) error {
	if s.o.Search == nil {
		return nil
	}
	_, err := s.o.Search(ctx, searchapi.SearchRequest{Query: conditionQuery(r, time.Now()), Size: 1})
	var api *searchapi.APIError
	if errors.As(err, &api) && api.Code == searchapi.CodeBadQuery {
		if _, err2 := s.o.Search(ctx, searchapi.SearchRequest{Query: r.Query, Size: 1}); err2 != nil || r.Condition != CondDeadLettered {
			return fmt.Errorf("%w: rule %s: query: %v", engine.ErrInvalidArgument, r.Name, err)
		}
	}
	return nil
}

// Delete removes a rule and its deliveries (operator.Rules).
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.o.Store.DeleteRule(ctx, name); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.seen, name)
	delete(s.floors, name)
	s.mu.Unlock()
	return nil
}

// Test publishes a test notification of the rule and posts it to its
// webhook once, at once, and says how both went (operator.Rules).
func (s *Service) Test(ctx context.Context, name string) (string, error) {
	r, err := s.o.Store.Rule(ctx, name)
	if err != nil {
		return "", err
	}
	now := s.o.Now()
	m := Message{Rule: r.Name, Condition: r.Condition, WorkflowID: "test", RunID: "test", Reason: "a test of rule " + r.Name,
		Command: "foreman notify describe " + r.Name, At: now, Test: true}
	m.Text = fmt.Sprintf("[foreman] %s: test notification (%s)", r.Name, Describe(r))
	body := m.encode()
	if err := s.o.Publish(r.Subject, body); err != nil {
		return "", fmt.Errorf("publishing to %s: %w", r.Subject, err)
	}
	detail := "published to " + r.Subject
	if r.Webhook != "" {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.hooks.post(tctx, r.Webhook, body); err != nil {
			return "", fmt.Errorf("%s; webhook: %w", detail, err)
		}
		detail += "; webhook answered 2xx"
	}
	if s.o.Search != nil {
		if res, err := s.o.Search(ctx, searchapi.SearchRequest{Query: conditionQuery(r, time.Time{}), Size: 1}); err == nil {
			detail += fmt.Sprintf("; %d run(s) meet the condition now", res.Total)
		}
	}
	return detail, nil
}

// Describe says what a rule does, in one line.
func Describe(r Rule) string {
	var s string
	switch r.Condition {
	case CondStuck:
		s = "runs stuck for " + r.After
	case CondApproval:
		s = "runs waiting on an approval for " + r.After
	case CondFailed:
		s = "runs that fail"
	case CondDeadLettered:
		s = "runs dead-lettered"
	default:
		s = "runs meeting " + r.Condition
	}
	if r.Query != "" {
		s += " matching " + r.Query
	}
	s += " -> " + r.Subject
	if r.Webhook != "" {
		s += " + webhook"
	}
	return s
}

// httpClient is the webhooks' client: a timeout per attempt, so that a
// receiver that hangs holds one sender for that long, no more.
func httpClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout}
}
