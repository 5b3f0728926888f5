package tui

import (
	"errors"
	"regexp"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/foremanhq/foreman/engine"
)

// queryTab runs a query handler with JSON arguments. Handler names are
// completed from the workflow's own (the __handlers built-in, asked when
// the run opens), the built-ins, and the names a worker reports when asked
// for one it does not know.
type queryTab struct {
	name    lineEdit
	args    textEdit
	focus   int // 0 name, 1 args
	editing bool
	known   []string
	seq     int
	loading bool
	asked   string
	res     []byte
	err     error
	argErr  string
	note    string // where the workflow's own names are (handlersState.note)
}

func newQueryTab() queryTab {
	return queryTab{name: newLineEdit(""), args: newTextEdit(""), known: []string{engine.QueryStack, engine.QueryPending, engine.QueryHandlers}}
}

// offer lists the workflow's own handlers first.
func (q *queryTab) offer(s *handlersState) {
	q.known = addNames(q.known, s.h.Queries)
	q.note = s.note("query handlers")
}

func (q *queryTab) key(m *Model, d *detailScreen, k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		q.editing = false
		return nil
	case "ctrl+s", "alt+enter":
		return q.run(m, d)
	case "tab", "shift+tab":
		if q.focus == 0 && k.String() == "tab" {
			if c := q.complete(); c != "" && c != q.name.value() {
				q.name.set(c)
				return nil
			}
		}
		q.focus = 1 - q.focus
		return nil
	}
	if q.focus == 0 {
		if k.String() == "enter" {
			return q.run(m, d)
		}
		q.name.handle(k)
		return nil
	}
	q.args.handle(k)
	q.argErr = ""
	return nil
}

func (q *queryTab) complete() string {
	p := q.name.value()
	for _, n := range q.known {
		if strings.HasPrefix(n, p) {
			return n
		}
	}
	return ""
}

func (q *queryTab) run(m *Model, d *detailScreen) tea.Cmd {
	name := strings.TrimSpace(q.name.value())
	if name == "" {
		q.err = errors.New("name a query handler (tab completes " + strings.Join(q.known, ", ") + ")")
		return nil
	}
	args, err := validJSON(q.args.value())
	if err != nil {
		q.argErr = err.Error()
		q.focus = 1
		return nil
	}
	if string(args) == "null" {
		args = nil
	}
	q.seq++
	q.loading, q.asked, q.err = true, name, nil
	return runQuery(m, d.id, q.seq, d.target(), name, args)
}

// knownRE reads the handler list out of an unknown-query error
// ("... (known: [__stack __pending status])").
var knownRE = regexp.MustCompile(`known: \[([^\]]*)\]`)

func (q *queryTab) receive(msg queryMsg) {
	if msg.seq != q.seq {
		return // an older question
	}
	q.loading, q.res, q.err = false, msg.res, msg.err
	if msg.err != nil {
		if sm := knownRE.FindStringSubmatch(msg.err.Error()); sm != nil {
			for _, n := range strings.Fields(sm[1]) {
				if !slices.Contains(q.known, n) {
					q.known = append(q.known, n)
				}
			}
		}
	} else if !slices.Contains(q.known, msg.name) {
		q.known = append(q.known, msg.name)
	}
}

func (q *queryTab) view(m *Model, w, h int) string {
	st := &m.st
	var b strings.Builder
	focused := func(i int) bool { return q.editing && q.focus == i }
	b.WriteString(field(st, "Handler", &q.name, w-2, focused(0)))
	var own, builtin []string
	for _, n := range q.known {
		if builtinQuery(n) {
			builtin = append(builtin, n)
		} else {
			own = append(own, n)
		}
	}
	if len(own) > 0 {
		b.WriteString("\n  " + st.Dim.Render("this workflow's: ") + fit(strings.Join(own, ", "), w-2-17))
	}
	b.WriteString("\n  " + st.Dim.Render(fit("built-in: "+strings.Join(builtin, ", "), w-2)))
	if q.note != "" {
		b.WriteString("\n  " + st.Dim.Render(fit(q.note, w-2)))
	}
	mark := "  "
	if focused(1) {
		mark = "▸ "
	}
	b.WriteString("\n" + mark + st.Bold.Render("Arguments (JSON, optional)") + "\n")
	b.WriteString(indent(q.args.view(st, w-4, 3, focused(1)), "  "))
	if q.argErr != "" {
		b.WriteString("\n  " + st.Error.Render(fit(q.argErr, w-2)))
	}
	hint := "enter/ctrl+s runs · tab switches fields · esc stops editing"
	if !q.editing {
		hint = "enter edits the query"
	}
	b.WriteString("\n  " + st.Dim.Render(hint) + "\n")
	used := strings.Count(b.String(), "\n") + 1
	rest := max(h-used-1, 1)
	switch {
	case q.loading:
		b.WriteString("\n  " + st.Dim.Render("asking a worker for "+q.asked+"…"))
	case q.err != nil:
		b.WriteString("\n  " + st.Error.Render(fit(errorText(q.err), w-2)))
	case q.res != nil:
		b.WriteString("\n  " + st.Title.Render("Result of "+q.asked))
		lines := strings.Split(prettyJSON(q.res), "\n")
		for i, l := range lines {
			if i == rest-1 && len(lines) > rest {
				b.WriteString("\n  " + st.Dim.Render("… Y copies the whole result"))
				break
			}
			b.WriteString("\n  " + fit(l, w-2))
		}
	}
	return b.String()
}

func indent(s, pad string) string {
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}
