package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/tui"
)

// notifyOpts are the flags of foreman notify and foreman stuck.
type notifyOpts struct {
	on, after, subject, webhook string
	backfill                    bool
	stuckAfter, personAfter     time.Duration
}

var notifySubs = map[string]string{
	"add": operator.ActNotifyAdd, "delete": operator.ActNotifyDelete, "test": operator.ActNotifyTest, "list": "", "describe": "",
}

// notifyCommand manages notification rules: changes go to the engine as
// the notify-* operator actions (operator and admin roles, audited);
// reads come from the rules' buckets.
var notifyCommand = &command{
	name: "notify", args: "list|describe|add|test|delete [NAME]", group: groupNotify,
	summary: "notification rules: a query and a condition that publish to NATS and a webhook",
	action: func(_ *opts, args []string) string {
		if len(args) == 0 {
			return ""
		}
		return notifySubs[args[0]]
	},
	flags: func(fs *flag.FlagSet, o *opts) {
		defineQuery(fs, o, "add: the runs the rule watches (either query dialect; default every run)")
		fs.StringVar(&o.notify.on, "on", "", "add: the condition: "+strings.Join(notify.Conditions, ", "))
		fs.StringVar(&o.notify.after, "after", "", "add: how long a run is stuck, or an approval waits, before the rule fires (default 10m)")
		fs.StringVar(&o.notify.subject, "subject", "", "add: the NATS subject to publish to (default fm.notify.NAME)")
		fs.StringVar(&o.notify.webhook, "webhook", "", "add: also POST each notification (a Slack-compatible JSON body) to this URL")
		fs.BoolVar(&o.notify.backfill, "backfill", false, "add: also notify about runs that met the condition before the rule existed")
	},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		sub := "list"
		if len(args) > 0 {
			sub, args = args[0], args[1:]
		}
		if _, ok := notifySubs[sub]; !ok {
			return usagef("notify: unknown subcommand %q (want list, describe, add, test or delete)", sub)
		}
		if want := map[bool]int{true: 0, false: 1}[sub == "list"]; len(args) != want {
			return usagef("notify %s takes %d argument(s), got %d %q", sub, want, len(args), args)
		}
		switch sub {
		case "add":
			return notifyAdd(ctx, a, o, args[0])
		case "delete", "test":
			if sub == "delete" {
				if err := a.confirm(fmt.Sprintf("delete notification rule %q and its delivery records?", args[0])); err != nil {
					return err
				}
			}
			out, err := a.actions.Perform(ctx, operator.Request{Action: notifySubs[sub], Params: operator.Params{Name: args[0]}})
			if err != nil {
				return err
			}
			a.infof("%s", out.Detail)
			return nil
		}
		if err := a.connect(ctx); err != nil {
			return err
		}
		b, err := jetstream.OpenNotify(ctx, a.node.Conn, 0)
		if err != nil {
			return err
		}
		if sub == "describe" {
			return notifyDescribe(ctx, a, b, args[0])
		}
		return notifyList(ctx, a, b)
	},
}

func notifyAdd(ctx context.Context, a *app, o *opts, name string) error {
	if o.notify.on == "" {
		return usagef("notify add %s: --on is required (%s)", name, strings.Join(notify.Conditions, ", "))
	}
	rule := map[string]any{"name": name, "condition": o.notify.on, "query": o.query, "after": o.notify.after,
		"subject": o.notify.subject, "webhook": o.notify.webhook, "backfill": o.notify.backfill}
	raw, _ := json.Marshal(rule)
	out, err := a.actions.Perform(ctx, operator.Request{Action: operator.ActNotifyAdd, Params: operator.Params{Name: name, Input: raw}})
	if err != nil {
		return err
	}
	a.infof("%s", out.Detail)
	return nil
}

// ruleRow is a rule with what it did, as list and describe print it.
type ruleRow struct {
	jetstream.NotifyRule
	Status     jetstream.NotifyStatus     `json:"status"`
	Sent       int                        `json:"sent"`
	Failed     int                        `json:"failed"`
	Deliveries []jetstream.NotifyDelivery `json:"deliveries,omitempty"`
}

func readRule(ctx context.Context, b *jetstream.Notify, r jetstream.NotifyRule) (ruleRow, error) {
	row := ruleRow{NotifyRule: r}
	var err error
	if row.Status, err = b.Status(ctx, r.Name); err != nil {
		return row, err
	}
	if row.Deliveries, err = b.Deliveries(ctx, r.Name); err != nil {
		return row, err
	}
	row.Sent = len(row.Deliveries)
	for _, d := range row.Deliveries {
		if d.NATS != "ok" || d.Webhook == "failed" {
			row.Failed++
		}
	}
	return row, nil
}

