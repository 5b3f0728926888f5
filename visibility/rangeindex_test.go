package visibility

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
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

func TestTermsAnalyzer(t *testing.T) {
	b, e := valueTerms(0x0123456789abcdef)
	var got []string
	for _, tok := range (termsAnalyzer{}).Analyze([]byte(b)) {
		got = append(got, string(tok.Term))
	}
	want := []string{bucketTerm(0, 0x0123456789abcdef>>48), bucketTerm(1, 0x0123456789abcdef>>40), bucketTerm(2, 0x0123456789abcdef>>32)}
	if !slices.Equal(got, want) || e != exactTerm(0x0123456789abcdef) {
		t.Fatalf("terms %q %q, want %q", got, e, want)
	}
	if u, ok := parseExactTerm(e); !ok || u != 0x0123456789abcdef {
		t.Fatalf("parse %q: %x %v", e, u, ok)
	}
	if sortableNumber(-1) >= sortableNumber(0) || sortableNumber(0.5) >= sortableNumber(2) || fromSortable(sortableFromInt64(-7)) != -7 {
		t.Fatal("sortable order")
	}
}
