package e2e_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// codeBlock is a fenced block of the README.
type codeBlock struct {
	lang  string
	lines []string
}

func readmeBlocks(t *testing.T) []codeBlock {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []codeBlock
	var cur *codeBlock
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &codeBlock{lang: strings.TrimPrefix(line, "```")}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	return blocks
}

// Every Go sample in the README is a literal excerpt of the compiled,
// tested example it names on its first line.
func TestReadmeGoSamplesAreExampleCode(t *testing.T) {
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "go" {
			continue
		}
		n++
		if len(b.lines) < 2 || !strings.HasPrefix(b.lines[0], "// ") {
			t.Fatalf("a Go sample must start with the file it is taken from:\n%s", strings.Join(b.lines, "\n"))
		}
		file := strings.TrimPrefix(b.lines[0], "// ")
		src, err := os.ReadFile(filepath.Join(repoRoot(), file))
		if err != nil {
			t.Fatalf("sample from %s: %v", file, err)
		}
		if excerpt := strings.Join(b.lines[1:], "\n"); !strings.Contains(string(src), excerpt) {
			t.Errorf("the README's sample is not a literal excerpt of %s (update one or the other):\n%s", file, excerpt)
		}
	}
	if n == 0 {
		t.Fatal("no Go samples found in the README")
	}
}

var exitComment = regexp.MustCompile(`#\s*exit (\d)`)

// Every foreman command in the README runs as written against a real
// engine with the example workers, in order, and exits as its comment says
// (0 when it says nothing). A command is retried for a while when it
// fails unexpectedly: the runs it acts on move asynchronously.
func TestReadmeCommandsRunAsWritten(t *testing.T) {
	e := startEngine(t, "--examples")
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "FOREMAN_NATS="+e.url, "FOREMAN_IDENTITY=readme")
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "sh" {
			continue
		}
		for _, line := range b.lines {
			if !strings.HasPrefix(line, "foreman ") {
				continue
			}
			n++
			want := 0
			if m := exitComment.FindStringSubmatch(line); m != nil {
				want, _ = strconv.Atoi(m[1])
			}
			deadline := time.Now().Add(20 * time.Second)
			for {
				cmd := exec.Command("sh", "-c", line)
				cmd.Env = env
				out, _ := cmd.CombinedOutput()
				got := cmd.ProcessState.ExitCode()
				if got == want {
					t.Logf("$ %s\n%s", line, out)
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("$ %s\nexit %d, want %d:\n%s", line, got, want, out)
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d foreman commands found in the README", n)
	}
}
