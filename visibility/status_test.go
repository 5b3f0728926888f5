package visibility_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/visibility"
)

// ixSaga undoes its one step, then fails: a failed saga that compensated.
func ixSaga(ctx engine.Context, id string) (string, error) {
	if err := engine.RecordMarker(ctx, engine.MarkerCompensated, "", 1); err != nil {
		return "", err
	}
	return "", engine.NewApplicationError("CardDeclined", "card declined for "+id, true)
}

// One state, one word, and both facts findable: a failed saga that
// compensated is status:compensated (what show, list and start --wait
// say) and execution_status:failed, which Temporal's ExecutionStatus =
// 'Failed' finds, as its users expect.
func TestCompensatedSagaFindableByBothFacts(t *testing.T) {
	e := newIxEnv(t)
	w := engine.NewWorker(e.store, "vis-saga", engine.WorkerOptions{Logger: ixLogger(), ShutdownTimeout: time.Second})
	if err := w.RegisterWorkflow(ixSaga); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if _, err := e.client.Start(e.ctx, engine.StartOptions{ID: "saga-1", TaskQueue: "vis-saga"}, ixSaga, "saga-1"); err != nil {
		t.Fatal(err)
	}
	var we *engine.WorkflowError
	if err := e.client.GetResult(e.ctx, "saga-1", "", nil); !errors.As(err, &we) || we.Status != engine.StatusCompensated || we.CloseStatus != engine.StatusFailed {
		t.Fatalf("GetResult: %v", err)
	}
	e.start("quick-1", ixQuick, 1)
	ix, _ := e.openIndex(t.TempDir())
	e.caughtUp(ix)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"status:compensated", []string{"saga-1"}},
		{"status:failed", nil},
		{"execution_status:failed", []string{"saga-1"}},
		{"ExecutionStatus = 'Failed'", []string{"saga-1"}},
		{"ExecutionStatus = 'Completed'", []string{"quick-1"}},
		{"status:completed", []string{"quick-1"}},
	} {
		res, err := ix.Search(e.ctx, visibility.SearchRequest{Query: tc.query})
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var got []string
		for _, d := range res.Hits {
			got = append(got, d.WorkflowID)
			if d.WorkflowID == "saga-1" && (d.Status != engine.StatusCompensated || d.ExecutionStatus != engine.StatusFailed) {
				t.Fatalf("saga-1's document says status %s, execution_status %s", d.Status, d.ExecutionStatus)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.query, got, tc.want)
		}
	}
}
