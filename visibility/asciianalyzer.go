package visibility

import (
	"fmt"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/registry"
)

// asciiAnalyzer gives the tokens the standard analyzer gives (Unicode word
// segmentation, lower case, English stop words), the same terms at the
// same positions and offsets, quicker for text that is all ASCII, as most
// payloads, ids and messages are; other text goes to the standard analyzer
// itself. Documents are analyzed with it; queries, by the mapping, with the
// standard analyzer, so the two must agree (FuzzASCIIAnalyzer checks it).
// bleve's word segmenter was a third of the analysis of a run's document.
type asciiAnalyzer struct {
	standard analysis.Analyzer
	stop     analysis.TokenFilter // the standard analyzer's English stop words
}

// newASCIIAnalyzer wraps std, the standard analyzer (the mapping's, which
// queries use).
func newASCIIAnalyzer(std analysis.Analyzer) (*asciiAnalyzer, error) {
	stop, err := registry.NewCache().TokenFilterNamed(en.StopName)
	if err != nil {
		return nil, fmt.Errorf("the English stop words: %w", err)
	}
	return &asciiAnalyzer{standard: std, stop: stop}, nil
}

// Word-break classes of ASCII characters (Unicode UAX #29, as the segmenter
// bleve uses implements it).
const (
	wbOther     = iota
	wbLetter    // ALetter
	wbDigit     // Numeric
	wbUnder     // ExtendNumLet: joins letters and digits
	wbMidLetter // ':' joins two letters
	wbMidNum    // ',' and ';' join two digits
	wbMidBoth   // '.' and '\'' join two letters or two digits
)

var wbClass = func() (c [128]uint8) {
	for b := 'a'; b <= 'z'; b++ {
		c[b], c[b-'a'+'A'] = wbLetter, wbLetter
	}
	for b := '0'; b <= '9'; b++ {
		c[b] = wbDigit
	}
	c['_'], c[':'], c[','], c[';'], c['.'], c['\''] = wbUnder, wbMidLetter, wbMidNum, wbMidNum, wbMidBoth, wbMidBoth
	return c
}()

func (a *asciiAnalyzer) Analyze(input []byte) analysis.TokenStream {
	lower := make([]byte, len(input))
	words := 0
	for i, c := range input {
		if c >= 0x80 {
			return a.standard.Analyze(input)
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
		if wordChar(c) && (i == 0 || !wordChar(input[i-1])) {
			words++ // an upper bound: the start of a run of word characters
		}
	}
	tokens := make([]analysis.Token, 0, words)
	for i := 0; i < len(input); {
		if !wordChar(input[i]) {
			i++
			continue
		}
		start := i
		for i++; i < len(input); i++ {
			if wordChar(input[i]) {
				continue
			}
			if i+1 < len(input) && joins(wbClass[input[i]], wbClass[input[i-1]], wbClass[input[i+1]]) {
				i++
				continue
			}
			break
		}
		tokens = append(tokens, analysis.Token{Term: lower[start:i], Start: start, End: i, Position: len(tokens) + 1, Type: wordType(input[start:i])})
	}
	ts := make(analysis.TokenStream, len(tokens))
	for i := range tokens {
		ts[i] = &tokens[i]
	}
	return a.stop.Filter(ts)
}

// wordChar: c is part of any word it touches (a letter, a digit, '_').
func wordChar(c byte) bool {
	k := wbClass[c]
	return k >= wbLetter && k <= wbUnder
}

// wordType is the segmenter's type of a word: a number when it has digits
// and no letters.
func wordType(word []byte) analysis.TokenType {
	digits := false
	for _, c := range word {
		switch wbClass[c] {
		case wbLetter:
			return analysis.AlphaNumeric
		case wbDigit:
			digits = true
		}
	}
	if digits {
		return analysis.Numeric
	}
	return analysis.AlphaNumeric
}

// joins: a mid character of class mid joins the characters before and
// after it into one word (UAX #29 WB6, WB7, WB11, WB12).
func joins(mid, before, after uint8) bool {
	switch mid {
	case wbMidLetter:
		return before == wbLetter && after == wbLetter
	case wbMidNum:
		return before == wbDigit && after == wbDigit
	case wbMidBoth:
		return before == after && (before == wbLetter || before == wbDigit)
	}
	return false
}
