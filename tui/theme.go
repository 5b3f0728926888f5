package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"

	"github.com/foremanhq/foreman/engine"
)

// Styles is every style the console uses, built once per theme and handed
// down; views never build their own.
type Styles struct {
	NoColor bool
	Dark    bool

	Title      lipgloss.Style
	Dim        lipgloss.Style
	Bold       lipgloss.Style
	Crumb      lipgloss.Style
	CrumbLast  lipgloss.Style
	ColHeader  lipgloss.Style
	ColSorted  lipgloss.Style
	Selected   lipgloss.Style
	Marked     lipgloss.Style
	Fail       lipgloss.Style
	Warn       lipgloss.Style
	OK         lipgloss.Style
	Match      lipgloss.Style
	Error      lipgloss.Style
	Info       lipgloss.Style
	Key        lipgloss.Style
	Desc       lipgloss.Style
	Tab        lipgloss.Style
	TabActive  lipgloss.Style
	Dialog     lipgloss.Style
	DangerBox  lipgloss.Style
	Button     lipgloss.Style
	ButtonOn   lipgloss.Style
	Input      lipgloss.Style
	Cursor     lipgloss.Style
	BarFull    lipgloss.Style
	BarEmpty   lipgloss.Style
	ReadOnly   lipgloss.Style
	Production lipgloss.Style // the header badge of a context marked production
	Scope      lipgloss.Style
	statusBase map[engine.Status]lipgloss.Style
}

// Status is the style of a status glyph and word.
func (s Styles) Status(st engine.Status) lipgloss.Style {
	if v, ok := s.statusBase[st]; ok {
		return v
	}
	return s.Dim
}

// newStyles builds the theme for a dark or light terminal background, or
// attributes only (bold, reverse, underline) when colour is off.
func newStyles(dark, noColor bool) Styles {
	if noColor {
		return monoStyles()
	}
	ld := lipgloss.LightDark(dark)
	var (
		fg      = ld(lipgloss.Color("#1F2328"), lipgloss.Color("#E6EDF3"))
		dim     = ld(lipgloss.Color("#6E7781"), lipgloss.Color("#7D8590"))
		accent  = ld(lipgloss.Color("#5A32C8"), lipgloss.Color("#A98BFF"))
		selBg   = ld(lipgloss.Color("#DDF4FF"), lipgloss.Color("#2D333B"))
		green   = ld(lipgloss.Color("#1A7F37"), lipgloss.Color("#3FB950"))
		red     = ld(lipgloss.Color("#CF222E"), lipgloss.Color("#F85149"))
		yellow  = ld(lipgloss.Color("#9A6700"), lipgloss.Color("#D29922"))
		blue    = ld(lipgloss.Color("#0969DA"), lipgloss.Color("#58A6FF"))
		orange  = ld(lipgloss.Color("#BC4C00"), lipgloss.Color("#DB6D28"))
		matchBg = ld(lipgloss.Color("#FFF8C5"), lipgloss.Color("#6E5A00"))
	)
	st := func(c color.Color) lipgloss.Style { return lipgloss.NewStyle().Foreground(c) }
	s := Styles{
		Dark:      dark,
		Title:     lipgloss.NewStyle().Bold(true).Foreground(accent),
		Dim:       st(dim),
		Bold:      lipgloss.NewStyle().Bold(true).Foreground(fg),
		Crumb:     st(dim),
		CrumbLast: lipgloss.NewStyle().Bold(true).Foreground(fg),
		ColHeader: lipgloss.NewStyle().Bold(true).Foreground(dim),
		ColSorted: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Selected:  lipgloss.NewStyle().Background(selBg).Bold(true),
		Marked:    st(accent).Bold(true),
		Fail:      st(red).Bold(true),
		Warn:      st(yellow),
		OK:        st(green),
		Match:     lipgloss.NewStyle().Background(matchBg).Bold(true),
		Error:     st(red).Bold(true),
		Info:      st(blue),
		Key:       st(accent).Bold(true),
		Desc:      st(dim),
		Tab:       st(dim).Padding(0, 1),
		TabActive: lipgloss.NewStyle().Bold(true).Foreground(accent).Underline(true).Padding(0, 1),
		Dialog:    lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1),
		DangerBox: lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(red).Padding(0, 1),
		Button:    st(dim).Padding(0, 1),
		ButtonOn:  lipgloss.NewStyle().Reverse(true).Bold(true).Padding(0, 1),
		Input:     st(fg),
		Cursor:    lipgloss.NewStyle().Reverse(true),
		BarFull:   st(accent),
		BarEmpty:  st(dim),
		ReadOnly:  st(orange).Bold(true),
		// White on red: unmistakable whatever the rest of the screen shows.
		Production: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FFFFFF")).Background(red),
		Scope:      lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(orange),
	}
	s.statusBase = map[engine.Status]lipgloss.Style{
		engine.StatusRunning:        st(blue),
		engine.StatusCompleted:      st(green),
		engine.StatusFailed:         st(red).Bold(true),
		engine.StatusCanceled:       st(yellow),
		engine.StatusTerminated:     st(orange),
		"timed_out":                 st(red),
		engine.StatusContinuedAsNew: st(dim),
		engine.StatusReset:          st(dim),
		engine.StatusCompensated:    st(yellow),
	}
	return s
}

// monoStyles honours NO_COLOR: emphasis by attributes only, and every
// state also has a glyph or a word so nothing depends on them.
func monoStyles() Styles {
	plain := lipgloss.NewStyle()
	bold := lipgloss.NewStyle().Bold(true)
	rev := lipgloss.NewStyle().Reverse(true)
	border := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	s := Styles{
		NoColor: true, Dark: true,
		Title: bold, Dim: plain, Bold: bold, Crumb: plain, CrumbLast: bold,
		ColHeader: bold, ColSorted: bold.Underline(true), Selected: rev, Marked: bold,
		Fail: bold, Warn: plain, OK: plain, Match: lipgloss.NewStyle().Underline(true).Bold(true),
		Error: bold, Info: plain, Key: bold, Desc: plain,
		Tab: plain.Padding(0, 1), TabActive: bold.Underline(true).Padding(0, 1),
		Dialog: border, DangerBox: border.Border(lipgloss.DoubleBorder()),
		Button: plain.Padding(0, 1), ButtonOn: rev.Bold(true).Padding(0, 1),
		Input: plain, Cursor: rev, BarFull: plain, BarEmpty: plain, ReadOnly: bold, Scope: rev,
		Production: rev.Bold(true),
	}
	s.statusBase = map[engine.Status]lipgloss.Style{engine.StatusFailed: bold}
	return s
}
