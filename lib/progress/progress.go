// Package progress shows how far long work has come: a live bar in a GoNB notebook
// (updated in place, replaced by a one-line summary when done) and a bar on stderr in a
// terminal. Where $WITH_SENSE_PROGRESS_LOG names a file (LogEnv), every bar also appends
// its state there, so the process that runs a notebook can show the kernel's bars in its
// terminal. It is safe for concurrent use.
package progress

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	lastLog   time.Time
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
	logEvent(Event{Label: b.label, Done: b.done, Total: b.total, Elapsed: elapsed, Finished: true})
	if elapsed < time.Second { // quick work leaves no record, just clears its bar
		if b.displayID != "" {
			gonbui.UpdateHTML(b.displayID, "")
		} else {
			fmt.Fprintf(os.Stderr, "\r%s\r", strings.Repeat(" ", len(b.label)+60))
		}
		return
	}
	summary := Summary(b.label, b.done, b.total, elapsed)
	if b.displayID != "" {
		gonbui.UpdateHTML(b.displayID, "")
		gonbui.DisplayHTML("<pre>" + summary + "</pre>")
		gonbui.Sync() // taken by GoNB before the cell can end (see package notebook)
		return
	}
	fmt.Fprintf(os.Stderr, "\r%s%s\n", summary, strings.Repeat(" ", 20))
}

func (b *Bar) draw(force bool) {
	if b.quiet || b.finished {
		return
	}
	now := time.Now()
	if force || now.Sub(b.lastLog) >= time.Second {
		b.lastLog = now
		logEvent(Event{Label: b.label, Done: b.done, Total: b.total, Elapsed: now.Sub(b.start)})
	}
	if !force && now.Sub(b.lastDraw) < 200*time.Millisecond && b.done < b.total {
		return
	}
	b.lastDraw = now
	if b.displayID != "" {
		gonbui.UpdateHTML(b.displayID, fmt.Sprintf(
			`<div style="font-family:monospace">%s <progress value="%d" max="%d" style="width:40%%"></progress> %d/%d%s</div>`,
			b.label, b.done, max(b.total, 1), b.done, b.total, eta(b.done, b.total, now.Sub(b.start))))
		return
	}
	fmt.Fprintf(os.Stderr, "\r%s ", Line(b.label, b.done, b.total, now.Sub(b.start)))
}

// eta is " ETA 1m23s" while work is under way (the rate so far, extrapolated), else "".
func eta(done, total int, elapsed time.Duration) string {
	if done <= 0 || done >= total {
		return ""
	}
	left := time.Duration(float64(elapsed) / float64(done) * float64(total-done))
	return fmt.Sprintf(" ETA %s", left.Round(time.Second))
}

// Line is a bar as one line of text: "label [=====     ] 3/10 ETA 12s".
func Line(label string, done, total int, elapsed time.Duration) string {
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	const width = 30
	filled := int(frac * width)
	return fmt.Sprintf("%s [%s%s] %d/%d%s", label, strings.Repeat("=", filled),
		strings.Repeat(" ", width-filled), done, total, eta(done, total, elapsed))
}

// Summary is a finished bar's line: "label: 10/10 in 12.3s (0.8/s)".
func Summary(label string, done, total int, elapsed time.Duration) string {
	return fmt.Sprintf("%s: %d/%d in %s (%.1f/s)", label, done, total,
		elapsed.Round(100*time.Millisecond), float64(done)/max(elapsed.Seconds(), 1e-9))
}

// LogEnv names the environment variable holding the file bars append their Events to
// (one JSON object a line); unset, nothing is logged.
const LogEnv = "WITH_SENSE_PROGRESS_LOG"

// Event is one state of a bar, as logged: at its start, at most once a second while it
// runs, and when it is done (Finished).
type Event struct {
	Label    string        `json:"label"`
	Done     int           `json:"done"`
	Total    int           `json:"total"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	Finished bool          `json:"finished,omitempty"`
}

var (
	logMu   sync.Mutex
	logPath string // the LogEnv value logFile was opened for
	logFile *os.File
)

// logEvent appends e to the LogEnv file, if any. Progress is best effort: a log that
// cannot be opened is reported on stderr and then ignored.
func logEvent(e Event) {
	line, err := json.Marshal(e)
	if err != nil {
		return
	}
	logMu.Lock()
	defer logMu.Unlock()
	if path := os.Getenv(LogEnv); path != logPath {
		if logFile != nil {
			logFile.Close()
		}
		logPath, logFile = path, nil
		if path != "" {
			if logFile, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "progress: $%s: %v (progress not logged)\n", LogEnv, err)
			}
		}
	}
	if logFile != nil {
		logFile.Write(append(line, '\n')) // one write a line: O_APPEND keeps lines whole
	}
}

// Tail reads a progress log as it grows.
type Tail struct {
	path    string
	off     int64
	partial []byte
}

// NewTail follows the log at path (which need not exist yet).
func NewTail(path string) *Tail { return &Tail{path: path} }

// Read returns the Events appended since the last Read (a line still being written waits
// for the next one). A log that does not exist yet has no events.
func (t *Tail) Read() ([]Event, error) {
	f, err := os.Open(t.path)
	if os.IsNotExist(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(t.off, 0); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	t.off += int64(len(b))
	b = append(t.partial, b...)
	var events []Event
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		var e Event
		if err := json.Unmarshal(b[:i], &e); err != nil {
			return events, fmt.Errorf("%s: bad progress line %q: %w", t.path, b[:i], err)
		}
		events, b = append(events, e), b[i+1:]
	}
	t.partial = append([]byte(nil), b...)
	return events, nil
}
