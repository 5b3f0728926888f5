package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// Updatable answers the update "inc" with its input plus one (validated:
// not negative) until it is signalled "go".
func Updatable(ctx engine.Context) (int, error) {
	n := 0
	err := engine.SetUpdateHandler(ctx, "inc", func(ctx engine.Context, v int) (int, error) {
		n++
		return v + 1, nil
	}, engine.UpdateHandlerOptions{Validator: func(ctx engine.Context, v int) error {
		if v < 0 {
			return errors.New("negative")
		}
		return nil
	}})
	if err != nil {
		return 0, err
	}
	engine.GetSignalChannel(ctx, "go").Receive(ctx, nil)
	return n, nil
}

// updateRep measures update round trips: Client.Update waiting for the
// completed stage, one at a time, against one run.
func (e *env) updateRep(ctx context.Context, rep int) (map[string]float64, error) {
	id := fmt.Sprintf("upd-%d", rep)
	if _, err := e.client.Start(ctx, engine.StartOptions{ID: id, TaskQueue: benchQueue}, Updatable, nil); err != nil {
		return nil, err
	}
	var ds []time.Duration
	for i := range e.cfg.warmup + e.cfg.signalSamples {
		uctx, cancel := context.WithTimeout(ctx, waitTimeout)
		t0 := time.Now()
		res, err := e.client.Update(uctx, id, "", "inc", i, engine.UpdateOptions{})
		d := time.Since(t0)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("update %d of %s: %w", i, id, err)
		}
		if string(res.Result) != fmt.Sprint(i+1) {
			return nil, fmt.Errorf("update %d of %s: result %s, want %d", i, id, res.Result, i+1)
		}
		if i >= e.cfg.warmup {
			ds = append(ds, d)
		}
	}
	if err := e.client.Signal(ctx, id, "", "go", nil); err != nil {
		return nil, err
	}
	return map[string]float64{"update_roundtrip_p50_ms": percentile(ds, 50), "update_roundtrip_p99_ms": percentile(ds, 99)}, nil
}
