package query

import "testing"

func TestBuiltinLookup(t *testing.T) {
	cases := map[string]Field{
		"workflow_id":       {"workflow_id", KindKeyword},
		"WorkflowId":        {"workflow_id", KindKeyword},
		"WorkflowID":        {"workflow_id", KindKeyword},
		"workflowId":        {"workflow_id", KindKeyword},
		"WorkflowType":      {"type", KindKeyword},
		"ExecutionStatus":   {"execution_status", KindKeyword},
		"ExecutionTime":     {"start_time", KindTime},
		"ExecutionDuration": {"duration_ms", KindNumber},
		"HistoryLength":     {"history_length", KindNumber},
		"TaskQueue":         {"task_queue", KindKeyword},
		"CloseTime":         {"close_time", KindTime},
		"WaitingOn":         {"waiting_on", KindKeyword},
		"ApprovalSince":     {"approval_since", KindTime},
		"failure":           {"failure", KindText},
		"StatusLine":        {"status_line", KindText},
		"progress_pct":      {"progress_pct", KindNumber},
	}
	for name, want := range cases {
		if got, ok := Builtin().Lookup(name); !ok || got != want {
			t.Errorf("Lookup(%q) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "attr.CustomerId", "CustomerId", "workflow", "attr."} {
		if f, ok := Builtin().Lookup(name); ok {
			t.Errorf("Lookup(%q) = %v, want unknown", name, f)
		}
	}
}

func TestWithAttributes(t *testing.T) {
	s := WithAttributes(Builtin(), map[string]Kind{
		"CustomerId": KindKeyword, "customer_id": KindNumber, // fold to the same key
		"Type":  KindText, // shadowed by the built-in type as a bare name
		"Score": KindNumber,
	})
	cases := []struct {
		name string
		want Field
		ok   bool
	}{
		{"CustomerId", Field{"attr.CustomerId", KindKeyword}, true},
		{"attr.CustomerId", Field{"attr.CustomerId", KindKeyword}, true},
		{"customer_id", Field{"attr.customer_id", KindNumber}, true},
		{"customerid", Field{}, false}, // ambiguous between the two
		{"Type", Field{"type", KindKeyword}, true},
		{"attr.Type", Field{"attr.Type", KindText}, true},
		{"score", Field{"attr.Score", KindNumber}, true},
		{"attr.score", Field{"attr.Score", KindNumber}, true},
		{"attr.Nope", Field{}, false},
		{"WorkflowId", Field{"workflow_id", KindKeyword}, true},
	}
	for _, c := range cases {
		got, ok := s.Lookup(c.name)
		if ok != c.ok || got != c.want {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
	// Text attributes join the default fields.
	d := s.(Defaulter).DefaultFields()
	if last := d[len(d)-1]; last != (Field{"attr.Type", KindText}) {
		t.Errorf("default fields end with %v", last)
	}
}
