package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/operator/stuck"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// stuckCommand prints the groups the console's :stuck view shows above
// its list: stuck runs by cause, with counts and the command that acts on
// each group as a batch.
var stuckCommand = &command{
	name: "stuck", args: "[-q SCOPE] [--after 10m]", group: groupHealth,
	summary: "stuck runs grouped by cause, with counts and the batch command that fits each group",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineQuery(fs, o, "only runs matching this query too")
		fs.DurationVar(&o.notify.stuckAfter, "after", stuck.DefaultAfter, "a run without a history event for this long is stuck")
		fs.DurationVar(&o.notify.personAfter, "person-after", 0, "an approval waiting this long counts (default --after)")
	},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) > 0 {
			return usagef("stuck takes no arguments, got %q (scope it with -q)", args)
		}
		if o.notify.stuckAfter < time.Second {
			return usagef("--after %v: want at least 1s", o.notify.stuckAfter)
		}
		opt := stuck.Options{Scope: o.query, After: o.notify.stuckAfter, PersonAfter: o.notify.personAfter}
		s, err := a.searcher(ctx)
		if err != nil {
			return err
		}
		pulse := searchapi.NewClient(a.node.Store)
		src := stuck.Source{Search: s.Search, Count: s.Count, Queues: func(ctx context.Context) ([]searchapi.QueueHealth, error) {
			p, err := pulse.Pulse(ctx, searchapi.PulseRequest{Seconds: 1})
			return p.Queues, err
		}}
		d, err := stuck.Diagnose(ctx, src, opt)
		if err != nil {
			return err
		}
		if a.out.format != formatTable {
			return a.out.value(d)
		}
		if len(d.Groups) == 0 {
			a.infof("no run stuck for %s", d.After)
			return nil
		}
		t := &table{header: []string{"RUNS", "CAUSE", "WHAT", "ACT"}}
		for _, g := range d.Groups {
			act := g.Command
			if act == "" {
				act = g.Hint
			}
			t.add(fmt.Sprint(g.Count), string(g.Cause), g.Title, act)
		}
		if err := t.print(a.io.out); err != nil {
			return err
		}
		note := fmt.Sprintf("%d runs stuck for %s (approvals waiting %s)", d.Total, d.After, d.PersonAfter)
		if d.Partial {
			note += fmt.Sprintf("; only the %d quiet runs read first are grouped", d.Scanned)
		}
		a.infof("%s; the batch commands take --dry-run", strings.TrimSpace(note))
		return nil
	},
}
