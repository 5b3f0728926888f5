package tui

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxSearchHistory bounds the remembered searches.
const maxSearchHistory = 200

// searchHistory remembers past searches, newest last, optionally in a file
// so they survive the session (one query per line).
type searchHistory struct {
	path    string
	entries []string
}

func loadSearchHistory(path string) *searchHistory {
	h := &searchHistory{path: path}
	if path == "" {
		return h
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return h // no history yet, or unreadable: start empty
	}
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			h.entries = append(h.entries, l)
		}
	}
	if n := len(h.entries); n > maxSearchHistory {
		h.entries = h.entries[n-maxSearchHistory:]
	}
	return h
}

// add records q as the newest search (moving it if it was there).
func (h *searchHistory) add(q string) {
	q = oneLine(strings.TrimSpace(q))
	if q == "" {
		return
	}
	if i := slices.Index(h.entries, q); i >= 0 {
		h.entries = slices.Delete(h.entries, i, i+1)
	}
	h.entries = append(h.entries, q)
	if n := len(h.entries); n > maxSearchHistory {
		h.entries = h.entries[n-maxSearchHistory:]
	}
	h.save()
}

// save writes the file; failing to keep history never disturbs the console.
func (h *searchHistory) save() {
	if h.path == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return
	}
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strings.Join(h.entries, "\n")+"\n"), 0o600); err != nil {
		return
	}
	_ = os.Rename(tmp, h.path)
}

// at returns the i-th newest entry (0 = newest).
func (h *searchHistory) at(i int) (string, bool) {
	if i < 0 || i >= len(h.entries) {
		return "", false
	}
	return h.entries[len(h.entries)-1-i], true
}
