package cachekey

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/withsense/withsense/lib/project"
)

var root string

// TestMain lays out a tiny project (a imports b; c stands alone) as the root.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cachekey-")
	if err != nil {
		panic(err)
	}
	root = dir
	write("go.mod", "module "+project.Module+"\n")
	write("go.sum", "example.com/team/x v1.0.0 h1:x\nexample.com/team/x v1.0.0/go.mod h1:y\nother.org/z v1.0.0 h1:z\n")
	write("lib/a/a.go", "package a\nimport _ \""+project.Module+"/lib/b\"\n")
	write("lib/b/uses.go", "package b\nimport _ \"example.com/team/x/sub\"\nimport _ \"fmt\"\n")
	write("lib/a/a_test.go", "package a\n")
	write("lib/b/b.go", "package b\n")
	write("lib/b/LIST", "one\n")
	write("lib/c/c.go", "package c\n")
	os.Setenv(project.RootEnv, dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func write(name, content string) {
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		panic(err)
	}
}

func key(t *testing.T, settings any, inputs ...string) string {
	t.Helper()
	srcMu.Lock()
	clear(srcCache) // files change between calls in this test
	srcMu.Unlock()
	k, err := Key("step", settings, []string{"lib/a"}, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestKeyFollowsContent: the key moves with the step's code, its imports' code and data
// files, the versions of the modules it imports (and of their owners' other modules), its
// settings and inputs, and ignores tests, unrelated packages and other modules.
func TestKeyFollowsContent(t *testing.T) {
	base := key(t, map[string]int{"epochs": 3}, "in1")
	if again := key(t, map[string]int{"epochs": 3}, "in1"); again != base {
		t.Fatalf("same content, two keys: %s %s", base, again)
	}
	write("lib/c/c.go", "package c\n// changed\n")
	write("lib/a/a_test.go", "package a\n// changed\n")
	write("go.sum", "example.com/team/x v1.0.0 h1:x\nexample.com/team/x v1.0.0/go.mod h1:y\nother.org/z v1.1.0 h1:z2\nnew.org/lru v2.0.0 h1:n\n")
	if k := key(t, map[string]int{"epochs": 3}, "in1"); k != base {
		t.Errorf("a change to an unrelated package, a test, or go.sum lines of modules the step does not import moved the key")
	}
	changes := []struct {
		what string
		do   func() string
	}{
		{"settings", func() string { return key(t, map[string]int{"epochs": 4}, "in1") }},
		{"inputs", func() string { return key(t, map[string]int{"epochs": 3}, "in2") }},
		{"imported package", func() string {
			write("lib/b/b.go", "package b\n// changed\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
		{"embedded data file", func() string {
			write("lib/b/LIST", "two\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
		{"version of an imported module", func() string {
			write("go.sum", "example.com/team/x v1.1.0 h1:x2\nexample.com/team/x v1.1.0/go.mod h1:y2\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
		{"version of a module of the same owner", func() string {
			write("go.sum", "example.com/team/x v1.1.0 h1:x2\nexample.com/team/x v1.1.0/go.mod h1:y2\nexample.com/team/w v0.1.0 h1:w\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
		{"replacement of a module by a folder of the project", func() string {
			write("go.mod", "module "+project.Module+"\nreplace example.com/team/x => ./lib/third_party/x\n")
			write("lib/third_party/x/sub/x.go", "package sub\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
		{"file of the replacing folder", func() string {
			write("lib/third_party/x/sub/x.go", "package sub\n// patched\n")
			return key(t, map[string]int{"epochs": 3}, "in1")
		}},
	}
	seen := map[string]string{base: "base"}
	for _, c := range changes {
		k := c.do()
		if prev, dup := seen[k]; dup {
			t.Errorf("changing the %s left the key of %s", c.what, prev)
		}
		seen[k] = c.what
	}
}

func TestMissingPackage(t *testing.T) {
	if _, err := Sources("lib/nope"); err == nil {
		t.Fatal("a missing package gave a key")
	}
}

func TestVectors(t *testing.T) {
	a := Vectors(map[string][]float32{"x": {1, 2}, "y": {3}})
	if b := Vectors(map[string][]float32{"y": {3}, "x": {1, 2}}); a != b {
		t.Errorf("map order moved the hash")
	}
	if b := Vectors(map[string][]float32{"x": {1, 2}, "y": {3.0000002}}); a == b {
		t.Errorf("a changed value kept the hash")
	}
}

func TestValue(t *testing.T) {
	type row struct {
		A string
		X float64
	}
	nan := 0.0
	nan /= nan
	a := Value([]row{{"a", nan}, {"b", 1}})
	if b := Value([]row{{"a", nan}, {"b", 1}}); a != b {
		t.Error("same value, two hashes")
	}
	if b := Value([]row{{"a", nan}, {"b", 2}}); a == b {
		t.Error("a changed value kept the hash")
	}
}
