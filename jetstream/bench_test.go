package jetstream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

// BenchmarkAppendHistory: one OCC append of a 512-byte batch, serially on
// one run (the workflow-task commit path). Default sync (interval).
func BenchmarkAppendHistory(b *testing.B) {
	benchAppend(b, jetstream.Options{})
}

// BenchmarkAppendHistorySyncAlways is the same with fsync on every write.
func BenchmarkAppendHistorySyncAlways(b *testing.B) {
	benchAppend(b, jetstream.Options{Sync: jetstream.SyncAlways})
}

func benchAppend(b *testing.B, opts jetstream.Options) {
	st, _ := jstest.StartIn(b, b.TempDir(), opts)
	ctx := context.Background()
	data := make([]byte, 512)
	h := header("bench", 1, 10)
	var last uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		seq, err := st.AppendHistory(ctx, h, data, last, "")
		if err != nil {
			b.Fatal(err)
		}
		last = seq
	}
}

// BenchmarkReadHistory10: read a whole run of 10 batches of 512 bytes (one
// batched direct get). "alone": the run's batches are adjacent in the
// stream; "interleaved": 100 other runs' batches between each two of them
// (the server scans past those).
func BenchmarkReadHistory10(b *testing.B) {
	for _, between := range []int{0, 100} {
		name := "alone"
		if between > 0 {
			name = "interleaved"
		}
		b.Run(name, func(b *testing.B) {
			st, _ := jstest.Start(b)
			ctx := context.Background()
			data := make([]byte, 512)
			var last uint64
			for i := 0; i < 10; i++ {
				var err error
				if last, err = st.AppendHistory(ctx, header("target", int64(i), int64(i)), data, last, ""); err != nil {
					b.Fatal(err)
				}
				for j := 0; j < between; j++ {
					if _, err := st.AppendHistory(ctx, header(fmt.Sprintf("other-%d-%d", i, j), 1, 1), data, 0, ""); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				got, err := st.ReadHistory(ctx, "target", 0)
				if err != nil || len(got) != 10 {
					b.Fatalf("%d batches, %v", len(got), err)
				}
			}
		})
	}
}

// BenchmarkTaskRoundTrip: publish a task, receive it on a waiting
// consumer, ack it (confirmed).
func BenchmarkTaskRoundTrip(b *testing.B) {
	st, _ := jstest.Start(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan engine.Delivery, 1)
	go func() {
		_ = st.ConsumeTasks(ctx, engine.WorkflowTaskKind, "bench", 1, func(d engine.Delivery) { ch <- d })
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := st.PublishTask(ctx, engine.WorkflowTaskKind, "bench", []byte("t"), ""); err != nil {
			b.Fatal(err)
		}
		d := <-ch
		if err := d.Ack(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
