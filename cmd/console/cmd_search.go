package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// maxPage is the largest page the search API serves.
const maxPage = 1000

var listCommand = &command{
	name: "list", args: "[QUERY]", group: groupFind,
	summary: "runs matching a query (bleve syntax or Temporal list filter)",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineQuery(fs, o, "the query (same as the QUERY argument)")
		fs.StringVar(&o.sortBy, "sort", "", "comma-separated fields, - first for descending (default -start_time)")
		fs.IntVar(&o.limit, "limit", 50, "print at most this many runs")
		fs.BoolVar(&o.all, "all", false, "print every match (pages through them)")
	},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		query, err := queryArg("list", o, args)
		if err != nil {
			return err
		}
		if o.limit < 1 && !o.all {
			return usagef("--limit %d: must be at least 1 (or use --all)", o.limit)
		}
		s, err := a.searcher(ctx)
		if err != nil {
			return err
		}
		req := searchapi.SearchRequest{Query: query, Sort: splitList(o.sortBy)}
		var hits []searchapi.Doc
		var total uint64
		for {
			want := maxPage
			if !o.all {
				want = min(o.limit-len(hits), maxPage)
			}
			req.Size = want
			res, err := s.Search(ctx, req)
			if err != nil {
				return err
			}
			total = res.Total
			hits = append(hits, res.Hits...)
			if len(res.Next) == 0 || len(res.Hits) == 0 || (!o.all && len(hits) >= o.limit) {
				break
			}
			req.After = res.Next
		}
		if uint64(len(hits)) < total {
			a.infof("%d of %d matches shown (--limit N or --all for more)", len(hits), total)
		}
		if a.out.format != formatTable {
			return list(a.out, listed(hits, time.Now()))
		}
		return printDocs(a, hits)
	},
}

// listedDoc is a run as list prints it in JSON: the index's document and
// its duration in human units ("duration", added). For a running run the
// index holds the time to its newest event, which reads as "1 ms" for a
// run waiting since yesterday: duration and duration_ms are the time since
// its start instead.
type listedDoc struct {
	searchapi.Doc
	Duration string `json:"duration"`
}

func listed(docs []searchapi.Doc, now time.Time) []listedDoc {
	out := make([]listedDoc, len(docs))
	for i, d := range docs {
		end := d.CloseTime
		if end.IsZero() && !d.StartTime.IsZero() {
			end = now
			d.DurationMS = max(now.Sub(d.StartTime).Milliseconds(), 0)
		}
		out[i] = listedDoc{Doc: d}
		if !d.StartTime.IsZero() {
			out[i].Duration = max(end.Sub(d.StartTime), 0).Round(time.Millisecond).String()
		}
	}
	return out
}

func printDocs(a *app, docs []searchapi.Doc) error {
	t := &table{header: []string{"WORKFLOW ID", "TYPE", "STATUS", "STARTED", "WAITING ON", "STATUS LINE", "RUN ID"}}
	for _, d := range docs {
		line := d.StatusLine
		if d.Progress != nil && d.Progress.Total > 0 {
			line = fmt.Sprintf("[%d/%d] %s", d.Progress.Done, d.Progress.Total, line)
		}
		t.add(d.WorkflowID, d.Type, string(d.Status), when(d.StartTime), d.WaitingOn, clip(line, 60), d.RunID)
	}
	return t.print(a.io.out)
}

// queryArg takes the query from -q or the one positional argument.
func queryArg(cmd string, o *opts, args []string) (string, error) {
	switch {
	case len(args) > 1:
		return "", usagef("%s takes one QUERY argument; quote it: foreman %s '%s'", cmd, cmd, strings.Join(args, " "))
	case len(args) == 1 && o.query != "":
		return "", usagef("%s: give the query either as an argument or with -q, not both", cmd)
	case len(args) == 1:
		return args[0], nil
	}
	return o.query, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

var countCommand = &command{
	name: "count", args: "[QUERY] [--group-by FIELD]", group: groupFind,
	summary: "count matching runs, optionally per value of a field",
	flags: func(fs *flag.FlagSet, o *opts) {
		defineQuery(fs, o, "the query (same as the QUERY argument)")
		fs.StringVar(&o.groupBy, "group-by", "", "count per value of this field (status, type, task_queue, waiting_on, …)")
	},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		query, err := queryArg("count", o, args)
		if err != nil {
			return err
		}
		s, err := a.searcher(ctx)
		if err != nil {
			return err
		}
		res, err := s.Count(ctx, searchapi.CountRequest{Query: query, GroupBy: o.groupBy})
		if err != nil {
			return err
		}
		out := countOut{CountResult: res}
		var sum uint64
		for _, g := range res.Groups {
			sum += g.Count
		}
		if o.groupBy != "" {
			// Runs without a value of the field are in no group: say how
			// many, so the groups add up to the total.
			other := res.Total - min(sum, res.Total)
			out.Other = &other
			if sum > res.Total {
				a.infof("a run can hold several values of %s: the groups add up to %d, more than the %d runs", o.groupBy, sum, res.Total)
			}
		}
		if a.out.format != formatTable {
			return a.out.value(out)
		}
		if o.groupBy == "" {
			_, err := fmt.Fprintln(a.io.out, res.Total)
			return err
		}
		t := &table{header: []string{strings.ToUpper(o.groupBy), "COUNT"}}
		for _, g := range res.Groups {
			t.add(g.Value, fmt.Sprint(g.Count))
		}
		if *out.Other > 0 {
			label := "(none)"
			if len(res.Groups) >= 1000 { // the index lists at most 1,000 groups
				label = "(other)"
			}
			t.add(label, fmt.Sprint(*out.Other))
		}
		t.add("TOTAL", fmt.Sprint(res.Total))
		return t.print(a.io.out)
	},
}

// countOut is what count prints: the index's counts and, when grouped,
// how many runs have no value of the field ("other", added so that the
// groups and other add up to total; existing fields keep their names).
type countOut struct {
	searchapi.CountResult
	Other *uint64 `json:"other,omitempty"`
}
