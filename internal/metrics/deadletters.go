package metrics

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricDeadLettered counts open runs the index holds as dead-lettered:
// paused because an activity ran out of retries (the field
// dead_lettered, /work's pause contract). Until the index has that field
// the count is 0.
const MetricDeadLettered = "foreman_dead_lettered_runs"

// DeadLetteredQuery is the search the gauge counts.
const DeadLetteredQuery = "dead_lettered:true status:running"

// CountFunc counts the runs of the index a query matches.
type CountFunc func(ctx context.Context, query string) (uint64, error)

// countEvery: the count is redone at most this often, as pulse's index
// counts (stuck, running): it moves slowly, and a count costs a search.
const countEvery = 5 * time.Second

// indexCounts is the gauges the collector reads from index searches.
type indexCounts struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	count CountFunc
	at    time.Time
	n     uint64
	err   bool
}

func newIndexCounts() *indexCounts {
	return &indexCounts{desc: prometheus.NewDesc(MetricDeadLettered,
		"Open runs dead-lettered: paused because an activity ran out of retries (search dead_lettered:true).", nil, nil)}
}

// BindCounts sets the index search the collector's counts use (nil: the
// dead-letter gauge is not exported).
func (c *Collector) BindCounts(count CountFunc) {
	c.counts.mu.Lock()
	c.counts.count = count
	c.counts.mu.Unlock()
}

// collect exports the gauge; failed tells whether the count could not be
// read this time (the collector's read errors count it).
func (ic *indexCounts) collect(ch chan<- prometheus.Metric) (failed bool) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.count == nil {
		return false
	}
	if time.Since(ic.at) >= countEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := ic.count(ctx, DeadLetteredQuery)
		cancel()
		ic.at = time.Now()
		switch {
		case err == nil:
			ic.n, ic.err = n, false
		case strings.Contains(err.Error(), "unknown field"):
			// an index from before dead letters: none can be there
			ic.n, ic.err = 0, false
		default:
			ic.err = true
		}
	}
	ch <- prometheus.MustNewConstMetric(ic.desc, prometheus.GaugeValue, float64(ic.n))
	return ic.err
}
