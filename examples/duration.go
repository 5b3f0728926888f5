package examples

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as text ("72h",
// "1.5s"), so inputs typed by hand on the command line stay readable. It
// also accepts a number of nanoseconds, which is how time.Duration encodes.
//
// The examples take their waits (approval timeouts, renewal periods,
// throttling) from their input rather than from package variables: the
// input is recorded in history, so a replay sees exactly the values the
// run started with, and a test or the demo can shorten them per execution.
type Duration time.Duration

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "90s"-style text or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a Go duration such as \"90s\" or \"72h\"", s)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s: want text such as \"90s\" or a number of nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}

// or returns d, or def when d is not set.
func (d Duration) or(def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}
