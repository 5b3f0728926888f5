package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A context made for a viewer's credentials, marked production, round
// trips through add, list, use, show and remove; selected, it connects
// the CLI with no flag (read-only: the viewer role) and the console's
// header shows the context, the production badge and the principal.
func TestContextsAndTheConsoleHeader(t *testing.T) {
	e := startEngine(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "vera.nk")
	add := exec.Command(filepath.Join(bin, "foreman-engine"), "users", "add", "vera", "--role", "viewer", "-o", creds, "--nats", e.url)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	cfg := t.TempDir() // contexts of this test only; no local credentials there
	fm := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "foreman"), args...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "FOREMAN_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "FOREMAN_CONFIG_DIR="+cfg)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	if out, code := fm("context", "add", "prod-eu", "--url", e.url, "--creds", creds, "--production", "--description", "EU cluster"); code != 0 {
		t.Fatalf("context add: exit %d\n%s", code, out)
	}
	out, code := fm("context", "list", "-o", "json")
	var list []struct {
		Name       string `json:"name"`
		URL        string `json:"url"`
		Creds      string `json:"creds"`
		Production bool   `json:"production"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0].Name != "prod-eu" || !list[0].Production || list[0].URL != e.url || list[0].Creds != creds {
		t.Fatalf("context list: exit %d, %v: %s", code, err, out)
	}
	if out, code := fm("count"); code == 0 {
		t.Fatalf("no context selected and no local credentials: count succeeded\n%s", out)
	}
	if out, code := fm("context", "use", "prod-eu"); code != 0 {
		t.Fatalf("context use: %d %s", code, out)
	}
	if out, code := fm("context", "show"); code != 0 || !strings.Contains(out, "prod-eu (selected)") || !strings.Contains(out, "vera") || !strings.Contains(out, "production") {
		t.Fatalf("context show: exit %d\n%s", code, out)
	}
	if out, code := fm("count"); code != 0 || strings.TrimSpace(out) != "0" {
		t.Fatalf("count through the selected context: exit %d\n%s", code, out)
	}
	if out, code := fm("terminate", "nope", "--reason", "x", "-y"); code != 4 || !strings.Contains(out, "read-only") {
		t.Fatalf("a viewer's terminate: exit %d, want 4 (read-only)\n%s", code, out)
	}

	s := newScreen(t, 120, 30, []string{"TERM=xterm-256color", "HOME=" + t.TempDir()},
		"env -u FOREMAN_NATS FOREMAN_CONFIG_DIR="+cfg+" FOREMAN_IDENTITY=vera "+filepath.Join(bin, "foreman"))
	s.waitText(20*time.Second, "foreman @prod-eu", "PRODUCTION", "as vera", "[read-only]", "● live")
	s.keys("q")

	if out, code := fm("context", "remove", "prod-eu"); code != 0 {
		t.Fatalf("context remove: %d %s", code, out)
	}
	if out, code := fm("context", "list", "-o", "json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("after remove: exit %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(cfg, "context.txt")); !os.IsNotExist(err) {
		t.Fatalf("removing the selected context left it selected: %v", err)
	}
}
