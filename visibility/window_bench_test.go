package visibility

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2/document"

	"github.com/foremanhq/foreman/engine"
)

// benchDocs are the documents of n closed ThreeActs runs (generation gen
// names them apart).
func benchDocs(b *testing.B, ix *Index, n, gen int) []*document.Document {
	at := time.Now()
	var docs []*document.Document
	for i := range n {
		run := fmt.Sprintf("run-%d-%d", gen, i)
		ev := func(id int64, typ engine.EventType, attrs any) engine.Event {
			return engine.Event{ID: id, Type: typ, Time: at, Attrs: attrs}
		}
		evs := []engine.Event{
			ev(1, engine.EventWorkflowStarted, &engine.WorkflowStarted{WorkflowID: "w" + run, RunID: run, WorkflowType: "ThreeActs", TaskQueue: "bench", Input: json.RawMessage(`1`)}),
			ev(2, engine.EventWorkflowTaskCompleted, &engine.WorkflowTaskCompleted{Identity: "worker-1"}),
			ev(3, engine.EventActivityScheduled, &engine.ActivityScheduled{Seq: 1, ActivityType: "Noop", TaskQueue: "bench"}),
			ev(4, engine.EventActivityCompleted, &engine.ActivityCompleted{Seq: 1, Attempt: 1}),
			ev(5, engine.EventWorkflowCompleted, &engine.WorkflowCompleted{Seq: 2, Result: json.RawMessage(`1`)}),
		}
		d, err := ix.builder.build(deriveFacts(evs), ix.reg, ix.bounds, nil)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs
}

// BenchmarkWindowWrite writes windows of 1 to 300 new documents to one
// shard: what a segment costs whatever its size (with vellum's default
// FST registry, ~3 ms of CPU for one document: FOREMAN_FST_REGISTRY=0
// shows it) against what each document adds. Merges and persisting run
// in the background; -cpuprofile counts them.
func BenchmarkWindowWrite(b *testing.B) {
	for _, n := range []int{1, 30, 100, 300} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ix, err := OpenIndex(b.TempDir(), nil, WithShards(1))
			if err != nil {
				b.Fatal(err)
			}
			defer ix.Close()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				docs := benchDocs(b, ix, n, i)
				b.StartTimer()
				if err := ix.writeShard(0, docs, uint64(i+1), nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
