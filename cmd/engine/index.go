package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/foremanhq/foreman/internal/metrics"
	"github.com/foremanhq/foreman/internal/pulse"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/visibility"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// The search index: foreman-engine keeps it up to date from history and
// serves the search API from it; `foreman-engine reindex` rebuilds it.

// indexDir is where the index lives: --index-dir, else <data>/index (a
// local directory also when history is on a remote NATS cluster).
func indexDir(flagDir, dataDir string) string {
	if flagDir != "" {
		return flagDir
	}
	return filepath.Join(dataDir, "index")
}

// startSearch opens the index, runs its indexer and serves the search API.
// stop ends all three and closes the index (persisting what it applied).
// col, when not nil, is bound to the figures the engine keeps.
func startSearch(ctx context.Context, store *jetstream.Store, dir string, log *slog.Logger, col *metrics.Collector) (stop func(), err error) {
	ix, err := visibility.OpenIndex(dir, log)
	if err != nil {
		return nil, err
	}
	notify, stopNotify := visibility.UpdateNotifier(store, 100*time.Millisecond)
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	counters := pulse.NewCounters(nil)
	go func() {
		defer close(done)
		x := visibility.NewIndexer(ix, store, visibility.IndexerOptions{Notify: notify, Logger: log, OnEvents: counters.Observe})
		if err := x.Run(ictx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("search indexer stopped", "err", err)
		}
	}()
	stopServe, err := visibility.Serve(ix, store)
	var stopPulse func()
	if err == nil {
		var svc *pulse.Service
		svc, stopPulse, err = pulse.StartService(ictx, counters, ix, store, log)
		if err != nil {
			stopServe()
		} else if col != nil {
			col.Bind(counters, svc)
			col.BindCounts(func(ctx context.Context, q string) (uint64, error) {
				res, err := ix.Count(ctx, searchapi.CountRequest{Query: q})
				if err != nil {
					return 0, err
				}
				return res.Total, nil
			})
		}
	}
	if err != nil {
		cancel()
		<-done
		stopNotify()
		_ = ix.Close()
		return nil, err
	}
	log.Info("search index open", "dir", dir, "applied_seq", ix.AppliedSeq())
	return func() {
		stopPulse()
		stopServe()
		cancel()
		<-done
		stopNotify()
		if err := ix.Close(); err != nil {
			log.Error("closing the search index", "err", err)
		}
	}, nil
}

// indexFree fails with visibility.ErrIndexInUse when a running engine
// holds the index in dir.
func indexFree(dir string) error {
	ix, err := visibility.OpenIndex(dir, nil)
	if err != nil {
		return err
	}
	return ix.Close()
}

// reindex drops the index and rebuilds it from the whole history, up to
// where history stands when it starts.
func reindex(ctx context.Context, store *jetstream.Store, dir string, log *slog.Logger) error {
	// Refuse an index a running engine has open before deleting anything.
	if err := indexFree(dir); err != nil {
		return err
	}
	if err := visibility.RemoveIndex(dir); err != nil {
		return err
	}
	ix, err := visibility.OpenIndex(dir, log)
	if err != nil {
		return err
	}
	target, err := store.LastHistorySeq(ctx)
	if err != nil {
		_ = ix.Close()
		return err
	}
	start, lastReport := time.Now(), time.Now()
	x := visibility.NewIndexer(ix, store, visibility.IndexerOptions{Logger: log, OnApplied: func(w visibility.AppliedWindow) {
		if time.Since(lastReport) >= 5*time.Second {
			lastReport = time.Now()
			log.Info("reindexing", "applied_seq", w.LastSeq, "history_seq", target)
		}
	}})
	err = x.CatchUp(ctx, target)
	docs, _ := ix.DocCount()
	if cerr := ix.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reindexing: %w", err)
	}
	log.Info("reindexed", "runs", docs, "history_seq", target, "took", time.Since(start).Round(time.Millisecond), "dir", dir)
	return nil
}
