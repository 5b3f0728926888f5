package jetstream_test

import (
	"context"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream/jstest"
)

// BenchmarkRequestReply measures one request/reply round trip through the
// store's request servers (the search API and workflow queries), serially
// and from parallel requesters, with an echo handler ("echo") and with one
// that takes a millisecond ("1ms": concurrent handling shows).
func BenchmarkRequestReply(b *testing.B) {
	for _, work := range []time.Duration{0, time.Millisecond} {
		name := "echo"
		if work > 0 {
			name = "1ms"
		}
		handle := func(req []byte) []byte {
			if work > 0 {
				time.Sleep(work)
			}
			return req
		}
		for _, kind := range []string{"api", "query"} {
			b.Run(kind+"/"+name, func(b *testing.B) {
				st, _ := jstest.Start(b)
				var stop func()
				var err error
				request := func(ctx context.Context) error {
					_, err := st.Request(ctx, "bench.api", []byte("ping"))
					return err
				}
				if kind == "api" {
					stop, err = st.ServeAPI("bench.api", func(_ context.Context, req []byte) []byte { return handle(req) })
				} else {
					stop, err = st.ServeQueries("bench", handle)
					request = func(ctx context.Context) error {
						_, err := st.Query(ctx, "bench", []byte("ping"))
						return err
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				defer stop()
				benchRequests(b, request)
			})
		}
	}
}

func benchRequests(b *testing.B, request func(context.Context) error) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if err := request(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := request(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
