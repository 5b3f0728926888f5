package tui

import (
	"strings"
	"testing"
)

// The header names the context, the self-declared identity and the
// authenticated principal beside it when it differs, and marks a
// production context with a badge in a colour nothing else uses.
func TestHeaderContextAndPrincipal(t *testing.T) {
	h := newHarness(t, newFixtureBackend(), Options{Context: "prod-eu", Production: true, Principal: "vera", Identity: "bob", ReadOnly: true})
	h.golden()
	line := strings.SplitN(h.screen(), "\n", 2)[0]
	for _, want := range []string{"@prod-eu", "PRODUCTION", "as bob (user vera)", "[read-only]"} {
		if !strings.Contains(line, want) {
			t.Errorf("header %q lacks %q", line, want)
		}
	}
	badge := h.m.st.Production.Render(" PRODUCTION ")
	if badge == h.m.st.ReadOnly.Render(" PRODUCTION ") || badge == h.m.st.Error.Render(" PRODUCTION ") || !strings.Contains(badge, "\x1b[") {
		t.Errorf("production badge %q is not styled apart", badge)
	}

	plain := newHarness(t, newFixtureBackend(), Options{Principal: "alice", Identity: "alice"})
	line = strings.SplitN(plain.screen(), "\n", 2)[0]
	if strings.Contains(line, "PRODUCTION") || strings.Contains(line, "@") || !strings.Contains(line, "as alice") || strings.Contains(line, "(user") {
		t.Errorf("header without a context: %q", line)
	}
}
