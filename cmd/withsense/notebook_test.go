package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/project"
)

func TestHarmlessLines(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		// Captured from `jupyter nbconvert --execute` with the GoNB kernel (its id coloured).
		{"E1202 13:25:43.542825   22560 main.go:191] \x1b[7;39;32m[7e22b6c8]\x1b[0m Error message", true},
		{"[NbConvertApp] Converting notebook 01_data.ipynb to notebook", true},
		{"[NbConvertApp] Writing 394759 bytes to /tmp/x/01_data.ipynb", true},
		{"E1202 13:25:43.542825   22560 kernel.go:433] \x1b[7;39;32m[7e22b6c8]\x1b[0m *** kernel heartbeat failed: EOF", false},
		{"[NbConvertApp] ERROR | Timeout waiting for execute reply (1800s).", false},
		{"panic: runtime error: index out of range", false},
	} {
		if got := harmless(c.line); got != c.want {
			t.Errorf("harmless(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestWithoutRoot(t *testing.T) {
	root, err := project.Root()
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "nb.ipynb")
	in := `{"text": ["open ` + root + `/models/onnx/resnet50.onnx: no such file", "replace rule to \"` + root + `\".", "` + root + `2/x"]}`
	if err := os.WriteFile(path, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := withoutRoot(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	want := `{"text": ["open models/onnx/resnet50.onnx: no such file", "replace rule to \".\".", "` + root + `2/x"]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if strings.Count(string(b), root) != 1 {
		t.Errorf("the root left in: %s", b)
	}
}
