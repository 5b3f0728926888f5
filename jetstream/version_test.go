package jetstream

import (
	"errors"
	"strings"
	"testing"
)

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		have string
		ok   bool
	}{
		{"2.11.0", true},
		{"2.11.1", true},
		{"2.15.2", true},
		{"v2.12.0", true},
		{"3.0.0", true},
		{"2.11.0-RC.1", true},
		{"2.10.29", false},
		{"2.9.0", false},
		{"1.99.99", false},
		{"2.10", false},
	} {
		ok, err := versionAtLeast(tc.have, "2.11.0")
		if err != nil || ok != tc.ok {
			t.Errorf("versionAtLeast(%q) = %v, %v; want %v", tc.have, ok, err, tc.ok)
		}
	}
	for _, bad := range []string{"", "x.y.z", "2.11.0.1", "-1.0.0"} {
		if _, err := versionAtLeast(bad, "2.11.0"); err == nil {
			t.Errorf("versionAtLeast(%q) accepted", bad)
		}
	}
	err := checkServerVersion("2.10.22")
	if !errors.Is(err, ErrServerTooOld) || !strings.Contains(err.Error(), "2.10.22") || !strings.Contains(err.Error(), "2.11.0") {
		t.Errorf("checkServerVersion(2.10.22) = %v", err)
	}
	if err := checkServerVersion("2.15.2"); err != nil {
		t.Errorf("checkServerVersion(2.15.2) = %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, id := range []string{"a.b", "x y", "*", ">", "ü/😀", "\x00"} {
		key, err := runKey(id)
		if err != nil {
			t.Fatal(err)
		}
		if checkToken("key", key, 1000) != nil {
			t.Errorf("run key %q of %q is not a plain token", key, id)
		}
		back, err := workflowIDFromKey(key)
		if err != nil || back != id {
			t.Errorf("round trip of %q = %q, %v", id, back, err)
		}
	}
	if err := CheckQueueName(strings.Repeat("a", 100)); err != nil {
		t.Error(err)
	}
	for _, k := range []string{"a", "a.b", "a-b_c.1"} {
		if err := checkDottedKey("k", k); err != nil {
			t.Error(err)
		}
	}
}
