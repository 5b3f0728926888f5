package tui

import (
	"testing"

	"github.com/foremanhq/foreman/visibility/fields"
)

// The columns sort on the index's built-in fields (the table in
// visibility/fields), and those fields can be sorted on: a field renamed
// or turned into text in the table fails here rather than as a refused
// search in the console.
func TestColumnsSortOnTableFields(t *testing.T) {
	byName := map[string]fields.Kind{}
	for _, f := range fields.Builtin {
		byName[f.Name] = f.Kind
	}
	for _, cols := range [][]column{executionColumns, stuckColumns} {
		for _, c := range cols {
			if c.field == "" {
				continue
			}
			if k, ok := byName[c.field]; !ok || !k.Sortable() {
				t.Errorf("column %s sorts on %q: not a sortable built-in field", c.title, c.field)
			}
		}
	}
	for _, group := range []string{"status", "waiting_on", "task_queue"} {
		if !byName[group].Facetable() {
			t.Errorf("the console groups by %q, which cannot be grouped by", group)
		}
	}
}
