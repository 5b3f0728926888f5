package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/engine"
	"github.com/foremanhq/foreman/jetstream"
	"github.com/foremanhq/foreman/jetstream/jstest"
	"github.com/foremanhq/foreman/operator"
	"github.com/foremanhq/foreman/visibility/searchapi"
)

func TestReadJSONNamesThePosition(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{`{"a": 1,}`, `at line 1, column 9 (after "{\"a\": 1,")`},
		{"{\n  \"a\": tru\n}", "at line 2, column 11"},
		{`[1, 2`, "at line 1, column 6"},
		{`{"a": "ü" x}`, "at line 1, column 11"}, // columns count characters
		{`"unterminated`, "unexpected end of JSON input"},
		{"  ", "empty JSON"},
		{`1 2`, "at line 1, column 3"},
	} {
		_, err := readJSON("--input", tc.in, nil)
		var u *usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("readJSON(%q) = %v, want a usage error containing %q", tc.in, err, tc.want)
		}
	}
	raw, err := readJSON("--input", "-", strings.NewReader(" {\"from\": \"stdin\"}\n"))
	if err != nil || string(raw) != `{"from": "stdin"}` {
		t.Fatalf("stdin: %s, %v", raw, err)
	}
	if _, err := readJSON("--input", "@/no/such/file.json", nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("boom"), exitFailure},
		{usagef("bad"), exitUsage},
		{fmt.Errorf("reset: %w", engine.ErrBadResetPoint), exitUsage},
		{&searchapi.APIError{Code: "bad_query", Message: "x"}, exitUsage},
		{&searchapi.APIError{Code: "timeout"}, exitTimeout},
		{fmt.Errorf("x: %w", engine.ErrWorkflowNotFound), exitNotFound},
		{fmt.Errorf("x: %w", engine.ErrUnknownQuery), exitNotFound},
		{fmt.Errorf("x: %w", engine.ErrRunClosed), exitRefused},
		{fmt.Errorf("x: %w", engine.ErrNoSuchApproval), exitRefused},
		{fmt.Errorf("x: %w", engine.ErrNotApprover), exitRefused},
		{fmt.Errorf("x: %w", engine.ErrAlreadyStarted), exitRefused},
		{refusedf("not confirmed"), exitRefused},
		{fmt.Errorf("x: %w", &operator.ReadOnlyError{Action: "approve"}), exitRefused},
		{&operator.InvalidError{Msg: "name the one to decide"}, exitUsage},
		{fmt.Errorf("x: %w", jetstream.ErrBatchRunning), exitRefused},
		{fmt.Errorf("x: %w", jetstream.ErrBatchMismatch), exitUsage},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), exitTimeout},
		{fmt.Errorf("query: %w", engine.ErrNoResponders), exitTimeout},
		{engine.NewApplicationError("BadPayload", "not JSON", true), exitUsage},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	// definite errors prove nothing was written; a timeout does not
	if !operator.Definite(fmt.Errorf("x: %w", engine.ErrRunClosed)) || operator.Definite(context.DeadlineExceeded) || operator.Definite(errors.New("connection reset")) {
		t.Fatal("definite misclassifies")
	}
}

func TestFlagsAnywhere(t *testing.T) {
	var o opts
	g := globals{output: formatTable}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	fs.StringVar(&o.comment, "comment", "", "")
	pos, err := parseInterleaved(fs, []string{"wf-1", "--comment", "fine", "manager", "-o", "json", "--", "--not-a-flag"})
	if err != nil || strings.Join(pos, "|") != "wf-1|manager|--not-a-flag" || o.comment != "fine" || g.output != "json" {
		t.Fatalf("pos %q, comment %q, output %q, err %v", pos, o.comment, g.output, err)
	}
}

// On a terminal a destructive action asks, and only "y" goes ahead.
func TestConfirmOnATerminal(t *testing.T) {
	st, srv := jstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := engine.NewClient(st, engine.ClientOptions{Identity: "setup"})
	if _, err := c.Start(ctx, engine.StartOptions{ID: "wf-confirm", TaskQueue: "q"}, "Flow", nil); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"FOREMAN_NATS": srv.ClientURL(), "FOREMAN_IDENTITY": "judy"}[k]
	}
	term := func(answer string) (stdio, *bytes.Buffer, *bytes.Buffer) {
		var out, errb bytes.Buffer
		return stdio{in: strings.NewReader(answer), out: &out, err: &errb, inTTY: true}, &out, &errb
	}
	for _, answer := range []string{"n\n", "\n", ""} {
		s, _, errb := term(answer)
		if code := run(ctx, []string{"terminate", "wf-confirm", "--reason", "r"}, s, env); code != exitRefused ||
			!strings.Contains(errb.String(), "terminate wf-confirm (run ") || !strings.Contains(errb.String(), "[y/N]") || !strings.Contains(errb.String(), "not confirmed") {
			t.Fatalf("answer %q: exit %d, stderr %q", answer, code, errb)
		}
	}
	if x, _ := c.Describe(ctx, "wf-confirm", ""); x.Status != engine.StatusRunning {
		t.Fatalf("declined terminate closed the run: %s", x.Status)
	}
	s, out, errb := term("y\n")
	if code := run(ctx, []string{"terminate", "wf-confirm", "--reason", "r"}, s, env); code != exitOK {
		t.Fatalf("confirmed: exit %d, stderr %s", code, errb)
	}
	if !strings.HasPrefix(out.String(), "ok") {
		t.Fatalf("stdout %q", out)
	}
	if x, _ := c.Describe(ctx, "wf-confirm", ""); x.Status != engine.StatusTerminated {
		t.Fatalf("status %s", x.Status)
	}
	// read-only is refused before any prompt
	s, _, errb = term("y\n")
	if code := run(ctx, []string{"--read-only", "terminate", "wf-confirm", "--reason", "r"}, s, env); code != exitRefused || strings.Contains(errb.String(), "[y/N]") {
		t.Fatalf("read-only: exit %d, stderr %s", code, errb)
	}
}

func TestQueryErrorPointsAtTheToken(t *testing.T) {
	err := error(&queryError{api: &searchapi.APIError{Code: "bad_query", Message: `unknown field "stauts"`, Pos: 9, Expected: "a field name"},
		query: `type:Ord stauts:running`})
	want := "malformed query: unknown field \"stauts\" (expected a field name)\n  type:Ord stauts:running\n           ^"
	if err.Error() != want {
		t.Fatalf("got\n%s\nwant\n%s", err, want)
	}
	if exitCode(fmt.Errorf("list: %w", err)) != exitUsage {
		t.Fatal("a malformed query is a usage error")
	}
}
