package progress

import "testing"

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
