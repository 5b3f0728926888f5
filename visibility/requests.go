package visibility

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/blevesearch/bleve/v2"
	bq "github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/foremanhq/foreman/visibility/internal/scorchsnap"
	"github.com/foremanhq/foreman/visibility/query"
)

// maxGroups bounds a grouped count's groups; maxGet a Get's ids.
const (
	maxGroups = 1000
	maxGet    = 1000
)

// Count counts the runs matching req.Query (exactly), grouped by a keyword
// field when asked. Refusals are *APIError.
func (ix *Index) Count(ctx context.Context, req CountRequest) (*CountResult, error) {
	if err := ix.waitFor(ctx, req.WaitForSeq); err != nil {
		return nil, err
	}
	schema := ix.reg.Schema()
	q, err := query.Parse(req.Query, schema, time.Now())
	if err != nil {
		return nil, badQuery(err)
	}
	q = asFilter(ix.rewriteRanges(q))
	var group string
	if req.GroupBy != "" {
		f, ok := schema.Lookup(req.GroupBy)
		if !ok || !f.Kind.Facetable() {
			return nil, badRequest("group_by %q: want a keyword field (status, type, waiting_on, error_types, task_queue, …)", req.GroupBy)
		}
		group = f.Path
	}
	total, _, _, err := ix.count(ctx, q, 0)
	if err != nil {
		return nil, internalError(ctx, "counting", err)
	}
	res := &CountResult{Total: total}
	if group != "" && total > 0 {
		if res.Groups, err = ix.groups(ctx, q, group, maxGroups); err != nil {
			return nil, internalError(ctx, "grouping by "+group, err)
		}
	}
	return res, nil
}

// Get returns the documents of runs by run id, and of the current (newest)
// run of workflow ids; ids not in the index are listed as missing.
func (ix *Index) Get(ctx context.Context, req GetRequest) (*GetResult, error) {
	if n := len(req.RunIDs) + len(req.WorkflowIDs); n > maxGet {
		return nil, badRequest("%d ids: at most %d", n, maxGet)
	}
	res := &GetResult{Docs: []Doc{}}
	for _, id := range req.RunIDs {
		d, ok, err := ix.docByRun(id)
		if err != nil {
			return nil, internalError(ctx, "reading run "+id, err)
		}
		if !ok {
			res.Missing = append(res.Missing, id)
			continue
		}
		res.Docs = append(res.Docs, d)
	}
	for _, id := range req.WorkflowIDs {
		t := bq.NewTermQuery(id)
		t.SetField("workflow_id")
		hits, err := ix.topHits(ctx, t, []string{"-" + exactField("start_time"), "run_id"}, nil, 1)
		if err != nil {
			return nil, internalError(ctx, "reading workflow "+id, err)
		}
		if len(hits) == 0 {
			res.Missing = append(res.Missing, id)
			continue
		}
		d, err := hitDoc(hits[0])
		if err != nil {
			return nil, internalError(ctx, "reading workflow "+id, err)
		}
		res.Docs = append(res.Docs, d)
	}
	return res, nil
}

// docByRun reads one run's stored summary from its shard.
func (ix *Index) docByRun(runID string) (Doc, bool, error) {
	var d Doc
	doc, err := ix.shards[ix.shardOf(runID)].idx.Document(runID)
	if err != nil || doc == nil {
		return d, false, err
	}
	var raw []byte
	doc.VisitFields(func(f index.Field) {
		if f.Name() == fieldDoc {
			raw = f.Value()
		}
	})
	if raw == nil {
		return d, false, fmt.Errorf("run %s has no stored summary", runID)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, false, fmt.Errorf("run %s: stored summary: %w", runID, err)
	}
	return d, true, nil
}

// DocCount is how many runs the index holds.
func (ix *Index) DocCount() (uint64, error) {
	var n uint64
	for _, s := range ix.shards {
		c, err := s.idx.DocCount()
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// Fingerprints maps every indexed run to the fingerprint of its indexed
// values (fields and stored summary): two indexes with equal fingerprints
// hold the same documents. For consistency checks; it reads every
// document.
func (ix *Index) Fingerprints(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	var after []string
	for {
		r := bleve.NewSearchRequestOptions(bq.NewMatchAllQuery(), 1000, 0, false)
		r.SortBy([]string{"run_id"})
		r.Score = "none"
		r.Fields = []string{fieldFingerprint}
		r.SearchAfter = after
		res, err := ix.search.SearchInContext(ctx, r)
		if err != nil {
			return nil, err
		}
		for _, h := range res.Hits {
			fp, _ := h.Fields[fieldFingerprint].(string)
			out[h.ID] = fp
		}
		if len(res.Hits) < 1000 {
			return out, nil
		}
		after = res.Hits[len(res.Hits)-1].Sort
	}
}

// Merging tells whether a shard is merging segments in the background
// (what a rebuild leaves behind for a while): searches then share the CPU
// with it.
func (ix *Index) Merging() bool {
	for _, s := range ix.shards {
		if scorchsnap.Merging(s.idx) {
			return true
		}
	}
	return false
}

// DocTerms returns the terms run runID's document holds, field by field
// (nil when the index has no such run): what Fingerprints hashes, readable,
// so that a test finding two indexes' fingerprints differ can name the
// fields that differ. It reads every term of every field, a diagnostic for
// a few runs of a small index.
func (ix *Index) DocTerms(ctx context.Context, runID string) (map[string][]string, error) {
	for _, s := range ix.shards {
		adv, err := s.idx.Advanced()
		if err != nil {
			return nil, err
		}
		r, err := adv.Reader()
		if err != nil {
			return nil, err
		}
		out, err := docTerms(ctx, r, runID)
		_ = r.Close()
		if err != nil || out != nil {
			return out, err
		}
	}
	return nil, nil
}

func docTerms(ctx context.Context, r index.IndexReader, runID string) (map[string][]string, error) {
	id, err := r.InternalID(runID)
	if err != nil || id == nil {
		return nil, err
	}
	names, err := r.Fields()
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, name := range names {
		d, err := r.FieldDict(name)
		if err != nil {
			return nil, err
		}
		for {
			e, err := d.Next()
			if err != nil || e == nil {
				_ = d.Close()
				if err != nil {
					return nil, err
				}
				break
			}
			tfr, err := r.TermFieldReader(ctx, []byte(e.Term), name, false, false, false)
			if err != nil {
				_ = d.Close()
				return nil, err
			}
			hit, err := tfr.Advance(id, nil)
			_ = tfr.Close()
			if err != nil {
				_ = d.Close()
				return nil, err
			}
			if hit != nil && hit.ID.Equals(id) {
				out[name] = append(out[name], e.Term)
			}
		}
	}
	return out, nil
}
