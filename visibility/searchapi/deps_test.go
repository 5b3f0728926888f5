package searchapi_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsoleLinksNoBleve guards why this package exists: the console
// (cmd/console and tui) reaches the search API through it alone, so
// bin/foreman links neither bleve nor scorch (45.6 MB with them, 22.7 MB
// without). A new import of visibility, or of anything that pulls bleve,
// from the console fails here.
func TestConsoleLinksNoBleve(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Dir}}",
		"github.com/foremanhq/foreman/visibility/searchapi",
		"github.com/foremanhq/foreman/tui",
		"github.com/foremanhq/foreman/cmd/console").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if strings.Contains(path, "blevesearch") || path == "github.com/foremanhq/foreman/visibility" {
			t.Errorf("the console links %s", path)
		}
		if strings.HasPrefix(path, "github.com/foremanhq/foreman/") {
			touchSources(t, dir)
		}
	}
}

// touchSources stats the Go files of one of the module's packages: go
// test caches a result until a file the test looked at changes, and it
// does not see what the go list child read, so without this a new import
// in tui would pass on a cached result.
func touchSources(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
}
