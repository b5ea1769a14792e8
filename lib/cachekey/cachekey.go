// Package cachekey names every cached result of the project by its content, in this one
// place. A key is the sha256 of:
//
//  1. the step's name and its settings (JSON, as the step records them in metrics.json);
//  2. the code that computes it: every file (Go sources and embedded data such as
//     lib/dataset/SHA256SUMS, not tests or testdata) of the named lib packages and of every
//     lib package they import, transitively, plus the go.sum lines of the modules those
//     packages import and of the other modules of the same owners (github.com/gomlx/...
//     for GoMLX): the versions of the dependencies the step runs, not of every module of
//     the project, so that adding a library to the web server leaves the photos'
//     embeddings valid (a module's own dependencies are taken to move with its version or
//     its owner's other modules); a module that go.mod replaces with a folder of the
//     project (lib/third_party/gomlx) counts by that folder's files instead of a go.sum line;
//  3. the data it reads: callers pass content hashes of their inputs (Inputs, e.g. the
//     embedding tables' vectors, which carry the photos, the encoders and their weights).
//
// So a change to the code, the settings or the data recomputes exactly the steps it reaches,
// and nothing else; no version string is ever bumped by hand.
package cachekey

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/withsense/withsense/lib/project"
)

// Key returns the cache key of a step: its name, its settings (anything encoding/json
// writes), the sources of pkgs (lib packages such as "lib/regress") with their lib imports,
// and the content hashes of its inputs.
func Key(step string, settings any, pkgs []string, inputs ...string) (string, error) {
	src, err := Sources(pkgs...)
	if err != nil {
		return "", err
	}
	set, err := json.Marshal(settings)
	if err != nil {
		return "", fmt.Errorf("cache key of %s: settings: %w", step, err)
	}
	h := sha256.New()
	for _, part := range append([]string{step, string(set), src}, inputs...) {
		writeString(h, part)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

var (
	srcMu    sync.Mutex
	srcCache = map[string]string{} // package dir (or "tree:" + a replacing folder) → hash of its files
)

// Sources returns the hash of the files of the named lib packages and of every lib package
// they import (transitively), and of the go.sum lines of their dependencies (moduleSums).
// Each package is read once per process.
func Sources(pkgs ...string) (string, error) {
	root, err := project.Root()
	if err != nil {
		return "", err
	}
	seen := map[string]bool{}
	external := map[string]bool{}
	queue := slices.Clone(pkgs)
	for len(queue) > 0 {
		p := filepath.ToSlash(filepath.Clean(queue[0]))
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		imports, ext, err := imports(root, p)
		if err != nil {
			return "", err
		}
		queue = append(queue, imports...)
		for _, e := range ext {
			external[e] = true
		}
	}
	all := make([]string, 0, len(seen))
	for p := range seen {
		all = append(all, p)
	}
	slices.Sort(all)
	h := sha256.New()
	for _, p := range all {
		ph, err := packageHash(root, p)
		if err != nil {
			return "", err
		}
		writeString(h, p)
		writeString(h, ph)
	}
	sums, err := moduleSums(root, external)
	if err != nil {
		return "", err
	}
	writeString(h, sums)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// moduleSums returns the lines of go.sum (in file order) of the modules that provide the
// imported packages (the longest module path that is the import path or a folder above
// it) and of the other modules of the same owners (the first two elements of the path:
// github.com/gomlx). The standard library has no go.sum line; its version is the Go
// toolchain's, which the Makefile pins.
func moduleSums(root string, imported map[string]bool) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", fmt.Errorf("cache key: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	modules := map[string]bool{}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 {
			modules[f[0]] = true
		}
	}
	owners := map[string]bool{}
	for p := range imported {
		best := ""
		for m := range modules {
			if (p == m || strings.HasPrefix(p, m+"/")) && len(m) > len(best) {
				best = m
			}
		}
		if best != "" {
			owners[owner(best)] = true
		}
	}
	var kept strings.Builder
	for _, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && owners[owner(f[0])] {
			kept.WriteString(l)
			kept.WriteByte('\n')
		}
	}
	replaced, err := localReplacements(root)
	if err != nil {
		return "", err
	}
	for _, r := range replaced {
		if !owners[owner(r.module)] {
			continue
		}
		h, err := treeHash(filepath.Join(root, filepath.FromSlash(r.dir)))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&kept, "%s => %s %s\n", r.module, r.dir, h)
	}
	return kept.String(), nil
}

