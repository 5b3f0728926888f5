package jetstream_test

import (
	"errors"
	"testing"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
)

func TestViews(t *testing.T) {
	st, _ := jstest.Start(t)
	ctx := testCtx(t)
	vs, err := jetstream.OpenViews(ctx, st.Conn(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := vs.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
	for _, v := range []jetstream.View{
		{Name: "stuck orders", Query: `type:OrderFulfillment waiting_on:retry`, SavedBy: "ann"},
		{Name: "approvals ✓", Query: "waiting_on:approval"},
		{Name: "a.b > *", Query: "status:failed"},
	} {
		if err := vs.Save(ctx, v); err != nil {
			t.Fatalf("save %q: %v", v.Name, err)
		}
	}
	// saving again replaces
	if err := vs.Save(ctx, jetstream.View{Name: "a.b > *", Query: "status:canceled"}); err != nil {
		t.Fatal(err)
	}
	got, err := vs.List(ctx)
	if err != nil || len(got) != 3 {
		t.Fatalf("list = %+v, %v", got, err)
	}
	if got[0].Name != "a.b > *" || got[0].Query != "status:canceled" || got[1].Name != "approvals ✓" || got[2].SavedBy != "ann" || got[2].UpdatedAt.IsZero() {
		t.Fatalf("list (sorted by name) = %+v", got)
	}
	if err := vs.Delete(ctx, "approvals ✓"); err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Get(ctx, "approvals ✓"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("get deleted view: %v", err)
	}
	if err := vs.Delete(ctx, "approvals ✓"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if got, _ := vs.List(ctx); len(got) != 2 {
		t.Fatalf("after delete: %+v", got)
	}
	if err := vs.Save(ctx, jetstream.View{Name: "  ", Query: "x"}); !errors.Is(err, jetstream.ErrInvalidName) {
		t.Fatalf("blank name: %v", err)
	}
}
