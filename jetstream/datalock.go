package jetstream

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataLockName is the file in a data directory that an engine holds locked
// for as long as it uses the directory. Two nats-servers on one file store
// corrupt it (acknowledged writes lost, "corrupt state file" at the next
// boot), and nats-server takes no lock of its own, so the lock is taken
// before the server opens anything.
const dataLockName = "foreman.lock"

// ErrDataDirInUse is returned when another process holds the data directory.
var ErrDataDirInUse = errors.New("data directory in use")

// dataLock is an exclusive, advisory lock on a data directory, released by
// the kernel when the holder exits, however it exits (kill -9 included).
type dataLock struct {
	f *os.File
}

// lockDataDir creates dir if needed and locks it for this process, or says
// which process holds it. The lock file records the holder's pid, host and
// start time for that message; its content is informative only — the
// kernel lock decides.
func lockDataDir(dir string) (*dataLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, dataLockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := flockExclusive(f); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s is held by another process (%s); stop it first, or use another --data",
				ErrDataDirInUse, dir, describeHolder(holder))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	owner := fmt.Sprintf("pid=%d host=%s started=%s cmd=%s\n", os.Getpid(), host,
		time.Now().UTC().Format(time.RFC3339), filepath.Base(os.Args[0]))
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(owner), 0)
	}
	return &dataLock{f: f}, nil
}

// describeHolder turns the lock file's "pid=… host=…" line into words.
func describeHolder(content []byte) string {
	s := strings.TrimSpace(string(content))
	if s == "" {
		return "holder unknown"
	}
	return strings.Join(strings.Fields(s), ", ")
}

// release unlocks the directory. The file stays: removing it would let a
// third process lock a new inode while a second still waits on the old one.
func (l *dataLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = funlock(l.f)
	l.f.Close()
	l.f = nil
}
