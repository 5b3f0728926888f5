package main

import (
	"fmt"
	"io"

	"github.com/foremanhq/foreman/engine"
)

// parentRow says, in `foreman show`, who started a child run.
func parentRow(t *table, x *engine.Execution) {
	if p := x.Parent; p != nil {
		s := fmt.Sprintf("%s (run %s, on parent close: %s", p.WorkflowID, p.RunID, p.ParentClosePolicy)
		if p.RootWorkflowID != p.WorkflowID {
			s += ", root " + p.RootWorkflowID
		}
		t.add("Parent", s+")")
	}
}

// printChildren lists, in `foreman show`, the child workflows a run
// started (`foreman list parent_id:ID` finds the same runs in the index).
func printChildren(w io.Writer, x *engine.Execution) error {
	if len(x.Children) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nChildren:")
	ct := &table{header: []string{"  SEQ", "WORKFLOW", "TYPE", "STATUS", "RUN", "ON PARENT CLOSE"}}
	for _, c := range x.Children {
		status := string(c.Status)
		if c.Attempt > 1 {
			status += fmt.Sprintf(" (attempt %d)", c.Attempt)
		}
		ct.add(fmt.Sprintf("  %d", c.Seq), c.WorkflowID, c.Type, status, c.RunID, string(c.ParentClosePolicy))
	}
	return ct.print(w)
}
