package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/project"
)

func TestUpdateKeepsOtherSections(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(project.ResultsEnv, dir)
	if err := Update("a", map[string]float64{"mae": 0.2}); err != nil {
		t.Fatal(err)
	}
	if err := Update("b", []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := Update("a", map[string]float64{"mae": 0.1}); err != nil {
		t.Fatal(err)
	}
	var a map[string]float64
	var b []int
	if ok, err := Section("a", &a); !ok || err != nil || a["mae"] != 0.1 {
		t.Errorf("section a: %v %v %v", a, ok, err)
	}
	if ok, err := Section("b", &b); !ok || err != nil || len(b) != 2 {
		t.Errorf("section b: %v %v %v", b, ok, err)
	}
	if ok, _ := Section("c", &b); ok {
		t.Error("absent section found")
	}
	// A corrupt file is reported, not overwritten.
	path := filepath.Join(dir, MetricsFile)
	os.WriteFile(path, []byte("{not json"), 0o644)
	err := Update("a", 1)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt metrics: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "{not json" {
		t.Error("corrupt file was overwritten")
	}
}

func TestWriteCSV(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(project.ResultsEnv, dir)
	if err := WriteCSV("x.csv", []string{"a", "b"}, [][]string{{"1", "two, three"}}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "x.csv"))
	if string(got) != "a,b\n1,\"two, three\"\n" {
		t.Errorf("csv %q", got)
	}
}