func notifyList(ctx context.Context, a *app, b *jetstream.Notify) error {
	rules, err := b.Rules(ctx)
	if err != nil && len(rules) == 0 {
		return err
	}
	rows := make([]ruleRow, 0, len(rules))
	for _, r := range rules {
		row, err := readRule(ctx, b, r)
		if err != nil {
			return err
		}
		row.Deliveries = nil
		rows = append(rows, row)
	}
	if a.out.format != formatTable {
		return list(a.out, rows)
	}
	t := &table{header: []string{"NAME", "CONDITION", "QUERY", "SUBJECT", "WEBHOOK", "SENT", "FAILED", "EVALUATED", "ERROR"}}
	for _, r := range rows {
		cond := r.Condition
		if r.After != "" {
			cond += " > " + r.After
		}
		t.add(r.Name, cond, r.Query, r.Subject, webhookHost(r.Webhook), fmt.Sprint(r.Sent), fmt.Sprint(r.Failed), when(r.Status.EvaluatedAt), r.Status.Error)
	}
	if len(rows) == 0 {
		a.infof("no notification rules (foreman notify add NAME --on failed)")
		return nil
	}
	return t.print(a.io.out)
}

func notifyDescribe(ctx context.Context, a *app, b *jetstream.Notify, name string) error {
	r, err := b.Rule(ctx, name)
	if err != nil {
		return err
	}
	row, err := readRule(ctx, b, r)
	if err != nil {
		return err
	}
	if a.out.format != formatTable {
		return a.out.value(row)
	}
	w := a.io.out
	fmt.Fprintf(w, "Rule:       %s\nWhat:       %s\nCreated:    %s by %s\nEvaluated:  %s (%d runs meet it)\n",
		r.Name, notify.Describe(r), when(r.CreatedAt), r.CreatedBy, when(row.Status.EvaluatedAt), row.Status.Matched)
	if row.Status.Error != "" {
		fmt.Fprintf(w, "Error:      %s\n", row.Status.Error)
	}
	fmt.Fprintf(w, "Sent:       %d (%d failed)\n\n", row.Sent, row.Failed)
	t := &table{header: []string{"AT", "WORKFLOW ID", "REASON", "NATS", "WEBHOOK", "COMMAND"}}
	for i, d := range row.Deliveries {
		if i == 20 {
			break
		}
		hook := d.Webhook
		if d.WebhookError != "" {
			hook += fmt.Sprintf(" (%d attempts: %s)", d.WebhookAttempts, d.WebhookError)
		}
		t.add(when(d.At), d.WorkflowID, d.Reason, d.NATS, hook, d.Command)
	}
	return t.print(w)
}

// webhookHost shows where a webhook goes without its path, which for
// Slack and most chat services is the secret.
func webhookHost(raw string) string {
	if raw == "" {
		return "-"
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// NotificationRules reads the rules and their deliveries for the
// console's :notifications view (tui.NotificationReader).
func (b *backend) NotificationRules(ctx context.Context) ([]tui.NotificationRule, error) {
	nb, err := jetstream.OpenNotify(ctx, b.store.Conn(), 0)
	if err != nil {
		return nil, err
	}
	rules, err := nb.Rules(ctx)
	if err != nil && len(rules) == 0 {
		return nil, err
	}
	out := make([]tui.NotificationRule, 0, len(rules))
	for _, r := range rules {
		row, err := readRule(ctx, nb, r)
		if err != nil {
			return nil, err
		}
		n := tui.NotificationRule{Name: r.Name, Describe: notify.Describe(r), Condition: r.Condition, EvaluatedAt: row.Status.EvaluatedAt,
			Matched: row.Status.Matched, Error: row.Status.Error, Sent: row.Sent, Failed: row.Failed}
		if r.After != "" {
			n.Condition += " > " + r.After
		}
		for i, d := range row.Deliveries {
			if i == 50 {
				break
			}
			n.Last = append(n.Last, tui.NotificationDelivery{At: d.At, WorkflowID: d.WorkflowID, Reason: d.Reason, NATS: d.NATS, Webhook: d.Webhook, Error: d.WebhookError})
		}
		out = append(out, n)
	}
	return out, nil
}
