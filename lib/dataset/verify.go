package dataset

import (
	"archive/zip"
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/withsense/withsense/lib/assets"
	"github.com/withsense/withsense/lib/atomicfile"
)

// ArchiveURL is where the course archive was originally served (see PROVENANCE.md beside
// the data); Download fetches it when no local copy exists.
const ArchiveURL = "https://code.s3.yandex.net/datasets/dsplus_integrated_project_4.zip"

// sums is the sha256 of every file of the course archive ("<sha256>  ./<path>" lines), a
// copy of the SHA256SUMS made when the archive was first checked (see PROVENANCE.md). It
// is embedded so a downloaded archive, which has no such file, is checked the same way.
//
//go:embed SHA256SUMS
var sums string

// Verify checks every file of the archive in dir against the embedded sha256 list and
// returns the first mismatch or missing file. step, if not nil, is called per file.
func Verify(dir string, step func()) error {
	sc := bufio.NewScanner(strings.NewReader(sums))
	const sums = "lib/dataset/" + SumsFile
	line := 0
	for sc.Scan() {
		line++
		want, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(want) != 64 {
			return fmt.Errorf("%s:%d: not a \"<sha256>  <file>\" line", sums, line)
		}
		name = strings.TrimPrefix(name, "./")
		if strings.Contains(name, "..") {
			return fmt.Errorf("%s:%d: path %q leaves the folder", sums, line, name)
		}
		got, err := assets.FileSHA256(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: sha256 %s, want %s (%s:%d)", filepath.Join(dir, name), got, want, SumsFile, line)
		}
		if step != nil {
			step()
		}
	}
	if line == 0 {
		return fmt.Errorf("%s: empty", sums)
	}
	return sc.Err()
}

// NumFiles is the number of files of the archive that Verify checks.
func NumFiles() int { return strings.Count(sums, "\n") }

// Download fetches the course archive from ArchiveURL and unpacks its files into dest
// (which must not exist yet). The zip's top folder (to_upload/) is dropped. It fails with a
// clear message where the URL cannot be reached.
func Download(dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s already exists: not overwriting it", dest)
	}
	zipPath := dest + ".zip"
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Get(ArchiveURL)
	if err != nil {
		return fmt.Errorf("downloading the course archive: %w (no local copy was found either; set $%s)", err, DataEnv)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading %s: %s", ArchiveURL, resp.Status)
	}
	if err := atomicfile.Write(zipPath, func(w io.Writer) error {
		_, err := io.Copy(w, resp.Body)
		return err
	}); err != nil {
		return err
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("%s: %w", zipPath, err)
	}
	defer zr.Close()
	tmp := dest + ".partial"
	os.RemoveAll(tmp)
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || strings.Contains(zf.Name, "..") || strings.Contains(zf.Name, "__MACOSX") {
			continue
		}
		_, rel, ok := strings.Cut(zf.Name, "/")
		if !ok {
			rel = zf.Name
		}
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", zipPath, zf.Name, err)
		}
		err = atomicfile.Write(filepath.Join(tmp, rel), func(w io.Writer) error {
			_, err := io.Copy(w, rc)
			return err
		})
		rc.Close()
		if err != nil {
			return err
		}
	}
	return os.Rename(tmp, dest)
}
