package study

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/withsense/withsense/lib/dataset"
	"github.com/withsense/withsense/lib/project"
)

// maxCellLines is the longest code cell a notebook may have, in lines of Go beyond its
// import block (STYLE.md: a longer cell is a function that belongs in lib).
const maxCellLines = 15

// cellLines counts a code cell's non-blank lines outside its import declarations (a block
// `import (...)` or a single `import "path"`); `!` and `%` lines count like Go lines.
func cellLines(src string) int {
	n, inImport := 0, false
	for _, l := range strings.Split(src, "\n") {
		s := strings.TrimSpace(l)
		switch {
		case inImport:
			inImport = s != ")"
		case strings.HasPrefix(s, "import ("):
			inImport = true
		case strings.HasPrefix(s, "import "):
		case s != "":
			n++
		}
	}
	return n
}

func TestCellLines(t *testing.T) {
	src := "import (\n\t\"fmt\"\n\n\t\"strings\"\n)\n\nimport \"os\"\n\n%%\nfmt.Println(1)\n\n!ls\n"
	if n := cellLines(src); n != 3 {
		t.Errorf("cellLines = %d, want 3 (%%%%, the Println and !ls)", n)
	}
}

// TestNotebookCellsShort guards every notebook: no code cell longer than maxCellLines.
func TestNotebookCellsShort(t *testing.T) {
	nbs, err := filepath.Glob(project.Path("notebooks", "*.ipynb"))
	if err != nil || len(nbs) == 0 {
		t.Fatalf("no notebooks under %s: %v", project.Path("notebooks"), err)
	}
	for _, path := range nbs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var nb struct {
			Cells []struct {
				Type   string   `json:"cell_type"`
				Source []string `json:"source"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, c := range nb.Cells {
			if n := cellLines(strings.Join(c.Source, "")); c.Type == "code" && n > maxCellLines {
				t.Errorf("%s: cell %d has %d lines of Go beyond its imports, more than %d: move its logic into lib",
					filepath.Base(path), i, n, maxCellLines)
			}
		}
	}
}

// fixtureData is a DataReport over a few hand-made samples.
func fixtureData() *DataReport {
	mk := func(img, qid string, e [3]int) dataset.Sample {
		return dataset.Sample{Image: img, QueryID: qid, Text: "caption of " + qid, Experts: e, Target: dataset.Target(e)}
	}
	samples := []dataset.Sample{
		mk("a.jpg", "a.jpg#0", [3]int{4, 4, 4}), // own caption, fits
		mk("a.jpg", "b.jpg#1", [3]int{1, 1, 1}),
		mk("b.jpg", "c.jpg#0", [3]int{1, 4, 2}), // disagreement
		mk("b.jpg", "a.jpg#2", [3]int{4, 4, 4}),
		mk("c.jpg", "a.jpg#0", [3]int{1, 1, 2}),
		mk("c.jpg", "b.jpg#0", [3]int{1, 1, 1}),
	}
	return &DataReport{Course: &dataset.Course{}, Samples: samples, Summary: dataset.Summarize(samples), Agreement: dataset.Agree(samples)}
}

func TestExamplePairs(t *testing.T) {
	d := fixtureData()
	for kind, want := range map[string][]string{
		ExamplesFit:      {"a.jpg#0", "a.jpg#2"},
		ExamplesMisfit:   {"b.jpg#1"}, // n = 1: the first only
		ExamplesDisagree: {"c.jpg#0"},
	} {
		got, err := examplePairs(d.Samples, kind, len(want))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range got {
			ids = append(ids, s.QueryID)
		}
		if strings.Join(ids, " ") != strings.Join(want, " ") {
			t.Errorf("%s examples %v, want %v", kind, ids, want)
		}
	}
	if _, err := examplePairs(d.Samples, "best", 4); err == nil || !strings.Contains(err.Error(), `"best"`) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestDataTablesAndConclusion(t *testing.T) {
	d := fixtureData()
	header, rows := AgreementTable(d)
	if len(header) != 4 || len(rows) != 6 || rows[0][0] != "expert 1 vs 2" || rows[5][0] != "expert 3 vs mean of others" {
		t.Errorf("agreement table %v %v", header, rows)
	}
	// Experts 1 and 2 agree exactly on 5 of the 6 pairs.
	if rows[0][1] != "83.3%" {
		t.Errorf("expert 1 vs 2 same score %s, want 83.3%%", rows[0][1])
	}
	_, counts := CountsTable(d)
	if counts[0][1] != "6" || counts[0][2] != "3" {
		t.Errorf("counts table %v: want 6 pairs of 3 photos", counts)
	}
	c := DataConclusion(d)
	// Target 0 on 2 of 6 pairs; 1 own caption; 4 pairs above 0, 1 of them own, 3 other.
	for _, want := range []string{"**33%**", "Only 1 of 6 pairs", "of the 4 pairs with a target above 0, 1 are such pairs and\n3 pair"} {
		if !strings.Contains(c, want) {
			t.Errorf("conclusion lacks %q:\n%s", want, c)
		}
	}
}
