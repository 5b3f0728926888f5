package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestQueries(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	stop, err := st.ServeQueries("orders", func(req []byte) []byte { return append([]byte("re: "), req...) })
	if err != nil {
		t.Fatal(err)
	}
	resp, err := st.Query(ctx, "orders", []byte("__stack"))
	if err != nil || string(resp) != "re: __stack" {
		t.Fatalf("query = %q, %v", resp, err)
	}
	stop()
	_, err = st.Query(ctx, "orders", []byte("__stack"))
	if !errors.Is(err, engine.ErrNoResponders) || !strings.Contains(err.Error(), "orders") {
		t.Fatalf("query without workers: %v", err)
	}
	_, err = st.Query(ctx, "nobody", nil)
	if !errors.Is(err, engine.ErrNoResponders) {
		t.Fatalf("query to an unserved queue: %v", err)
	}
	if _, err := st.ServeQueries("bad queue", nil); err == nil {
		t.Fatal("bad queue name accepted")
	}
}

func TestCancels(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	got := make(chan string, 10)
	stop, err := st.SubscribeCancels(func(data []byte) { got <- string(data) })
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PublishCancel(ctx, []byte("run1/act-2/attempt-1")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "run1/act-2/attempt-1" {
			t.Fatalf("got %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel not received")
	}
	stop()
	if err := st.PublishCancel(context.Background(), []byte("late")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		t.Fatalf("received %q after stop", s)
	case <-time.After(100 * time.Millisecond):
	}
}
