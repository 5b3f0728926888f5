package engine

import "fmt"

// MaxTaskQueueBytes bounds task queue names.
const MaxTaskQueueBytes = 100

// CheckTaskQueue reports whether name can be a task queue: 1 to 100 of
// [A-Za-z0-9_-]. Queue names become parts of store subjects and consumer
// names, so the engine checks them before it writes anything that names
// one: a start whose queue the store refuses after the run record exists
// would leave a run that can never start.
func CheckTaskQueue(name string) error {
	if name == "" {
		return fmt.Errorf("%w: a task queue is required", ErrInvalidArgument)
	}
	if len(name) > MaxTaskQueueBytes {
		return fmt.Errorf("%w: task queue %.40q… is %d bytes, at most %d allowed", ErrInvalidArgument, name, len(name), MaxTaskQueueBytes)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: task queue %q: only letters, digits, '_' and '-' are allowed (found %q)", ErrInvalidArgument, name, c)
		}
	}
	return nil
}
