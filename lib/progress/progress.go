// Package progress shows how far long work has come: a live bar in a GoNB notebook
// (updated in place, replaced by a one-line summary when done) and a bar on stderr in a
// terminal. It is safe for concurrent use.
package progress

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// Bar counts done units out of a total.
type Bar struct {
	mu        sync.Mutex
	label     string
	total     int
	done      int
	start     time.Time
	lastDraw  time.Time
	displayID string
	finished  bool
	quiet     bool
	nested    bool
}

// Nested reports whether the bar runs inside another one (and is therefore silent); work
// that shows other live output (a learning curve) should stay silent too.
func (b *Bar) Nested() bool { return b.nested }

// Quiet silences every bar (tests set it to keep logs short).
var Quiet = false

// active counts the bars running; a bar started while another runs is nested: it is
// silent, so a loop over many fits shows one bar, not one per fit.
var (
	activeMu sync.Mutex
	active   int
)

// New starts a bar for total units of work described by label.
func New(label string, total int) *Bar {
	activeMu.Lock()
	nested := active > 0
	active++
	activeMu.Unlock()
	b := &Bar{label: label, total: total, start: time.Now(), quiet: Quiet || nested, nested: nested}
	if gonbui.IsNotebook {
		b.displayID = "progress_" + gonbui.UniqueID()
	}
	b.draw(true)
	return b
}

// Add records n more units done.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	b.draw(false)
}

// Done ends the bar with a summary line (units, elapsed time, rate), or, for work that
// took under a second, just clears it.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return
	}
	b.finished = true
	activeMu.Lock()
	active--
	activeMu.Unlock()
	if b.quiet {
		return
	}
	elapsed := time.Since(b.start)
	if elapsed < time.Second { // quick work leaves no record, just clears its bar
		if b.displayID != "" {
			gonbui.UpdateHTML(b.displayID, "")
		} else {
			fmt.Fprintf(os.Stderr, "\r%s\r", strings.Repeat(" ", len(b.label)+60))
		}
		return
	}
	summary := fmt.Sprintf("%s: %d/%d in %s (%.1f/s)", b.label, b.done, b.total,
		elapsed.Round(100*time.Millisecond), float64(b.done)/max(elapsed.Seconds(), 1e-9))
	if b.displayID != "" {
		gonbui.UpdateHTML(b.displayID, "")
		gonbui.DisplayHTML("<pre>" + summary + "</pre>")
		return
	}
	fmt.Fprintf(os.Stderr, "\r%s%s\n", summary, strings.Repeat(" ", 20))
}

func (b *Bar) draw(force bool) {
	if b.quiet || b.finished {
		return
	}
	now := time.Now()
	if !force && now.Sub(b.lastDraw) < 200*time.Millisecond && b.done < b.total {
		return
	}
	b.lastDraw = now
	frac := 0.0
	if b.total > 0 {
		frac = min(float64(b.done)/float64(b.total), 1)
	}
	eta := ""
	if b.done > 0 && b.done < b.total {
		left := time.Duration(float64(now.Sub(b.start)) / float64(b.done) * float64(b.total-b.done))
		eta = fmt.Sprintf(" ETA %s", left.Round(time.Second))
	}
	if b.displayID != "" {
		gonbui.UpdateHTML(b.displayID, fmt.Sprintf(
			`<div style="font-family:monospace">%s <progress value="%d" max="%d" style="width:40%%"></progress> %d/%d%s</div>`,
			b.label, b.done, max(b.total, 1), b.done, b.total, eta))
		return
	}
	const width = 30
	filled := int(frac * width)
	fmt.Fprintf(os.Stderr, "\r%s [%s%s] %d/%d%s ", b.label, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), b.done, b.total, eta)
}
