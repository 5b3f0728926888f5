//go:build unix

package jetstream

import (
	"errors"
	"os"
	"syscall"
)

var errLocked = errors.New("locked by another process")

// flockExclusive takes the lock without waiting: a second engine must be
// refused at once, not queue behind the first.
func flockExclusive(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

func funlock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
