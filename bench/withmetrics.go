package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// -with-metrics (issue 20): the same figures with metrics on, as an
// operator runs them: foreman-engine with --metrics-listen (deployed) or
// the services with a registry (in process), the worker with
// MetricsRegisterer, and a scraper reading every endpoint once a second
// (Prometheus scrapes every 15 s or so: this is the heavier case).

const scrapeEvery = time.Second

// metricsOn prepares env e for -with-metrics: the worker's and services'
// registry, and the scraper, which runs until ctx ends.
func (e *env) metricsOn(ctx context.Context) prometheus.Registerer {
	if !e.cfg.withMetrics {
		return nil
	}
	reg := prometheus.NewRegistry()
	var url string
	if e.engine != nil {
		url = e.engine.metricsURL
	}
	e.notes = append(e.notes, fmt.Sprintf("sync %s, %s: metrics on (the worker's registry and %s read every %s)", e.mode, e.shape,
		map[bool]string{true: "foreman-engine's /metrics", false: "the services' registry"}[url != ""], scrapeEvery))
	e.goBackground(func() error {
		t := time.NewTicker(scrapeEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
			if _, err := reg.Gather(); err != nil {
				return fmt.Errorf("gathering the worker's metrics: %w", err)
			}
			if url == "" {
				continue
			}
			resp, err := http.Get(url)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("scraping foreman-engine: %w", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	return reg
}