// replacement is a `replace MODULE => ./folder` line of go.mod.
type replacement struct{ module, dir string }

// localReplacements returns go.mod's replacements of a module by a folder of the project.
func localReplacements(root string) ([]replacement, error) {
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("cache key: %w", err)
	}
	var out []replacement
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "replace"))
		from, to, ok := strings.Cut(l, "=>")
		if !ok {
			continue
		}
		mod, dir := strings.Fields(from), strings.TrimSpace(to)
		if len(mod) > 0 && (strings.HasPrefix(dir, "./") || strings.HasPrefix(dir, "../")) {
			out = append(out, replacement{module: mod[0], dir: dir})
		}
	}
	return out, nil
}

// treeHash is the sha256 of every file under dir (relative names and contents, in walk
// order), read once per process like a package.
func treeHash(dir string) (string, error) {
	srcMu.Lock()
	defer srcMu.Unlock()
	if h, ok := srcCache["tree:"+dir]; ok {
		return h, nil
	}
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		writeString(h, filepath.ToSlash(rel))
		writeString(h, string(b))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("cache key: replaced module %s: %w", dir, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	srcCache["tree:"+dir] = sum
	return sum, nil
}

// owner is the first two elements of a module path (github.com/gomlx), or the whole path.
func owner(module string) string {
	if parts := strings.SplitN(module, "/", 3); len(parts) == 3 {
		return parts[0] + "/" + parts[1]
	}
	return module
}

// packageFiles lists the files of a package that count for its key: everything in its
// folder but tests and folders (testdata, helper scripts' folders).
func packageFiles(root, pkg string) ([]string, error) {
	dir := filepath.Join(root, filepath.FromSlash(pkg))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache key: package %s: %w (is %s the project's checkout?)", pkg, err, root)
	}
	var files []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), "_test.go") && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, e.Name())
		}
	}
	return files, nil
}

func packageHash(root, pkg string) (string, error) {
	srcMu.Lock()
	defer srcMu.Unlock()
	if h, ok := srcCache[pkg]; ok {
		return h, nil
	}
	files, err := packageFiles(root, pkg)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range files {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(pkg), name))
		if err != nil {
			return "", fmt.Errorf("cache key: %w", err)
		}
		writeString(h, name)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("cache key: %s: %w", name, err)
		}
	}
	s := hex.EncodeToString(h.Sum(nil))
	srcCache[pkg] = s
	return s, nil
}

// imports returns the project's lib packages that pkg's Go files import, and the packages
// they import from outside the project (the standard library's among them).
func imports(root, pkg string) (lib, external []string, err error) {
	files, err := packageFiles(root, pkg)
	if err != nil {
		return nil, nil, err
	}
	prefix := project.Module + "/"
	fset := token.NewFileSet()
	for _, name := range files {
		if !strings.HasSuffix(name, ".go") {
			continue
		}
		path := filepath.Join(root, filepath.FromSlash(pkg), name)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return nil, nil, fmt.Errorf("cache key: %w", err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if rest, ok := strings.CutPrefix(p, prefix); ok {
				if strings.HasPrefix(rest, "lib/") {
					lib = append(lib, rest)
				}
			} else {
				external = append(external, p)
			}
		}
	}
	return lib, external, nil
}

// Vectors returns the content hash of named vectors (an embedding table): names in sorted
// order, each with its float32 values' bits.
func Vectors(vecs map[string][]float32) string {
	keys := make([]string, 0, len(vecs))
	for k := range vecs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var buf [4]byte
	for _, k := range keys {
		writeString(h, k)
		for _, v := range vecs[k] {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			h.Write(buf[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Value returns the content hash of a value as Go prints it with %#v (structs, slices and
// maps — printed in key order — of plain values, NaN included; no pointers).
func Value(v any) string {
	h := sha256.New()
	fmt.Fprintf(h, "%#v", v)
	return hex.EncodeToString(h.Sum(nil))
}

// writeString writes s with its length first, so that parts never run into each other.
func writeString(h hash.Hash, s string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
	h.Write(n[:])
	io.WriteString(h, s)
}

// Files returns the content hash of files given relative to the project root (a step's own
// source files, where its package holds other steps too).
func Files(paths ...string) (string, error) {
	root, err := project.Root()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, p := range paths {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return "", fmt.Errorf("cache key: %w", err)
		}
		writeString(h, p)
		writeString(h, string(b))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
