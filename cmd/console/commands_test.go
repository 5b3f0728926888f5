package main

import "testing"

// TestCommandsNameCatalogActions: every action a command performs is in
// the operator catalog, so read-only, confirmation and help all know it.
func TestCommandsNameCatalogActions(t *testing.T) {
	invocations := []struct {
		o    opts
		args []string
	}{{}, {o: opts{retry: true}}, {o: opts{skip: true}}, {args: []string{"save", "v", "q"}}, {args: []string{"delete", "v"}}}
	for _, c := range commands {
		if c.action == nil {
			if c.params != nil {
				t.Errorf("%s acts on runs but names no catalog action", c.name)
			}
			continue
		}
		for _, in := range invocations {
			name := c.action(&in.o, in.args)
			if a := c.entry(&in.o, in.args); name != "" && a == nil {
				t.Errorf("%s %v performs %q, which the catalog does not declare", c.name, in.args, name)
			}
		}
		if c.summaryText() == "" {
			t.Errorf("%s has no summary", c.name)
		}
	}
}
