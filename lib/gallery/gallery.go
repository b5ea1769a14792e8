// Package gallery renders grids of photos with captions as HTML for the notebooks. Photos
// are linked by a path relative to the notebook (../data/...), never embedded: the dataset's
// licence keeps its images out of the committed reports, which show them wherever the
// reader has the data set up beside the project (`make data`); live Jupyter shows them
// because `withsense jupyter` serves the project root. Every photo the NSFW head flags
// (see Flagged) is shown blurred, with its scores.
package gallery

import (
	"fmt"
	"html"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/imageenc"
	"github.com/withsense/withsense/lib/project"
)

// FlagThreshold is the gallery's NSFW flag: a photo is shown blurred, with its scores, when
// nsfwjs' head gives any of "Porn", "Hentai" or "Sexy" a probability above it. It is far
// below search.GuardThreshold (which hides a photo from every answer): a gallery only
// blurs, so it errs on the side of blurring.
const FlagThreshold = 0.5

// flaggedClasses are the NSFWClasses indices FlagThreshold applies to.
var flaggedClasses = []int{1, 3, 4} // Hentai, Porn, Sexy

// Flagged reports whether a gallery blurs a photo with these class probabilities.
func Flagged(s imageenc.NSFWScores) bool {
	for _, c := range flaggedClasses {
		if s[c] > FlagThreshold {
			return true
		}
	}
	return false
}

// scoresLine names the flagged classes' probabilities, e.g. "NSFW: Porn 0.62 · Sexy 0.21".
func scoresLine(s imageenc.NSFWScores) string {
	var parts []string
	for _, c := range flaggedClasses {
		parts = append(parts, fmt.Sprintf("%s %.2f", imageenc.NSFWClasses[c], s[c]))
	}
	return "NSFW: " + strings.Join(parts, " · ")
}

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

// withoutRoot drops the project root from a message, so reports name no machine path.
func withoutRoot(msg string) string {
	if root, err := project.Root(); err == nil {
		msg = strings.ReplaceAll(msg, root+string(filepath.Separator), "")
	}
	return msg
}

// HTML renders items as a responsive grid of cards, columns wide. Photos the NSFW head
// flags are blurred and captioned with their scores (imageenc.NSFWFiles, cached); where the
// scores cannot be had (no weights, an unreadable file) every photo is blurred and the grid
// says why.
func HTML(items []Item, columns int) string {
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = it.Path
	}
	scores, err := imageenc.NSFWFiles(paths)
	return render(items, columns, scores, err)
}

// render is HTML with the NSFW scores given (nil with scoresErr when unavailable).
func render(items []Item, columns int, scores []imageenc.NSFWScores, scoresErr error) string {
	if columns < 1 {
		columns = 4
	}
	var b strings.Builder
	if scoresErr != nil {
		fmt.Fprintf(&b, `<p style="font-family:sans-serif;font-size:12px;color:#a33">Photos blurred: no NSFW scores (%s).</p>`,
			html.EscapeString(withoutRoot(scoresErr.Error())))
	}
	fmt.Fprintf(&b, `<div style="display:grid;grid-template-columns:repeat(%d,1fr);gap:10px;font-family:sans-serif;font-size:12px">`, columns)
	for i, it := range items {
		style := "border:1px solid #ddd;border-radius:6px;padding:6px;background:#fff"
		if it.Muted {
			style += ";opacity:0.45"
		}
		img, flag := "", ""
		switch {
		case scoresErr != nil:
			img = ";filter:blur(14px)"
		case Flagged(scores[i]):
			img = ";filter:blur(14px)"
			flag = scoresLine(scores[i])
		}
		fmt.Fprintf(&b, `<div style="%s"><div style="overflow:hidden;border-radius:4px"><img src="%s" alt="%s" style="width:100%%;height:160px;object-fit:cover;display:block;background:#eee%s"></div>`,
			style, html.EscapeString(Src(it.Path)), html.EscapeString(filepath.Base(it.Path)), img)
		if flag != "" {
			fmt.Fprintf(&b, `<div class="nsfw-flag" style="color:#a33;margin-top:4px">blurred · %s</div>`, html.EscapeString(flag))
		}
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
