package auth

import (
	"strings"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, s := range []string{"viewer", "Operator", " approver ", "worker", "admin"} {
		if _, err := ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	_, err := ParseRole("root")
	if err == nil || !strings.Contains(err.Error(), "viewer") {
		t.Fatalf("ParseRole(root) = %v, want an error naming the roles", err)
	}
}

func TestValidUser(t *testing.T) {
	for _, ok := range []string{"alice", "a", "bob-2", "ci_bot", strings.Repeat("a", 64)} {
		if err := ValidUser(ok); err != nil {
			t.Errorf("ValidUser(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Alice", "a.b", "a*", "a>", "-x", "a b", strings.Repeat("a", 65)} {
		if ValidUser(bad) == nil {
			t.Errorf("ValidUser(%q) accepted", bad)
		}
	}
}
