// Package gallery renders grids of photos with captions as HTML for the notebooks. Photos
// are linked by a path relative to the notebook (../data/...), never embedded: the dataset's
// licence keeps its images out of the committed reports, which show them wherever the
// reader has the data set up beside the project (`make data`).
package gallery

import (
	"fmt"
	"html"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/project"
)

// Item is one photo of a grid: its file, a title line and free caption lines.
type Item struct {
	Path  string
	Title string
	Lines []string
	// Muted greys the card out (e.g. a photo a filter hides).
	Muted bool
}

// Src returns the photo's address as seen from notebooks/ and results/ (both one level
// under the project root): a path relative to the root if the photo is below it (as the
// dataset is, through data/), else the absolute path.
func Src(path string) string {
	root, err := project.Root()
	if err == nil {
		if abs, err := filepath.Abs(path); err == nil {
			if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
				return "../" + filepath.ToSlash(rel)
			}
		}
	}
	return "file://" + filepath.ToSlash(path)
}

// HTML renders items as a responsive grid of cards, columns wide.
func HTML(items []Item, columns int) string {
	if columns < 1 {
		columns = 4
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div style="display:grid;grid-template-columns:repeat(%d,1fr);gap:10px;font-family:sans-serif;font-size:12px">`, columns)
	for _, it := range items {
		style := "border:1px solid #ddd;border-radius:6px;padding:6px;background:#fff"
		if it.Muted {
			style += ";opacity:0.45"
		}
		fmt.Fprintf(&b, `<div style="%s"><img src="%s" alt="%s" style="width:100%%;height:160px;object-fit:cover;border-radius:4px;background:#eee">`,
			style, html.EscapeString(Src(it.Path)), html.EscapeString(filepath.Base(it.Path)))
		if it.Title != "" {
			fmt.Fprintf(&b, `<div style="font-weight:bold;margin-top:4px">%s</div>`, html.EscapeString(it.Title))
		}
		for _, l := range it.Lines {
			fmt.Fprintf(&b, `<div style="color:#333;margin-top:2px">%s</div>`, html.EscapeString(l))
		}
		b.WriteString(`</div>`)
	}
	b.WriteString(`</div>`)
	return b.String()
}

// Table renders a header and rows as a plain HTML table (numbers right-aligned).
func Table(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString(`<table style="border-collapse:collapse;font-family:sans-serif;font-size:13px"><tr>`)
	for _, h := range header {
		fmt.Fprintf(&b, `<th style="border-bottom:2px solid #444;padding:3px 10px;text-align:left">%s</th>`, html.EscapeString(h))
	}
	b.WriteString(`</tr>`)
	for _, r := range rows {
		b.WriteString(`<tr>`)
		for _, c := range r {
			align := "left"
			if isNumber(c) {
				align = "right"
			}
			fmt.Fprintf(&b, `<td style="border-bottom:1px solid #ddd;padding:3px 10px;text-align:%s">%s</td>`, align, html.EscapeString(c))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</table>`)
	return b.String()
}

func isNumber(s string) bool {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	if s == "" {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.-+eE±", r) {
			return false
		}
	}
	return true
}
