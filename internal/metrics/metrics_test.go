package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/internal/latency"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		in       string
		insecure bool
		want     string // "" : refused
	}{
		{"9464", false, "127.0.0.1:9464"},
		{":9464", false, "127.0.0.1:9464"},
		{"localhost:9464", false, "localhost:9464"},
		{"[::1]:9464", false, "[::1]:9464"},
		{"0.0.0.0:9464", false, ""},
		{"10.1.2.3:9464", false, ""},
		{"0.0.0.0:9464", true, "0.0.0.0:9464"},
		{"host:", false, ""},
	} {
		got, err := ListenAddr(tc.in, tc.insecure)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--insecure") && !strings.Contains(err.Error(), "want") {
				t.Errorf("ListenAddr(%q, %v) = %q, %v: want a refusal", tc.in, tc.insecure, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ListenAddr(%q, %v) = %q, %v: want %q", tc.in, tc.insecure, got, err, tc.want)
		}
	}
}

// The latency histogram's buckets become cumulative "le" buckets; the
// count is exact and the sum within a bucket's width.
func TestHistogram(t *testing.T) {
	var h latency.Hist
	h.Observe(2 * time.Millisecond)
	h.Observe(2 * time.Millisecond)
	h.Observe(time.Second)
	h.Observe(time.Hour) // the unbounded last bucket
	d := prometheus.NewDesc("x_seconds", "x", nil, nil)
	var m dto.Metric
	if err := Histogram(d, &h).Write(&m); err != nil {
		t.Fatal(err)
	}
	ph := m.GetHistogram()
	if ph.GetSampleCount() != 4 {
		t.Fatalf("count %d, want 4", ph.GetSampleCount())
	}
	// The hour counts at the unbounded bucket's lower edge.
	want := 2*0.002 + 1 + latency.Bound(latency.NumBuckets-2).Seconds()
	if s := ph.GetSampleSum(); s < want*0.9 || s > want*1.1 {
		t.Fatalf("sum %v, want about %v", s, want)
	}
	var at2ms, at1s uint64
	for _, b := range ph.GetBucket() {
		if b.GetUpperBound() >= 0.002 && at2ms == 0 {
			at2ms = b.GetCumulativeCount()
		}
		if b.GetUpperBound() >= 1 && at1s == 0 {
			at1s = b.GetCumulativeCount()
		}
	}
	if at2ms != 2 || at1s != 3 {
		t.Fatalf("cumulative counts at 2 ms %d (want 2), at 1 s %d (want 3)", at2ms, at1s)
	}
}
