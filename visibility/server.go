package visibility

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The search API on the wire: a request is the JSON of SearchRequest,
// CountRequest, GetRequest (or nothing, for the lag); the answer is the
// JSON of the result, or {"error": APIError} (searchapi.ErrorBody, which
// the client decodes).

// HistoryHead tells where history ends (the jetstream Store).
type HistoryHead interface {
	LastHistorySeq(ctx context.Context) (uint64, error)
}

// HistoryPosition tells where history stands: the lag is measured against
// it.
type HistoryPosition interface {
	HistoryHead
	HistoryBatchTime(ctx context.Context, seq uint64) (time.Time, error)
}

// Server is where the API is served (the jetstream Store: a queue group
// per subject, so several engines share the requests).
type Server interface {
	ServeAPI(subject string, handler func(ctx context.Context, req []byte) []byte) (stop func(), err error)
	HistoryPosition
}

// Serve answers the search API's requests from ix until stop is called.
func Serve(ix *Index, s Server) (stop func(), err error) {
	routes := []struct {
		subject string
		handle  func(ctx context.Context, req []byte) (any, error)
	}{
		{searchapi.SubjectSearch, func(ctx context.Context, b []byte) (any, error) {
			var req SearchRequest
			if err := decodeRequest(b, &req); err != nil {
				return nil, err
			}
			return ix.Search(ctx, req)
		}},
		{searchapi.SubjectCount, func(ctx context.Context, b []byte) (any, error) {
			var req CountRequest
			if err := decodeRequest(b, &req); err != nil {
				return nil, err
			}
			return ix.Count(ctx, req)
		}},
		{searchapi.SubjectGet, func(ctx context.Context, b []byte) (any, error) {
			var req GetRequest
			if err := decodeRequest(b, &req); err != nil {
				return nil, err
			}
			return ix.Get(ctx, req)
		}},
		{searchapi.SubjectLag, func(ctx context.Context, _ []byte) (any, error) { return ix.Lag(ctx, s) }},
	}
	var stops []func()
	stopAll := func() {
		for _, f := range stops {
			f()
		}
	}
	for _, r := range routes {
		f, err := s.ServeAPI(r.subject, func(ctx context.Context, req []byte) []byte { return answer(ctx, r.handle, req) })
		if err != nil {
			stopAll()
			return nil, fmt.Errorf("serving the search API: %w", err)
		}
		stops = append(stops, f)
	}
	var once sync.Once
	return func() { once.Do(stopAll) }, nil
}

func decodeRequest(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("malformed request: %v", err)
	}
	return nil
}

// answer runs a handler and encodes its result or refusal.
func answer(ctx context.Context, handle func(context.Context, []byte) (any, error), req []byte) []byte {
	res, err := handle(ctx, req)
	if err == nil {
		if b, merr := json.Marshal(res); merr == nil {
			return b
		} else {
			err = merr
		}
	}
	b, _ := json.Marshal(searchapi.ErrorBody{Error: internalError(ctx, "search API", err)})
	return b
}

// Lag reports how far the index is behind history: the batches not yet
// applied and the age of the oldest of them.
func (ix *Index) Lag(ctx context.Context, h HistoryPosition) (*Lag, error) {
	applied := ix.AppliedSeq()
	last, err := h.LastHistorySeq(ctx)
	if err != nil {
		return nil, internalError(ctx, "reading the history position", err)
	}
	docs, err := ix.DocCount()
	if err != nil {
		return nil, internalError(ctx, "counting documents", err)
	}
	lag := &Lag{AppliedSeq: applied, HistorySeq: max(last, applied), Docs: docs}
	if last > applied {
		lag.Behind = last - applied
		at, err := h.HistoryBatchTime(ctx, applied+1)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return nil, internalError(ctx, "reading the oldest unapplied batch", err)
		}
		if err == nil {
			lag.LagMS = float64(max(time.Since(at), 0).Microseconds()) / 1000
		}
	}
	return lag, nil
}

// Publisher sends notices (the jetstream Store).
type Publisher interface {
	Publish(subject string, data []byte) error
}

// UpdateNotifier returns a notify function for IndexerOptions.Notify that
// publishes on searchapi.SubjectUpdates at most once per interval (the last call in
// an interval is published at its end, so the newest change is never left
// unannounced), and a stop function.
func UpdateNotifier(p Publisher, interval time.Duration) (notify func(), stop func()) {
	kick := make(chan struct{}, 1)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-kick:
			case <-done:
				return
			}
			_ = p.Publish(searchapi.SubjectUpdates, nil)
			select {
			case <-time.After(interval):
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}, func() {
			once.Do(func() { close(done); <-finished })
		}
}
