package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSort(t *testing.T) {
	cases := []struct {
		in   []string
		want []string
	}{
		{nil, []string{}},
		{[]string{"-start_time", "WorkflowId"}, []string{"-start_time", "workflow_id"}},
		{[]string{"+CloseTime", " -HistoryLength "}, []string{"close_time", "-history_length"}},
		{[]string{"-Amount", "attr.CustomerId", "Vip"}, []string{"-attr.Amount", "attr.CustomerId", "attr.Vip"}},
		{[]string{"-_score", "_id"}, []string{"-_score", "_id"}},
		{[]string{"ExecutionStatus", "-waitingOn"}, []string{"execution_status", "-waiting_on"}},
	}
	for _, c := range cases {
		got, err := ParseSort(c.in, testSchema())
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseSort(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestParseSortErrors(t *testing.T) {
	cases := []struct {
		in  []string
		pos int
		msg string
	}{
		{[]string{"failure"}, 0, "cannot sort by failure: it is a text field"},
		{[]string{"-start_time", "-Notes"}, 13, "cannot sort by attr.Notes: it is a text field"},
		{[]string{"start_time", "statr_time"}, 11, `unknown field "statr_time" (did you mean start_time?)`},
		{[]string{"-"}, 1, "expected a field name to sort by"},
	}
	for _, c := range cases {
		_, err := ParseSort(c.in, testSchema())
		var e *Error
		if !errors.As(err, &e) || e.Pos != c.pos || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("ParseSort(%q) = %v; want at %d: …%s…", c.in, err, c.pos, c.msg)
		}
	}
}
