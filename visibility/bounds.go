package visibility

import (
	"encoding/json"
	"fmt"
	"sync"
)

// fieldBounds keeps the lowest and highest value ever indexed in each
// number and time field, as the sortable int64 the index stores (unix
// nanoseconds for times, numeric.Float64ToInt64 for numbers). Values of
// updated or replaced documents are not taken out, so the bounds enclose
// every live value: what a sorted search needs to place its first window.
type fieldBounds struct {
	mu      sync.Mutex
	m       map[string][2]int64
	changed bool
}

func newFieldBounds() *fieldBounds { return &fieldBounds{m: map[string][2]int64{}} }

func (b *fieldBounds) observe(path string, v int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.m[path]
	switch {
	case !ok:
		r = [2]int64{v, v}
	case v < r[0]:
		r[0] = v
	case v > r[1]:
		r[1] = v
	default:
		return
	}
	b.m[path] = r
	b.changed = true
}

func (b *fieldBounds) get(path string) (lo, hi int64, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.m[path]
	return r[0], r[1], ok
}

// takeChanged returns the bounds to store when they changed since the
// last call, else nil.
func (b *fieldBounds) takeChanged() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.changed {
		return nil
	}
	b.changed = false
	data, _ := json.Marshal(b.m) // map of arrays of ints cannot fail
	return data
}

// markChanged makes the next takeChanged return the bounds (after a failed
// write that may not have stored them).
func (b *fieldBounds) markChanged() {
	b.mu.Lock()
	b.changed = true
	b.mu.Unlock()
}

// merge widens the bounds by stored ones.
func (b *fieldBounds) merge(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var stored map[string][2]int64
	if err := json.Unmarshal(data, &stored); err != nil {
		return fmt.Errorf("decoding stored field bounds: %w", err)
	}
	for path, r := range stored {
		b.observe(path, r[0])
		b.observe(path, r[1])
	}
	b.mu.Lock()
	b.changed = false
	b.mu.Unlock()
	return nil
}
