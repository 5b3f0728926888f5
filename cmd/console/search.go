package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/visibility"
)

// searcher is what list, count and batches need from the search API.
type searcher interface {
	Search(ctx context.Context, req visibility.SearchRequest) (visibility.SearchResult, error)
	Count(ctx context.Context, req visibility.CountRequest) (visibility.CountResult, error)
	Lag(ctx context.Context) (visibility.Lag, error)
}

// natsSearcher sends search API requests over NATS (visibility/api.go).
type natsSearcher struct{ nc *nats.Conn }

func newSearcher(nc *nats.Conn) searcher { return natsSearcher{nc: nc} }

func (s natsSearcher) Search(ctx context.Context, req visibility.SearchRequest) (visibility.SearchResult, error) {
	var res visibility.SearchResult
	return res, s.request(ctx, visibility.SubjectSearch, req, &res)
}

func (s natsSearcher) Count(ctx context.Context, req visibility.CountRequest) (visibility.CountResult, error) {
	var res visibility.CountResult
	return res, s.request(ctx, visibility.SubjectCount, req, &res)
}

func (s natsSearcher) Lag(ctx context.Context) (visibility.Lag, error) {
	var res visibility.Lag
	return res, s.request(ctx, visibility.SubjectLag, struct{}{}, &res)
}

func (s natsSearcher) request(ctx context.Context, subject string, req, res any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, ok := ctx.Deadline(); !ok { // a batch has no overall deadline; each request does
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	msg, err := s.nc.RequestWithContext(ctx, subject, body)
	if errors.Is(err, nats.ErrNoResponders) {
		return errors.New("the search index is not available: no foreman-engine serves the search API on this NATS server")
	}
	if err != nil {
		return fmt.Errorf("search request: %w", err)
	}
	var apiErr struct {
		Error *visibility.APIError `json:"error"`
	}
	if json.Unmarshal(msg.Data, &apiErr) == nil && apiErr.Error != nil {
		if apiErr.Error.Code == "bad_query" {
			return &queryError{api: apiErr.Error, query: queryOf(req)}
		}
		return apiErr.Error
	}
	if err := json.Unmarshal(msg.Data, res); err != nil {
		return fmt.Errorf("search API: malformed answer: %w", err)
	}
	return nil
}

func queryOf(req any) string {
	switch r := req.(type) {
	case visibility.SearchRequest:
		return r.Query
	case visibility.CountRequest:
		return r.Query
	}
	return ""
}

// queryError shows where a malformed query went wrong: the query, and a
// caret under the offending token.
type queryError struct {
	api   *visibility.APIError
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
	if e.api.Expected != "" {
		msg += " (expected " + e.api.Expected + ")"
	}
	if e.query == "" || e.api.Pos < 0 || e.api.Pos > len(e.query) || strings.ContainsAny(e.query, "\n\t") {
		return msg
	}
	col := utf8.RuneCountInString(e.query[:e.api.Pos])
	return fmt.Sprintf("%s\n  %s\n  %s^", msg, e.query, strings.Repeat(" ", col))
}
