package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// export and import move runs between engines: a production history to a
// laptop for investigation, or into examples/testdata as a regression test
// (the replayer reads export files).

// eachMatch calls fn with every run matching query, page after page.
func eachMatch(ctx context.Context, s searcher, query string, fn func(wf, run string) error) error {
	var after []string
	for {
		res, err := s.Search(ctx, searchapi.SearchRequest{Query: query, Size: batchPage, After: after})
		if err != nil {
			return err
		}
		for _, d := range res.Hits {
			if err := fn(d.WorkflowID, d.RunID); err != nil {
				return err
			}
		}
		if len(res.Hits) == 0 || res.Next == nil {
			return nil
		}
		after = res.Next
	}
}

func exportFlags(fs *flag.FlagSet, o *opts) {
	defineRun(fs, o)
	defineQuery(fs, o, "export every run matching this query")
}

var exportCommand = &command{
	name: "export", args: "WORKFLOW_ID | -q QUERY", group: groupInspect,
	summary: "write runs (record and history) as JSON lines, for import or the replayer",
	streams: func(o *opts) bool { return o.query != "" },
	flags:   exportFlags,
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		var targets func(yield func(wf, run string) error) error
		switch {
		case o.query != "" && len(args) > 0:
			return usagef("export takes a WORKFLOW_ID or -q QUERY, not both")
		case o.query != "":
			s, err := a.searcher(ctx)
			if err != nil {
				return err
			}
			targets = func(yield func(wf, run string) error) error { return eachMatch(ctx, s, o.query, yield) }
		default:
			t, err := oneTarget("export", args, o)
			if err != nil {
				return err
			}
			targets = func(yield func(wf, run string) error) error { return yield(t.WorkflowID, t.RunID) }
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		// where the runs came from, without any credentials the URL holds
		source := a.g.nats
		if u, err := url.Parse(source); err == nil && u.User != nil {
			u.User = nil
			source = u.String()
		}
		n := 0
		err = targets(func(wf, run string) error {
			r, err := c.Export(ctx, wf, run, source)
			if err != nil {
				return err
			}
			n++
			return engine.WriteExport(a.io.out, r)
		})
		if err != nil {
			return err
		}
		if o.query != "" {
			a.infof("exported %d runs matching %q", n, o.query)
		}
		return nil
	},
}

var importCommand = &command{
	name: "import", args: "FILE|-", group: groupStart,
	summary: "copy exported runs into this engine, read-only (imported:true)",
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		if len(args) != 1 {
			return usagef("import needs one FILE (an export; - for standard input), got %q", args)
		}
		if a.g.readOnly {
			return fmt.Errorf("%w: import writes runs into this engine", operator.ErrReadOnly)
		}
		in := a.io.in
		if args[0] != "-" {
			f, err := os.Open(args[0])
			if errors.Is(err, os.ErrNotExist) {
				return usagef("file %s does not exist", args[0])
			}
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		c, err := a.engine(ctx)
		if err != nil {
			return err
		}
		var results []engine.ImportResult
		t := &table{header: []string{"WORKFLOW", "RUN", "EVENTS", "IMPORTED"}}
		err = engine.ReadExport(in, func(r engine.ExportedRun) error {
			res, err := c.Import(ctx, r)
			if err != nil {
				return err
			}
			results = append(results, res)
			state := "yes"
			switch {
			case res.Already:
				state = "already"
			case !res.Current:
				state = "yes (not current: use --run)"
			}
			t.add(res.WorkflowID, res.RunID, fmt.Sprint(res.Events), state)
			return nil
		})
		if err != nil {
			return err
		}
		a.infof("imported %d runs: read-only here (search imported:true); no worker runs them", len(results))
		if a.out.format != formatTable {
			return list(a.out, results)
		}
		return t.print(a.io.out)
	},
}
