package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// runIDLen is the length of a run id (a UUID); shorter --run values are
// prefixes, as the console shows them (8 characters).
const runIDLen = 36

// resolveRun turns a --run prefix into the run id it names among wf's runs,
// from the search index. A full id is used as given, without the index.
func (a *app) resolveRun(ctx context.Context, wf, run string) (string, error) {
	if run == "" || len(run) >= runIDLen {
		return run, nil
	}
	s, err := a.searcher(ctx)
	if err != nil {
		return "", fmt.Errorf("finding the run starting with %q: %w", run, err)
	}
	q := "WorkflowId = " + sqlQuote(wf) + " AND RunId STARTS_WITH " + sqlQuote(run)
	res, err := s.Search(ctx, searchapi.SearchRequest{Query: q, Size: 10, Sort: []string{"-start_time", "run_id"}})
	if err != nil {
		return "", fmt.Errorf("finding the run starting with %q: %w", run, err)
	}
	switch len(res.Hits) {
	case 0:
		return "", fmt.Errorf("--run %s: no run of %s starts with it: %w", run, wf, engine.ErrNotFound)
	case 1:
		return res.Hits[0].RunID, nil
	}
	ids := make([]string, len(res.Hits))
	for i, d := range res.Hits {
		ids[i] = d.RunID
	}
	return "", usagef("--run %s: %d runs of %s start with it (%s); give more characters", run, res.Total, wf, strings.Join(ids, ", "))
}

// sqlQuote quotes a value for the list-filter dialect.
func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
