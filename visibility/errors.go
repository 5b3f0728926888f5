package visibility

import (
	"context"
	"errors"
	"fmt"

	"github.com/foremanhq/foreman/visibility/query"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

func badRequest(format string, args ...any) *APIError {
	return &APIError{Code: searchapi.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// badQuery turns a parser error into the API error, keeping where the
// problem is and what was expected there.
func badQuery(err error) *APIError {
	var qe *query.Error
	if errors.As(err, &qe) {
		return &APIError{Code: searchapi.CodeBadQuery, Message: qe.Error(), Pos: qe.Pos, Expected: qe.Expected}
	}
	return &APIError{Code: searchapi.CodeBadQuery, Message: err.Error()}
}

// badSort is a sort list the query package refused; Pos is in the list
// joined by commas.
func badSort(err error) *APIError {
	e := badQuery(err)
	e.Code, e.Message = searchapi.CodeBadRequest, "sort: "+e.Message
	return e
}

// internalError wraps a failure of the index itself, or the end of the
// request's time.
func internalError(ctx context.Context, what string, err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return &APIError{Code: searchapi.CodeTimeout, Message: what + ": the request's time ran out"}
	}
	return &APIError{Code: searchapi.CodeInternal, Message: fmt.Sprintf("%s: %v", what, err)}
}
