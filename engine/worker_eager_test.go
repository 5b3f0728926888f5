package engine

import (
	"slices"
	"testing"
)

// A batch's eager claim reads back as written; a malformed one claims
// nothing (its activities' tasks are then real tasks, never guards).
func TestEagerClaimRoundTrip(t *testing.T) {
	claim := encodeEager("abc123", []int64{3, 17})
	if token, seqs := parseEager(claim); token != "abc123" || !slices.Equal(seqs, []int64{3, 17}) {
		t.Fatalf("parseEager(%q) = %q %v", claim, token, seqs)
	}
	h := BatchHeader{Eager: claim}
	if eagerOwner(h, 17) != "abc123" || eagerOwner(h, 4) != "" {
		t.Fatalf("eagerOwner of %q: 17 -> %q, 4 -> %q", claim, eagerOwner(h, 17), eagerOwner(h, 4))
	}
	for _, bad := range []string{"", "abc", ":3", "abc:", "abc:3,x", "abc:3;4"} {
		if token, seqs := parseEager(bad); token != "" || seqs != nil {
			t.Errorf("parseEager(%q) = %q %v, want nothing", bad, token, seqs)
		}
	}
}
