package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The console at 80x24 against the real engine and example workers (issue
// 19, findings 6-8): the 17-character workflow id is shown whole and the
// footer keeps "? help" and says what q does; a query mixing the dialects
// is explained in the bar; the Query tab lists the workflow's own handler
// and the signal dialog the signal it listens on, from a real worker,
// before either was used; q goes back, then quits.
func TestConsoleDiscoverability(t *testing.T) {
	e := startEngine(t, "--examples")
	const id = "ingest-doc-E2EHND"
	if _, stderr, code := e.foreman(t, "starter", "start", "DocumentIngestion", "--id", id, "--queue", "ingest",
		"--input", `{"doc_id":"doc-E2EHND","pages":500,"page_time":"1s"}`); code != 0 {
		t.Fatalf("start: exit %d: %s", code, stderr)
	}
	e.waitCount(t, "workflow_id:"+id, 1, 30*time.Second)

	s := newScreen(t, 80, 24, []string{"FOREMAN_NATS=" + e.url, "FOREMAN_IDENTITY=alice", "TERM=xterm-256color", "HOME=" + t.TempDir()},
		filepath.Join(bin, "foreman"))
	txt := s.waitText(20*time.Second, "foreman as alice", id+" ")
	lines := strings.Split(strings.TrimRight(txt, "\n"), "\n")
	if foot := strings.TrimSpace(lines[len(lines)-1]); !strings.HasSuffix(foot, "? help  q quit") {
		t.Fatalf("footer %q", foot)
	}

	s.keys("/", "C-u", "status:running WorkflowType = 'DocumentIngestion'", "Enter")
	s.waitText(10*time.Second, "mixes the two dialects")
	s.keys("C-u", "workflow_id:"+id, "Enter")
	s.waitFor("the search to apply", 10*time.Second, func(txt string) bool {
		return strings.Contains(txt, "1 matches") && !strings.Contains(txt, "mixes")
	})
	s.keys("Enter")
	s.waitText(10*time.Second, id+"@")
	s.keys("5")
	s.waitText(15*time.Second, "this workflow's: progress")
	s.keys("Escape")
	time.Sleep(300 * time.Millisecond) // Escape then s at once reads as alt+s
	s.keys("s")
	s.waitText(15*time.Second, "listens on: priority")
	s.keys("Escape")
	s.waitFor("the signal dialog to close", 5*time.Second, func(txt string) bool { return !strings.Contains(txt, "listens on") })
	s.waitText(5*time.Second, "esc/q back")
	s.keys("q")
	s.waitText(5*time.Second, "q quit", "1 matches")
	s.keys("q")
	s.waitFor("the console to quit", 10*time.Second, func(txt string) bool {
		return strings.HasPrefix(txt, "capture-pane:") || !strings.Contains(txt, "foreman as alice")
	})
}
