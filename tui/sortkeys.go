package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Direct sort keys: 1-9 sort a table by its n-th column as shown; the
// same key again reverses the order. o and O still cycle and reverse.

// sortKeysHelp is their line in the ? help (matching is by sortDigit).
var sortKeysHelp = key.NewBinding(key.WithKeys("1", "2", "3", "4", "5", "6", "7", "8", "9"), key.WithHelp("1-9", "sort by column n (again: reverse)"))

// sortDigit is the column number a key sorts by, 0 for none.
func sortDigit(k tea.KeyPressMsg) int {
	if s := k.String(); len(s) == 1 && s[0] >= '1' && s[0] <= '9' {
		return int(s[0] - '0')
	}
	return 0
}
