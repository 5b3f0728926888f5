package visibility

import (
	"fmt"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	"github.com/blevesearch/bleve/v2/registry"
)

// sameTokens compares the terms, positions and offsets (what the index
// keeps) and types of the two analyzers' tokens for input.
func sameTokens(t *testing.T, fast *asciiAnalyzer, std analysis.Analyzer, input []byte) {
	t.Helper()
	show := func(ts analysis.TokenStream) string {
		s := ""
		for _, tok := range ts {
			s += fmt.Sprintf("[%q %d %d-%d %d] ", tok.Term, tok.Position, tok.Start, tok.End, tok.Type)
		}
		return s
	}
	// Both analyzers may change their input's bytes: give each a copy.
	got, want := fast.Analyze(append([]byte(nil), input...)), std.Analyze(append([]byte(nil), input...))
	if g, w := show(got), show(want); g != w {
		t.Fatalf("%q:\n got  %s\n want %s", input, g, w)
	}
}

func testAnalyzers(t testing.TB) (*asciiAnalyzer, analysis.Analyzer) {
	std, err := registry.NewCache().AnalyzerNamed(standard.Name)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := newASCIIAnalyzer(std)
	if err != nil {
		t.Fatal(err)
	}
	return fast, std
}

func TestASCIIAnalyzer(t *testing.T) {
	fast, std := testAnalyzers(t)
	for _, s := range []string{
		"", "Card declined", "ORDER-0001234 cust-01234 12.99", "e.g. a.b.c a..b a. .a", "1,000.50 1,a a,1 1;2 1:2 a:b a'b 1'2",
		"snake_case __ _a a_ _1_ 1_a a_.b 1._2", "don't the and of THE", "tabs\tand\nnew\r\nlines\x0bvt\x0cff",
		`{"order_id":"0001234","items":[{"sku":"SKU-4040","qty":2}]}`, "WorkflowTaskCompleted\nActivityScheduled",
		"x'", "'x", "1.", ".1", "a:", ":a", "ünïcode falls back: café", "mixed ascii then é",
	} {
		sameTokens(t, fast, std, []byte(s))
	}
}

// FuzzASCIIAnalyzer: on any input, the tokens are the standard analyzer's;
// also on the input spelled in the characters word breaks turn on, where
// random bytes would rarely make ASCII words.
func FuzzASCIIAnalyzer(f *testing.F) {
	fast, std := testAnalyzers(f)
	for _, s := range []string{"Card declined 12.5", "a.b_c:d'e 1,2;3.4'5", "__ _1 a_ don't", "x\r\ny\tz", "é a"} {
		f.Add([]byte(s))
	}
	const tricky = "aZt09_.,;:'\" \n\r\t\v-/@#é"
	f.Fuzz(func(t *testing.T, input []byte) {
		sameTokens(t, fast, std, input)
		spelled := make([]byte, 0, len(input))
		for _, b := range input {
			if c := tricky[int(b)%len(tricky)]; c < 0x80 {
				spelled = append(spelled, c)
			}
		}
		sameTokens(t, fast, std, spelled)
	})
}

// BenchmarkTextAnalysis analyzes a run's typical text fields with either
// analyzer, and builds their token frequencies as indexing does.
func BenchmarkTextAnalysis(b *testing.B) {
	fast, std := testAnalyzers(b)
	texts := [][]byte{
		[]byte("WorkflowStarted\nWorkflowTaskCompleted\nActivityScheduled\nreserve-inventory\nActivityCompleted\nStatusSet\ncharge-card\nActivityFailed\ncard declined\nWorkflowFailed"),
		[]byte("0001234\ncust-01234\n1234.99\nSKU-4040\n2"),
		[]byte("waiting for the manager to approve order 0001234"),
	}
	for _, c := range []struct {
		name string
		a    analysis.Analyzer
	}{{"standard", std}, {"ascii", fast}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				for _, text := range texts {
					analysis.TokenFrequency(c.a.Analyze(append([]byte(nil), text...)), nil, textOptions)
				}
			}
		})
	}
}
