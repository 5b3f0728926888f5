package query

import (
	"strconv"
	"strings"
)

func itoa(i int) string { return strconv.Itoa(i) }

// ParseSort turns field names as users write them, in either dialect
// (["-start_time", "WorkflowId"]; a leading "-" sorts descending, "+" or
// nothing ascending), into bleve sort strings (["-start_time",
// "workflow_id"]). "_score" and "_id" pass through. Unknown fields and text
// fields (which have no single value to sort by) are errors; the error is an
// *Error whose Pos is the byte offset of the bad name in the list joined by
// commas, as a CLI flag would hold it.
func ParseSort(fields []string, s Schema) ([]string, error) {
	out := make([]string, 0, len(fields))
	pos := 0
	for _, raw := range fields {
		name := strings.TrimSpace(raw)
		lead := strings.Index(raw, name)
		desc := false
		switch {
		case strings.HasPrefix(name, "-"):
			desc, name, lead = true, name[1:], lead+1
		case strings.HasPrefix(name, "+"):
			name, lead = name[1:], lead+1
		}
		key, err := sortKey(name, desc, pos+lead, s)
		if err != nil {
			return nil, err
		}
		out = append(out, key)
		pos += len(raw) + 1
	}
	return out, nil
}

// sortKey resolves one sort field; pos is where its name starts.
func sortKey(name string, desc bool, pos int, s Schema) (string, *Error) {
	path := name
	switch name {
	case "_score", "_id":
	case "":
		return "", expected(pos, "a field name to sort by", "", endOfQuery)
	default:
		f, ok := s.Lookup(name)
		if !ok {
			return "", unknownField(pos, name, s)
		}
		if !f.Kind.Sortable() {
			e := failf(pos, quoteFound(name), "cannot sort by %s: it is a text field; sort by a keyword, number or time field", f.Path)
			e.Expected = "a keyword, number, time or bool field"
			return "", e
		}
		path = f.Path
	}
	if desc {
		return "-" + path, nil
	}
	return path, nil
}
