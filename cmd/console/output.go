package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Output formats (-o).
const (
	formatTable = "table"
	formatJSON  = "json"
	formatJSONL = "jsonl"
)

// printer writes command data to stdout in the chosen format. Messages
// never go through it: they go to stderr.
type printer struct {
	w      io.Writer
	format string
}

// value prints one JSON value: indented with json, one line with jsonl.
func (p *printer) value(v any) error {
	if p.format == formatJSON {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.w, "%s\n", b)
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.w, "%s\n", b)
	return err
}

// list prints items: a JSON array with json, one line each with jsonl.
func list[T any](p *printer, items []T) error {
	if p.format == formatJSON {
		if items == nil {
			items = []T{}
		}
		return p.value(items)
	}
	for _, it := range items {
		if err := p.value(it); err != nil {
			return err
		}
	}
	return nil
}

// table is a header and rows, aligned on output. Cells are sanitized so a
// payload with newlines or tabs cannot break the layout.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(t.header) > 0 {
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
	}
	for _, r := range t.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = cell(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cell flattens control characters so one value stays one cell.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// when formats a time for tables: local, to the second; "-" when unset.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// compactJSON returns raw on one line, for table cells.
func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
