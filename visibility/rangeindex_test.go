package visibility

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
)

// decompose covers exactly [lo, hi], with disjoint spans, whole buckets
// only, and few spans.
func TestDecomposeCoversTheRange(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type iv struct{ lo, hi uint64 }
	edges := []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 32, 1<<32 - 1, 1 << 48, 1<<48 - 1, 1<<63 + 1<<40}
	pick := func() uint64 {
		switch r.IntN(4) {
		case 0:
			return edges[r.IntN(len(edges))]
		case 1:
			return r.Uint64() &^ (1<<32 - 1) // bucket aligned
		case 2:
			return 1<<63 + r.Uint64N(1<<45) // near one another
		}
		return r.Uint64()
	}
	for range 20000 {
		lo, hi := pick(), pick()
		if lo > hi {
			lo, hi = hi, lo
		}
		spans := decompose(lo, hi)
		var ivs []iv
		for _, sp := range spans {
			if sp.lo > sp.hi {
				t.Fatalf("[%x, %x]: empty span %+v", lo, hi, sp)
			}
			if sp.level == len(rangeShifts) {
				ivs = append(ivs, iv{sp.lo, sp.hi})
				continue
			}
			s := rangeShifts[sp.level]
			ivs = append(ivs, iv{sp.lo << s, sp.hi<<s | (1<<s - 1)})
		}
		slices.SortFunc(ivs, func(a, b iv) int {
			if a.lo < b.lo {
				return -1
			}
			return 1
		})
		if len(ivs) == 0 || ivs[0].lo != lo || ivs[len(ivs)-1].hi != hi {
			t.Fatalf("[%x, %x]: spans %+v do not reach both ends", lo, hi, spans)
		}
		for i := 1; i < len(ivs); i++ {
			if ivs[i-1].hi == math.MaxUint64 || ivs[i].lo != ivs[i-1].hi+1 {
				t.Fatalf("[%x, %x]: gap or overlap between %+v and %+v", lo, hi, ivs[i-1], ivs[i])
			}
		}
		if len(spans) > 2*len(rangeShifts)+1 {
			t.Fatalf("[%x, %x]: %d spans", lo, hi, len(spans))
		}
	}
}

func TestBucketAnalyzer(t *testing.T) {
	b, e := valueTerms(0x0123456789abcdef)
	var got []string
	for _, tok := range (bucketAnalyzer{}).Analyze([]byte(b)) {
		got = append(got, string(tok.Term))
	}
	want := []string{bucketTerm(0, 0x0123456789abcdef>>48), bucketTerm(1, 0x0123456789abcdef>>40), bucketTerm(2, 0x0123456789abcdef>>32)}
	if !slices.Equal(got, want) || got[2] != "c\x01\x23\x45\x67" || e != exactTerm(0x0123456789abcdef) {
		t.Fatalf("terms %q %q, want %q", got, e, want)
	}
	if u, ok := parseExactTerm(e); !ok || u != 0x0123456789abcdef {
		t.Fatalf("parse %q: %x %v", e, u, ok)
	}
	if sortableNumber(-1) >= sortableNumber(0) || sortableNumber(0.5) >= sortableNumber(2) || fromSortable(sortableFromInt64(-7)) != -7 {
		t.Fatal("sortable order")
	}
}

// Ranges over the fields indexed by exact value alone (exactOnly) find
// exactly the runs whose values are in them.
func TestExactOnlyRanges(t *testing.T) {
	src := &winSource{}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	pct := map[string]float64{}
	length := map[string]float64{}
	for i := range 400 {
		runID := fmt.Sprintf("run-%05d", i)
		at := base.Add(time.Duration(i) * time.Second)
		events := []engine.Event{{ID: 1, Type: engine.EventWorkflowStarted, Time: at, Attrs: &engine.WorkflowStarted{
			WorkflowID: fmt.Sprintf("wf-%05d", i), RunID: runID, WorkflowType: "A", TaskQueue: "q"}}}
		if i%9 != 0 { // some runs have no progress
			done, total := int64(i%23), int64(20)
			events = append(events, engine.Event{Type: engine.EventProgressSet, Time: at, Attrs: &engine.ProgressSet{Seq: 1, Done: done, Total: total}})
			pct[runID] = math.Round(100 * float64(min(done, total)) / float64(total))
		}
		for range i % 13 {
			events = append(events, engine.Event{Type: engine.EventStatusSet, Time: at, Attrs: &engine.StatusSet{Text: "x"}})
		}
		for j := range events {
			events[j].ID = int64(j + 1)
		}
		length[runID] = float64(len(events))
		src.addEvents(t, runID, events, at)
	}
	ix := src.index(t, 150)
	ctx := context.Background()
	for _, c := range []struct {
		q      string
		values map[string]float64
		in     func(v float64) bool
	}{
		{"progress_pct:>=50", pct, func(v float64) bool { return v >= 50 }},
		{"progress_pct:<35", pct, func(v float64) bool { return v < 35 }},
		{"progress_pct:[10 TO 60}", pct, func(v float64) bool { return v >= 10 && v < 60 }},
		{"progress_pct:100", pct, func(v float64) bool { return v == 100 }},
		{"progress_pct:*", pct, func(v float64) bool { return true }},
		{"history_length:>7", length, func(v float64) bool { return v > 7 }},
		{"history_length:[3 TO 5]", length, func(v float64) bool { return v >= 3 && v <= 5 }},
		{"history_length:<=1", length, func(v float64) bool { return v <= 1 }},
	} {
		var want []string
		for id, v := range c.values {
			if c.in(v) {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		var got []string
		req := SearchRequest{Query: c.q, Sort: []string{"run_id"}, Size: MaxPageSize, ExactTotal: true}
		res, err := ix.Search(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		for _, d := range res.Hits {
			got = append(got, d.RunID)
		}
		if len(want) == 0 || !slices.Equal(got, want) || res.Total != uint64(len(want)) {
			t.Errorf("%s: %d runs (total %d), want %d (first difference at %d)", c.q, len(got), res.Total, len(want), firstDiff(got, want))
		}
	}
}
