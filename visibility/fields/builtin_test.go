package fields

import (
	"os"
	"strings"
	"testing"
)

// Every entry of the table is whole: a name, a kind, exactly the extractor
// of its kind, and flags that make sense for it; no two names or aliases
// resolve alike (queries match names ignoring case and underscores).
func TestBuiltinTableIsWhole(t *testing.T) {
	fold := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "")) }
	seen := map[string]string{}
	claim := func(owner, name string) {
		if prev, ok := seen[fold(name)]; ok && prev != owner {
			t.Errorf("%s: name %q is also %s's", owner, name, prev)
		}
		seen[fold(name)] = owner
	}
	for i := range Builtin {
		s := &Builtin[i]
		if s.Name == "" || s.Name != strings.ToLower(s.Name) || strings.ContainsAny(s.Name, " .") {
			t.Errorf("entry %d: name %q is not lower snake case", i, s.Name)
		}
		claim(s.Name, s.Name)
		for _, a := range s.Aliases {
			claim(s.Name, a)
		}
		extractors := map[Kind]int{}
		if s.Keyword != nil {
			extractors[KindKeyword]++
		}
		if s.Keywords != nil {
			extractors[KindKeyword]++
		}
		if s.Number != nil {
			extractors[KindNumber]++
		}
		if s.Time != nil {
			extractors[KindTime]++
		}
		if s.Text != nil {
			extractors[KindText]++
		}
		if s.Bool != nil {
			extractors[KindBool]++
		}
		if len(extractors) != 1 || extractors[s.Kind] != 1 {
			t.Errorf("%s (%v): want exactly one extractor, of its kind; has %v", s.Name, s.Kind, extractors)
		}
		if s.Values != nil && s.Kind != KindKeyword {
			t.Errorf("%s: a closed set of values on a %v field", s.Name, s.Kind)
		}
		if s.Window && s.Kind != KindNumber && s.Kind != KindTime {
			t.Errorf("%s: a sort window on a %v field", s.Name, s.Kind)
		}
		if s.ExactOnly && s.Kind != KindNumber {
			t.Errorf("%s: exact-only on a %v field", s.Name, s.Kind)
		}
	}
	if got := NameSet(func(s *Spec) bool { return s.Window }); len(got) != 4 || !got["start_time"] || !got["history_length"] {
		t.Errorf("window fields %v", got)
	}
}

func TestKind(t *testing.T) {
	for k, want := range map[Kind]string{KindKeyword: "keyword", KindText: "text", KindNumber: "number", KindTime: "time", KindBool: "bool", 0: "invalid kind"} {
		if k.String() != want {
			t.Errorf("%d: %q", int(k), k.String())
		}
		if k.Sortable() != (k != KindText) || k.Facetable() != (k == KindKeyword) {
			t.Errorf("%v: sortable %v, facetable %v", k, k.Sortable(), k.Facetable())
		}
	}
}

// The README's list of fields names every built-in field: a new field is
// documented where users look.
func TestREADMEListsEveryField(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "\nFields (one table, `visibility/fields`):")
	list, _, _ = strings.Cut(list, "\n\n")
	if !ok {
		t.Fatal("README has no list of fields")
	}
	for _, f := range Builtin {
		if !strings.Contains(list, "`"+f.Name+"`") {
			t.Errorf("README's fields do not name %s", f.Name)
		}
	}
}
