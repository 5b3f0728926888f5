package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/foremanhq/foreman/internal/indextest"
	"github.com/foremanhq/foreman/internal/notify"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

// A dead_lettered rule reads pause's field (PAUSE-CONTRACT.md). On an
// index without it the rule is accepted and its failure to evaluate is
// visible in its status (foreman notify list, :notifications), not silent.
// Once pause's fields are merged this test skips: TODO(merge) replace it
// with a run whose activity exhausts its retries under the pause policy,
// and assert one notification naming the activity and
// `foreman activity retry <id> --activity <name>`.
func TestDeadLetteredRuleBeforePauseFields(t *testing.T) {
	store, _ := jstest.Start(t)
	ix := indextest.Start(t, store, t.TempDir())
	ctx := context.Background()
	_, err := ix.Search(ctx, searchapi.SearchRequest{Query: "dead_lettered:true", Size: 1})
	var api *searchapi.APIError
	if !errors.As(err, &api) {
		t.Skip("the index has pause's dead_lettered field: write the dead-letter fixture (see the TODO)")
	}
	b, err := jetstream.OpenNotify(ctx, store.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	svc := notify.New(notify.Options{Store: b, Search: ix.Search, Publish: store.Conn().Publish})
	if _, err := svc.Put(ctx, "tester", []byte(`{"name":"dl","condition":"dead_lettered","query":"type:Order"}`)); err != nil {
		t.Fatal(err)
	}
	svc.Evaluate(ctx)
	st, err := b.Status(ctx, "dl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Error, `unknown field "dead_lettered"`) || st.EvaluatedAt.IsZero() {
		t.Fatalf("status %+v, want the unknown field named", st)
	}
}
