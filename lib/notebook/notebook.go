// Package notebook holds the few display helpers the GoNB notebooks share, so their cells
// stay one-line calls: show a chart, a table, a paragraph, or stop the cell on an error.
// Outside a notebook (tests, command line) the display functions print nothing.
//
// Each display returns once GoNB has taken it (gonbui.Sync): GoNB closes its end of the
// pipe when the cell's program exits, so output still in the pipe at that moment is lost,
// which left a cell that displays and ends at once (notebook 01's first) empty in a cold run.
package notebook

import (
	"fmt"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/withsense/withsense/lib/gallery"
)

// Must returns v, or stops the cell with err's message (a notebook cell has nothing
// better to do with an error than show it).
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Check stops the cell with err's message if err is not nil.
func Check(err error) {
	if err != nil {
		panic(err)
	}
}

// SVG shows a chart from the charts package.
func SVG(svg string, err error) {
	Check(err)
	gonbui.DisplaySVG(svg)
	gonbui.Sync()
}

// HTML shows raw HTML (a gallery, a table).
func HTML(html string) {
	gonbui.DisplayHTML(html)
	gonbui.Sync()
}

// Markdown shows formatted text; args format it like fmt.Sprintf. Without args the text is
// shown as it is, so a paragraph lib has already formatted keeps its "%" signs.
func Markdown(format string, args ...any) {
	if len(args) > 0 {
		format = fmt.Sprintf(format, args...)
	}
	gonbui.DisplayMarkdown(format)
	gonbui.Sync()
}

// Table shows a header and rows.
func Table(header []string, rows [][]string) { HTML(gallery.Table(header, rows)) }

// Floats converts counts to float64 for the charts.
func Floats[T int | float32](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
