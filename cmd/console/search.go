package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/foremanhq/foreman/visibility/searchapi"
)

// searcher is what list, count and batches need from the search API.
type searcher interface {
	Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error)
	Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error)
	Lag(ctx context.Context) (searchapi.Lag, error)
}

// indexSearcher is the search API client (searchapi.Client over the
// store's connection), with malformed-query errors that show the query.
type indexSearcher struct{ c *searchapi.Client }

func newSearcher(r searchapi.Requester) searcher { return indexSearcher{c: searchapi.NewClient(r)} }

func (s indexSearcher) Search(ctx context.Context, req searchapi.SearchRequest) (searchapi.SearchResult, error) {
	res, err := s.c.Search(ctx, req)
	return res, withQuery(err, req.Query)
}

func (s indexSearcher) Count(ctx context.Context, req searchapi.CountRequest) (searchapi.CountResult, error) {
	res, err := s.c.Count(ctx, req)
	return res, withQuery(err, req.Query)
}

func (s indexSearcher) Lag(ctx context.Context) (searchapi.Lag, error) { return s.c.Lag(ctx) }

func withQuery(err error, query string) error {
	var api *searchapi.APIError
	if errors.As(err, &api) && api.Code == "bad_query" {
		return &queryError{api: api, query: query}
	}
	return err
}

// queryError shows where a malformed query went wrong: the query, and a
// caret under the offending token.
type queryError struct {
	api   *searchapi.APIError
	query string
}

func (e *queryError) Unwrap() error { return e.api }

func (e *queryError) Error() string {
	// the caret shows the position; drop the parser's "at N: " prefix
	text := e.api.Message
	if i := strings.Index(text, ": "); i > 3 && strings.HasPrefix(text, "at ") && strings.Trim(text[3:i], "0123456789") == "" {
		text = text[i+2:]
	}
	msg := "malformed query: " + text
	if e.api.Expected != "" && !strings.Contains(text, "expected") {
		// said once: the parser's message may already say what it expected
		msg += " (expected " + e.api.Expected + ")"
	}
	if e.query == "" || e.api.Pos < 0 || e.api.Pos > len(e.query) || strings.ContainsAny(e.query, "\n\t") {
		return msg
	}
	col := utf8.RuneCountInString(e.query[:e.api.Pos])
	return fmt.Sprintf("%s\n  %s\n  %s^", msg, e.query, strings.Repeat(" ", col))
}
