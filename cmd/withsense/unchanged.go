package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/cachekey"
	"github.com/withsense/withsense/lib/project"
	"github.com/withsense/withsense/lib/search"
	"github.com/withsense/withsense/lib/settings"
)

// A report is recomputed only when something it shows can have changed: reportKey hashes
// the notebook, the code of every lib package and of this command (lib/cachekey), and the
// run's settings and backend. The data need no part of it: `make report` verifies them
// against lib/dataset's embedded sha256 list (part of that code) before it runs. The key of
// the last good run is kept under data/cache/report/ with the sha256 of the report it wrote,
// so a fresh clone, an edited report or deleted caches all run the notebook again.
func reportKey(nb string) (string, error) {
	root, err := project.Root()
	if err != nil {
		return "", err
	}
	entries, err := os.ReadDir(filepath.Join(root, "lib"))
	if err != nil {
		return "", err
	}
	var pkgs []string
	for _, e := range entries {
		if e.IsDir() {
			pkgs = append(pkgs, "lib/"+e.Name())
		}
	}
	var own []string
	cmdFiles, _ := filepath.Glob(filepath.Join(root, "cmd", "withsense", "*.go"))
	for _, f := range cmdFiles {
		if !strings.HasSuffix(f, "_test.go") {
			rel, _ := filepath.Rel(root, f)
			own = append(own, rel)
		}
	}
	slices.Sort(own)
	code, err := cachekey.Files(own...)
	if err != nil {
		return "", err
	}
	book, err := os.ReadFile(nb)
	if err != nil {
		return "", err
	}
	run := map[string]string{}
	for _, env := range []string{settings.Env, "GOMLX_BACKEND", "GOTAGS", project.TrainedEnv} {
		run[env] = os.Getenv(env)
	}
	return cachekey.Key("report", run, pkgs, code, cachekey.Value(book))
}

func reportKeyPath(name string) string {
	return filepath.Join(project.CacheDir(), "report", name+".key")
}

func fileSHA(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// unchanged reports whether the notebook's last report in out was made with the same key
// and is still there as written, with the search's models beside it.
func unchanged(nb, name, out string) bool {
	key, err := reportKey(nb)
	if err != nil {
		return false
	}
	b, err := os.ReadFile(reportKeyPath(name))
	if err != nil {
		return false
	}
	if _, err := os.Stat(search.ConfigPath()); err != nil {
		return false
	}
	want := key + " " + fileSHA(filepath.Join(out, name+".html"))
	return strings.TrimSpace(string(b)) == want
}

// recordReport keeps the key of a report just written.
func recordReport(nb, name, out string) error {
	key, err := reportKey(nb)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(reportKeyPath(name), []byte(fmt.Sprintf("%s %s\n", key, fileSHA(filepath.Join(out, name+".html")))))
}
