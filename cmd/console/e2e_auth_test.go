package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream"
)

// The engine requires credentials; the CLI of the same OS user finds the
// ones the engine left for its URL and needs no flag (every other e2e test
// relies on that too). From another config directory it is refused with a
// message that says where it looked and what to pass; --creds with the
// data directory's file then works.
func TestCLIFindsTheLocalEngineCredentials(t *testing.T) {
	e := sharedEngine(t)
	run := func(env []string, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, "foreman"), args...)
		cmd.Env = append(append(os.Environ(), "FOREMAN_NATS="+e.url, "FOREMAN_IDENTITY=auth"), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatalf("foreman %v: %v", args, err)
		}
		return 0, out.String()
	}
	if code, out := run(nil, "count"); code != 0 {
		t.Fatalf("same user, no flags: exit %d\n%s", code, out)
	}
	other := []string{jetstream.ConfigDirEnv + "=" + t.TempDir()}
	code, out := run(other, "count")
	if code == 0 || !strings.Contains(out, "Authorization") || !strings.Contains(out, jetstream.ConfigDirEnv) || !strings.Contains(out, "--creds") {
		t.Fatalf("without the engine's credentials: exit %d, want a refusal naming %s and --creds\n%s", code, jetstream.ConfigDirEnv, out)
	}
	t.Logf("refusal: %s", out)
	if code, out := run(other, "count", "--creds", filepath.Join(e.data, "auth", "local.nk")); code != 0 {
		t.Fatalf("--creds <data>/auth/local.nk: exit %d\n%s", code, out)
	}
}
