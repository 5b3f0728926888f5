package visibility_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// ixTree starts one child per name, each with depth-1 levels below it, and
// waits for them all.
func ixTree(ctx engine.Context, depth int) error {
	if depth == 0 {
		return nil
	}
	info := engine.GetInfo(ctx)
	var fs []engine.Future
	for _, name := range []string{"a", "b"} {
		fs = append(fs, engine.ExecuteChildWorkflow(ctx, ixTree, depth-1, engine.ChildWorkflowOptions{ID: info.WorkflowID + "/" + name}))
	}
	for _, f := range fs {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// parent_id finds exactly a run's children, root_id every run below a
// root, and -parent_id:* only the roots.
func TestSearchChildrenByParentAndRoot(t *testing.T) {
	e := newIxEnv(t)
	w := engine.NewWorker(e.store, "tree", engine.WorkerOptions{Logger: ixLogger(), ShutdownTimeout: time.Second})
	if err := w.RegisterWorkflow(ixTree); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	for id, depth := range map[string]int{"tree": 2, "other": 1} {
		if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: id, TaskQueue: "tree"}, ixTree, depth); err != nil {
			t.Fatal(err)
		}
		if err := e.client.GetResult(e.ctx, id, "", nil); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	ix, _ := e.openIndex(t.TempDir())
	e.caughtUp(ix)
	for q, want := range map[string][]string{
		`parent_id:tree`:                              {"tree/a", "tree/b"},
		`ParentWorkflowId = 'tree/a'`:                 {"tree/a/a", "tree/a/b"},
		`root_id:tree`:                                {"tree/a", "tree/a/a", "tree/a/b", "tree/b", "tree/b/a", "tree/b/b"},
		`RootWorkflowId = 'other'`:                    {"other/a", "other/b"},
		`-parent_id:*`:                                {"other", "tree"},
		`type:*ixTree* -parent_id:* status:completed`: {"other", "tree"},
	} {
		res, err := ix.Search(e.ctx, visibility.SearchRequest{Query: q, Size: 100})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var got []string
		for _, d := range res.Hits {
			got = append(got, d.WorkflowID)
		}
		slices.Sort(got)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
}
