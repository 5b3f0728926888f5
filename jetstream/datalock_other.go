//go:build !unix

package jetstream

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked by another process")

// Without flock the lock is not enforced on this platform; Foreman's
// supported platforms are unix.
func flockExclusive(*os.File) error { return nil }

func funlock(*os.File) error { return nil }
