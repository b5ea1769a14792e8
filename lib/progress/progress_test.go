package progress

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNestedBarsAreSilent(t *testing.T) {
	outer := New("outer", 2)
	inner := New("inner", 10)
	if outer.Nested() || !inner.Nested() || !inner.quiet {
		t.Errorf("outer nested=%v, inner nested=%v quiet=%v", outer.Nested(), inner.Nested(), inner.quiet)
	}
	inner.Add(10)
	inner.Done()
	inner.Done() // a second Done is harmless and does not unbalance the count
	outer.Add(2)
	outer.Done()
	if next := New("next", 1); next.Nested() {
		t.Error("a bar started after the others finished is nested")
	} else {
		next.Done()
	}
}

// TestLogAndTail runs bars with a progress log and reads their events back as a runner does.
func TestLogAndTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "progress.jsonl")
	t.Setenv(LogEnv, path)
	tail := NewTail(path)
	if ev, err := tail.Read(); err != nil || len(ev) != 0 {
		t.Fatalf("before any bar: %v, %v", ev, err)
	}
	b := New("embedding", 4)
	inner := New("one fit", 2) // nested: silent, not logged
	inner.Add(2)
	inner.Done()
	b.Add(1)
	first, err := tail.Read()
	if err != nil || len(first) != 1 || first[0].Label != "embedding" || first[0].Done != 0 || first[0].Total != 4 || first[0].Finished {
		t.Fatalf("after the start: %+v, %v", first, err)
	}
	b.Add(3)
	b.Done()
	rest, err := tail.Read()
	if err != nil || len(rest) == 0 {
		t.Fatalf("after Done: %+v, %v", rest, err)
	}
	if last := rest[len(rest)-1]; !last.Finished || last.Done != 4 || last.Elapsed <= 0 {
		t.Errorf("last event %+v, want finished 4/4 with its time", last)
	}
	// A half-written line waits for its end.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"label":"x","done":1,`)
	if ev, err := tail.Read(); err != nil || len(ev) != 0 {
		t.Errorf("half a line: %+v, %v", ev, err)
	}
	f.WriteString(`"total":2,"elapsed_ns":5}` + "\n")
	f.Close()
	if ev, err := tail.Read(); err != nil || len(ev) != 1 || ev[0] != (Event{Label: "x", Done: 1, Total: 2, Elapsed: 5}) {
		t.Errorf("completed line: %+v, %v", ev, err)
	}
}

func TestLine(t *testing.T) {
	got := Line("training", 1, 4, 3*time.Second)
	if got != "training [=======                       ] 1/4 ETA 9s" {
		t.Errorf("Line = %q", got)
	}
	if s := Summary("training", 4, 4, 2*time.Second); s != "training: 4/4 in 2s (2.0/s)" {
		t.Errorf("Summary = %q", s)
	}
}
