package query

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := map[string]time.Duration{
		"1h30m": 90 * time.Minute, "1d": 24 * time.Hour, "1.5d": 36 * time.Hour,
		"2w": 14 * 24 * time.Hour, "1w2d": 9 * 24 * time.Hour, "250ms": 250 * time.Millisecond,
		"90s": 90 * time.Second, "1D": 24 * time.Hour, "10us": 10 * time.Microsecond,
	}
	for s, want := range cases {
		if got, ok := parseDuration(s); !ok || got != want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "h", "1", "1x", "1h-2m", "..1h", "100000000w", "1e5h"} {
		if got, ok := parseDuration(s); ok {
			t.Errorf("parseDuration(%q) = %v, want an error", s, got)
		}
	}
}

func TestTimeValue(t *testing.T) {
	f := Field{"start_time", KindTime}
	cases := []struct {
		in  string
		out time.Time
		day bool
	}{
		{"2026-11-01", date("2026-11-01T00:00:00Z"), true},
		{"2026-11-01T10:20:30Z", date("2026-11-01T10:20:30Z"), false},
		{"2026-11-01T10:20:30.5+01:00", time.Date(2026, 11, 1, 9, 20, 30, 5e8, time.UTC), false},
		{"2026-11-01T10:20:30", date("2026-11-01T10:20:30Z"), false},
		{"2026-11-01T10:20", date("2026-11-01T10:20:00Z"), false},
		{"2026-11-01 10:20", date("2026-11-01T10:20:00Z"), false},
		{"now", testNow, false},
		{"now - 2h", testNow.Add(-2 * time.Hour), false},
		{"Now+1d", testNow.Add(24 * time.Hour), false},
	}
	for _, c := range cases {
		got, day, err := timeValue(f, lit{text: c.in}, testNow)
		if err != nil || !got.Equal(c.out) || day != c.day {
			t.Errorf("timeValue(%q) = %v, %v, %v; want %v, %v", c.in, got, day, err, c.out, c.day)
		}
	}
	for _, in := range []string{"", "nowish", "now*2h", "2026-13-01", "9999-01-01", "now+1000000d"} {
		if got, _, err := timeValue(f, lit{text: in}, testNow); err == nil {
			t.Errorf("timeValue(%q) = %v, want an error", in, got)
		}
	}
}

func TestNumberValue(t *testing.T) {
	ms := Field{"duration_ms", KindNumber}
	n := Field{"history_length", KindNumber}
	for in, want := range map[string]float64{"5": 5, "-2.5": -2.5, "1e3": 1000} {
		if got, err := numberValue(n, lit{text: in}); err != nil || got != want {
			t.Errorf("numberValue(%q) = %v, %v", in, got, err)
		}
	}
	for in, want := range map[string]float64{"1s": 1000, "1h30m": 5400000, "-1s": -1000, "250": 250} {
		if got, err := numberValue(ms, lit{text: in}); err != nil || got != want {
			t.Errorf("numberValue(duration_ms, %q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"NaN", "Inf", "1s", "x"} {
		if _, err := numberValue(n, lit{text: in}); err == nil {
			t.Errorf("numberValue(%q) accepted", in)
		}
	}
}
