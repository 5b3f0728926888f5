package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

var viewsCommand = &command{
	name: "views", args: "[list|save NAME QUERY|delete NAME]", group: groupViews,
	summary: "list, save or delete named searches",
	action: func(_ *opts, args []string) string {
		switch {
		case len(args) == 0:
			return ""
		case args[0] == "save":
			return operator.ActViewSave
		case args[0] == "delete":
			return operator.ActViewDelete
		}
		return ""
	},
	flags: func(fs *flag.FlagSet, o *opts) {},
	run: func(ctx context.Context, a *app, o *opts, args []string) error {
		sub := "list"
		if len(args) > 0 {
			sub, args = args[0], args[1:]
		}
		var want int
		switch sub {
		case "list":
			want = 0
		case "save":
			want = 2
		case "delete":
			want = 1
		default:
			return usagef("views: unknown subcommand %q (want list, save or delete)", sub)
		}
		if len(args) != want {
			return usagef("views %s takes %d argument(s), got %d %q", sub, want, len(args), args)
		}
		vs, err := a.savedViews(ctx)
		if err != nil {
			return err
		}
		switch sub {
		case "save":
			if err := checkQuery(ctx, a, args[1]); err != nil {
				return err
			}
			if _, err := a.actions.Perform(ctx, operator.Request{Action: operator.ActViewSave, Params: operator.Params{Name: args[0], Query: args[1]}}); err != nil {
				return err
			}
			a.infof("saved view %q", args[0])
			return nil
		case "delete":
			if _, err := a.actions.Perform(ctx, operator.Request{Action: operator.ActViewDelete, Params: operator.Params{Name: args[0]}}); err != nil {
				return err
			}
			a.infof("deleted view %q", args[0])
			return nil
		}
		views, err := vs.List(ctx)
		if err != nil {
			return err
		}
		if a.out.format != formatTable {
			return list(a.out, views)
		}
		t := &table{header: []string{"NAME", "QUERY", "SAVED BY", "UPDATED"}}
		for _, v := range views {
			t.add(v.Name, v.Query, v.SavedBy, when(v.UpdatedAt))
		}
		return t.print(a.io.out)
	},
}

// checkQuery refuses a query the search API says is malformed; when the
// search API cannot answer, the view is saved unchecked.
func checkQuery(ctx context.Context, a *app, query string) error {
	s, err := a.searcher(ctx)
	if err == nil {
		_, err = s.Count(ctx, searchapi.CountRequest{Query: query})
	}
	var api *searchapi.APIError
	if errors.As(err, &api) && exitCode(err) == exitUsage {
		return fmt.Errorf("query %q: %w", query, err)
	}
	if err != nil {
		a.infof("could not check the query (%v); saving it as given", err)
	}
	return nil
}
