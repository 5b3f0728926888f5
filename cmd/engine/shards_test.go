package main_test

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/foremanhq/foreman/jetstream/jstest"
)

// --shards is fixed when the data is created: the binary creates 3-shard
// data, a later start without the flag keeps 3, and a start asking for 1
// is refused with the command that creates new data instead.
func TestEngineShardsFixedWithTheData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir, bin := buildEngine(t)
	data := filepath.Join(dir, "data")
	runUntilReady := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data", data, "--listen", "127.0.0.1:" + strconv.Itoa(jstest.FreePort(t))}, args...)...)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var log strings.Builder
		ready, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				log.WriteString(sc.Text() + "\n")
				if strings.Contains(sc.Text(), "foreman-engine ready") {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			_ = cmd.Wait()
			t.Fatalf("foreman-engine %v not ready within 60 s", args)
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done // all read before Wait closes the pipe
		_ = cmd.Wait()
		return log.String()
	}
	if out := runUntilReady("--shards", "3"); !strings.Contains(out, "shards=3") {
		t.Fatalf("first start with --shards 3 does not say shards=3:\n%s", out)
	}
	if out := runUntilReady(); !strings.Contains(out, "shards=3") {
		t.Fatalf("a start without --shards on 3-shard data does not keep 3:\n%s", out)
	}
	out, err := exec.Command(bin, "--data", data, "--listen", "127.0.0.1:"+strconv.Itoa(jstest.FreePort(t)), "--shards", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "this data has 3 shard(s)") || !strings.Contains(string(out), "foreman-engine --data <new directory> --shards 1") {
		t.Fatalf("--shards 1 on 3-shard data: %v\n%s", err, out)
	}
}
