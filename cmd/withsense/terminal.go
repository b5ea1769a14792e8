package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"time"

	"github.com/withsense/withsense/lib/progress"
)

// terminal is where the notebook runner and `withsense jupyter` write: the log lines of the
// commands they run, less the harmless ones (see harmless), their own lines, and, on a
// terminal, one status line redrawn in place below them. Elsewhere (a CI log) the status
// is printed as a line when its step changes and every statusEvery.
type terminal struct {
	mu          sync.Mutex
	w           io.Writer
	tty         bool
	status      string
	step        string
	lastPrinted time.Time
}

// statusEvery is how often a log that is not a terminal gets the status line again.
const statusEvery = 30 * time.Second

func newTerminal(f *os.File) *terminal {
	st, err := f.Stat()
	return &terminal{w: f, tty: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// println writes a permanent line above the status line.
func (t *terminal) println(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty && t.status != "" {
		fmt.Fprint(t.w, "\r\033[K")
	}
	fmt.Fprintln(t.w, s)
	if t.tty && t.status != "" {
		fmt.Fprint(t.w, t.status)
	}
}

// setStatus shows status; step names what it is about (a changed step is always shown).
func (t *terminal) setStatus(step, status string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tty {
		fmt.Fprint(t.w, "\r\033[K"+status)
		t.status = status
		return
	}
	if status != "" && (step != t.step || time.Since(t.lastPrinted) >= statusEvery) {
		fmt.Fprintln(t.w, status)
		t.step, t.lastPrinted = step, time.Now()
	}
}

// harmlessLines are log lines that say nothing to the reader, dropped from the terminal:
//   - GoNB's "Error message" line, which every kernel start logs at error level (gonb
//     v0.11.5 main.go's setUpKlog tests its extra log even when there is none);
//   - nbconvert's "Converting notebook" and "Writing N bytes" lines (the runner says what
//     it executes and writes).
var harmlessLines = regexp.MustCompile(`^(E\d{4} [\d:.]+\s+\d+ main\.go:\d+\] (\[[0-9a-f]+\] )?Error message|\[NbConvertApp\] (Converting notebook|Writing \d+ bytes))`)

// ansi matches terminal colour codes (GoNB colours its kernel id).
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// harmless reports whether a log line is one of harmlessLines.
func harmless(line string) bool { return harmlessLines.MatchString(ansi.ReplaceAllString(line, "")) }

// run runs cmd with its stdout and stderr written line by line above the status line,
// harmless lines dropped.
func (t *terminal) run(cmd *exec.Cmd) error {
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	// A process the command started may hold its output open after it ended (an orphaned
	// kernel): stop waiting for that output soon after the command itself exits.
	cmd.WaitDelay = 2 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			if line := sc.Text(); !harmless(line) {
				t.println(line)
			}
		}
		io.Copy(io.Discard, r) // a line too long for the scanner: drop the rest, never block the command
	}()
	err := cmd.Run()
	w.Close()
	<-done
	return err
}

// follow shows, until stop is called, the notebook's elapsed time and its current long
// step from the kernel's progress log; finished steps of a second or more are printed
// as a summary line.
func (t *terminal) follow(name string, tail *progress.Tail) (stop func()) {
	start := time.Now()
	quit, finished := make(chan struct{}), make(chan struct{})
	var current *progress.Event
	update := func() {
		events, err := tail.Read()
		if err != nil {
			t.println("progress: " + err.Error())
		}
		for _, e := range events {
			if e.Finished {
				if e.Elapsed >= time.Second {
					t.println("  " + progress.Summary(e.Label, e.Done, e.Total, e.Elapsed))
				}
				if current != nil && current.Label == e.Label {
					current = nil
				}
				continue
			}
			current = &e
		}
		status, step := fmt.Sprintf("%s %s", name, time.Since(start).Round(time.Second)), ""
		if current != nil {
			status += " · " + progress.Line(current.Label, current.Done, current.Total, current.Elapsed)
			step = current.Label
		}
		t.setStatus(step, status)
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				update()
				return
			case <-tick.C:
				update()
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
		t.setStatus("", "")
		t.mu.Lock()
		t.status = ""
		t.mu.Unlock()
	}
}
