package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/foremanhq/foreman/internal/audit"
)

// auditCommand reads the audit trail (stream FM_AUDIT): every operator
// action the engine performed and every attempt it refused, with who.
var auditCommand = &command{
	name: "audit", args: "[-q FILTER] [--follow]", group: groupFind,
	summary: "the audit trail: every operator action and refusal (-q 'outcome=refused principal=bob')",
	flags: func(fs *flag.FlagSet, o *opts) {
		fs.StringVar(&o.query, "q", "", "keep records matching every word (field=value matches one field: principal, role, action, targets, outcome, batch, why)")
		fs.BoolVar(&o.follow, "follow", false, "keep printing new records (with -o json: one per line)")
		fs.BoolVar(&o.follow, "f", false, "same as --follow")
	},
	streams: func(o *opts) bool { return o.follow },
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) > 0 {
			return usagef("audit takes no arguments (filter with -q)")
		}
		if err := a.connect(ctx); err != nil {
			return err
		}
		table := a.out.format == formatTable
		var recs []audit.Record
		if table {
			fmt.Fprintf(a.io.out, "%-24s %-12s %-9s %-16s %-9s %s\n", "TIME", "PRINCIPAL", "ROLE", "ACTION", "OUTCOME", "TARGETS / WHY")
		}
		err := a.node.Store.ReadAudit(ctx, o.follow, func(r audit.Record) error {
			if !r.Matches(o.query) {
				return nil
			}
			switch {
			case table:
				return printAudit(a, r)
			case o.follow:
				b, err := json.Marshal(r)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintf(a.io.out, "%s\n", b)
				return err
			}
			recs = append(recs, r)
			return nil
		})
		if err != nil || table || o.follow {
			return err
		}
		return list(a.out, recs)
	},
}

func printAudit(a *app, r audit.Record) error {
	what := strings.Join(r.Targets, " ")
	if r.Why != "" {
		what = strings.TrimSpace(what + " — " + r.Why)
	} else if r.Reason != "" {
		what = strings.TrimSpace(what + " — " + r.Reason)
	}
	who := r.Principal
	if r.OnBehalfOf != "" && r.OnBehalfOf != r.Principal {
		who += " (for " + r.OnBehalfOf + ")"
	}
	_, err := fmt.Fprintf(a.io.out, "%-24s %-12s %-9s %-16s %-9s %s\n", r.Time.Format("2006-01-02 15:04:05.000"), who, r.Role, r.Action, r.Outcome, what)
	return err
}
