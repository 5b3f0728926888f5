package searchapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Requester sends a request to whoever serves subject and returns the
// answer (the jetstream Store; its error wraps engine.ErrNoResponders when
// no foreman-engine serves the subject).
type Requester interface {
	Request(ctx context.Context, subject string, req []byte) ([]byte, error)
}

// Subscriber delivers notices published on a subject (the jetstream Store).
type Subscriber interface {
	Subscribe(subject string, fn func(data []byte)) (stop func(), err error)
}

// Client calls the search API of foreman-engine: what the foreman CLI and
// console use. Refusals are returned as *APIError (a bad query carries the
// position of the problem and what was expected there).
type Client struct {
	r Requester
}

// NewClient returns a client sending its requests through r.
func NewClient(r Requester) *Client { return &Client{r: r} }

// Search returns one page of runs matching req.Query.
func (c *Client) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	var res SearchResult
	err := c.call(ctx, SubjectSearch, req, &res)
	return res, err
}

// Count counts the runs matching req.Query, grouped when asked.
func (c *Client) Count(ctx context.Context, req CountRequest) (CountResult, error) {
	var res CountResult
	err := c.call(ctx, SubjectCount, req, &res)
	return res, err
}

// Get returns the documents of runs by run id or workflow id.
func (c *Client) Get(ctx context.Context, req GetRequest) (GetResult, error) {
	var res GetResult
	err := c.call(ctx, SubjectGet, req, &res)
	return res, err
}

// Lag says how far the index is behind history.
func (c *Client) Lag(ctx context.Context) (Lag, error) {
	var res Lag
	err := c.call(ctx, SubjectLag, struct{}{}, &res)
	return res, err
}

func (c *Client) call(ctx context.Context, subject string, req, res any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("search API request: %w", err)
	}
	data, err := c.r.Request(ctx, subject, body)
	if err != nil {
		return fmt.Errorf("search API: %w", err)
	}
	var refused ErrorBody
	if err := json.Unmarshal(data, &refused); err == nil && refused.Error != nil {
		return refused.Error
	}
	if err := json.Unmarshal(data, res); err != nil {
		return fmt.Errorf("search API: malformed answer from %s: %w", subject, err)
	}
	return nil
}

// Updates delivers a value whenever the index has applied new history
// (at most a few times a second), until ctx ends; then the channel is
// closed. Values are coalesced: a reader that falls behind gets one. It
// needs a requester that is also a Subscriber (the jetstream Store).
func (c *Client) Updates(ctx context.Context) (<-chan struct{}, error) {
	s, ok := c.r.(Subscriber)
	if !ok {
		return nil, errors.New("search API updates: the connection cannot subscribe")
	}
	ch := make(chan struct{}, 1)
	var mu sync.Mutex
	closed := false
	stop, err := s.Subscribe(SubjectUpdates, func([]byte) {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return // a notice delivered while unsubscribing
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("search API updates: %w", err)
	}
	go func() {
		<-ctx.Done()
		stop()
		mu.Lock()
		closed = true
		close(ch)
		mu.Unlock()
	}()
	return ch, nil
}
