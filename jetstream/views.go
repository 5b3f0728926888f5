package jetstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/foremanhq/foreman/engine"
)

// ViewsBucket keeps saved views (a name for a search query) shared by every
// console and CLI on the same engine; key base64url(name).
const ViewsBucket = "fm_views"

const maxViewNameLen = 200

// View is a saved search.
type View struct {
	Name      string    `json:"name"`
	Query     string    `json:"query"`
	SavedBy   string    `json:"saved_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Views is the saved-views bucket. It is safe for concurrent use.
type Views struct {
	kv natsjs.KeyValue
}

// OpenViews opens the views bucket on nc, creating it when absent
// (replicas 0 means 1).
func OpenViews(ctx context.Context, nc *nats.Conn, replicas int) (*Views, error) {
	kv, err := openBucket(ctx, nc, natsjs.KeyValueConfig{
		Bucket:      ViewsBucket,
		Description: "Foreman saved views: name -> search query",
		History:     1,
		Storage:     natsjs.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, err
	}
	return &Views{kv: kv}, nil
}

func viewKey(name string) (string, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return "", fmt.Errorf("%w: view name is empty", ErrInvalidName)
	case len(name) > maxViewNameLen:
		return "", fmt.Errorf("%w: view name %.40q… is %d bytes, at most %d allowed", ErrInvalidName, name, len(name), maxViewNameLen)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: view name is not valid UTF-8", ErrInvalidName)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(name)), nil
}

// Save stores v under v.Name, replacing a view of that name.
func (vs *Views) Save(ctx context.Context, v View) error {
	key, err := viewKey(v.Name)
	if err != nil {
		return err
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = time.Now().UTC()
	}
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding view %q: %w", v.Name, err)
	}
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if _, err := vs.kv.Put(ctx, key, val); err != nil {
		return fmt.Errorf("saving view %q: %w", v.Name, mapPublishError(err))
	}
	return nil
}

// Get returns the view called name, or engine.ErrNotFound.
func (vs *Views) Get(ctx context.Context, name string) (View, error) {
	var v View
	key, err := viewKey(name)
	if err != nil {
		return v, err
	}
	found, err := getJSON(ctx, vs.kv, key, fmt.Sprintf("view %q", name), &v)
	if err == nil && !found {
		err = fmt.Errorf("view %q: %w", name, engine.ErrNotFound)
	}
	return v, err
}

// List returns every saved view, sorted by name.
func (vs *Views) List(ctx context.Context) ([]View, error) {
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	w, err := vs.kv.WatchAll(ctx, natsjs.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("listing views: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []View
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("listing views: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok || e == nil { // nil: every current value delivered
				sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
				return out, nil
			}
			var v View
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return nil, fmt.Errorf("decoding view %s: %w", e.Key(), err)
			}
			out = append(out, v)
		}
	}
}

// Delete removes the view called name; engine.ErrNotFound if there is none.
func (vs *Views) Delete(ctx context.Context, name string) error {
	if _, err := vs.Get(ctx, name); err != nil {
		return err
	}
	key, _ := viewKey(name)
	ctx, cancel := withRequestTimeout(ctx, defaultTimeout)
	defer cancel()
	if err := vs.kv.Delete(ctx, key); err != nil {
		return fmt.Errorf("deleting view %q: %w", name, err)
	}
	return nil
}
