package visibility

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/collector"
	bq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
)

// Sorted searches run here rather than through bleve's index alias, which
// collects a page in every shard, loads the stored fields of every
// shard's page, and loads each by its run id (a dictionary lookup in every
// segment of the shard): at a million runs that was a fifth of a search.
// Here each shard collects its page with a reader held open, the pages are
// merged, and only the hits that make the page have their summary read,
// by their document number in the reader's segments.

// hit is one search result: its sort values and its stored summary.
type hit struct {
	sort []string
	doc  []byte
}

// shardHit is a hit in one shard's page, before its summary is read.
type shardHit struct {
	shard int
	dm    *search.DocumentMatch
}

// topHits returns the first size matches of q in sortBy order after the
// cursor (nil: from the start).
func (ix *Index) topHits(ctx context.Context, q bq.Query, sortBy []string, after []string, size int) ([]hit, error) {
	order := search.ParseSortOrderStrings(sortBy)
	opts := search.SearcherOptions{Score: "none"}
	if slices.Contains(sortBy, "_score") || slices.Contains(sortBy, "-_score") {
		opts.Score = ""
	}
	readers := make([]index.IndexReader, len(ix.shards))
	defer func() {
		for _, r := range readers {
			if r != nil {
				_ = r.Close()
			}
		}
	}()
	// The readers stay open until the page's summaries are read.
	pages := make([][]*search.DocumentMatch, len(ix.shards))
	err := ix.eachShard(func(k int, s *shard) (err error) {
		if readers[k], err = s.reader(); err != nil {
			return err
		}
		pages[k], err = collectPage(ctx, readers[k], ix, q, order, opts, after, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	var all []shardHit
	for k := range pages {
		for _, dm := range pages[k] {
			all = append(all, shardHit{k, dm})
		}
	}
	cachedScoring, cachedDesc := order.CacheIsScore(), order.CacheDescending()
	slices.SortStableFunc(all, func(a, b shardHit) int {
		return order.Compare(cachedScoring, cachedDesc, a.dm, b.dm)
	})
	if len(all) > size {
		all = all[:size]
	}
	hits := make([]hit, len(all))
	for i, h := range all {
		doc, err := storedSummary(readers[h.shard], h.dm)
		if err != nil {
			return nil, err
		}
		hits[i] = hit{sort: h.dm.Sort, doc: doc}
	}
	return hits, nil
}

// collectPage collects one shard's first size matches.
func collectPage(ctx context.Context, r index.IndexReader, ix *Index, q bq.Query, order search.SortOrder,
	opts search.SearcherOptions, after []string, size int) ([]*search.DocumentMatch, error) {
	s, err := q.Searcher(ctx, r, ix.mapping, opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var coll *collector.TopNCollector
	if after != nil {
		coll = collector.NewTopNCollectorAfter(size, order.Copy(), after)
	} else {
		coll = collector.NewTopNCollector(size, 0, order.Copy())
	}
	if err := coll.Collect(ctx, s, r); err != nil {
		return nil, err
	}
	return coll.Results(), nil
}

// storedSummary reads a hit's stored summary from the reader that found
// it: by document number from a scorch snapshot's segments, else by id.
func storedSummary(r index.IndexReader, dm *search.DocumentMatch) ([]byte, error) {
	if snap, ok := scorchsnap.Of(r); ok {
		raw, found, err := snap.StoredField(dm.IndexInternalID, fieldDoc)
		if err != nil {
			return nil, err
		}
		if found {
			if raw == nil {
				return nil, fmt.Errorf("run %s has no stored summary", dm.ID)
			}
			return raw, nil
		}
	}
	doc, err := r.Document(dm.ID)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if doc != nil {
		doc.VisitFields(func(f index.Field) {
			if f.Name() == fieldDoc {
				raw = bytes.Clone(f.Value())
			}
		})
	}
	if raw == nil {
		return nil, fmt.Errorf("run %s has no stored summary", dm.ID)
	}
	return raw, nil
}
