package main_test

import (
	"encoding/json"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// serveSearch answers the search API (visibility/api.go) for query with
// the given runs, paged by the search-after cursor like the real index.
// It stands in for the visibility service until foreman-engine serves it.
func serveSearch(t *testing.T, e *engineProc, query string, runs map[string]string) {
	t.Helper()
	docs := make([]visibility.Doc, 0, len(runs))
	for id, run := range runs {
		docs = append(docs, visibility.Doc{WorkflowID: id, RunID: run, Type: "OrderFulfillment", TaskQueue: "orders",
			Status: engine.StatusRunning, StartTime: time.Now(), WaitingOn: "approval"})
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].RunID < docs[j].RunID })
	reply := func(m *nats.Msg, v any) {
		b, _ := json.Marshal(v)
		_ = m.Respond(b)
	}
	badQuery := func(m *nats.Msg, q string) bool {
		if q == query {
			return false
		}
		reply(m, map[string]any{"error": visibility.APIError{Code: "bad_query", Message: "the fake index knows one query"}})
		return true
	}
	nc := e.node.Conn
	subs := []*nats.Subscription{}
	sub, err := nc.Subscribe(visibility.SubjectCount, func(m *nats.Msg) {
		var req visibility.CountRequest
		_ = json.Unmarshal(m.Data, &req)
		if !badQuery(m, req.Query) {
			reply(m, visibility.CountResult{Total: uint64(len(docs))})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	subs = append(subs, sub)
	sub, err = nc.Subscribe(visibility.SubjectSearch, func(m *nats.Msg) {
		var req visibility.SearchRequest
		_ = json.Unmarshal(m.Data, &req)
		if badQuery(m, req.Query) {
			return
		}
		from := 0
		if len(req.After) == 1 {
			from, _ = strconv.Atoi(req.After[0])
		}
		size := req.Size
		if size <= 0 {
			size = 50
		}
		to := min(from+size, len(docs))
		res := visibility.SearchResult{Total: uint64(len(docs)), Hits: docs[from:to]}
		if to < len(docs) {
			res.Next = []string{strconv.Itoa(to)}
		}
		reply(m, res)
	})
	if err != nil {
		t.Fatal(err)
	}
	subs = append(subs, sub)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	})
}
