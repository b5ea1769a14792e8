package assets

import (
	"io"
	"os"
	"path/filepath"

	"github.com/withsense/withsense/lib/atomicfile"
	"github.com/withsense/withsense/lib/project"
)

// Human is @vladmandic/human, whose models/centernet.json + .bin is CenterNet on
// MobileNetV3 (COCO's 80 classes; TF.js graph model, float16 weights). The package is MIT;
// the upstream weights (github.com/610265158/mobilenetv3_centernet) come without a licence
// file.
var Human = NPM{"@vladmandic/human", "3.3.6", "425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7"}

// CenterNetJSON returns models/human/centernet.json, unpacked with centernet.bin beside it
// from the verified human tarball (only these two of its models).
func CenterNetJSON() (string, error) {
	tgz, err := Human.Fetch()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(project.ModelsDir(), "human")
	for _, name := range []string{"centernet.json", "centernet.bin"} {
		out := filepath.Join(dir, name)
		if _, err := os.Stat(out); err == nil {
			continue
		}
		r, err := Open(tgz, "package/models/"+name)
		if err != nil {
			return "", err
		}
		err = atomicfile.Write(out, func(w io.Writer) error {
			_, err := io.Copy(w, r)
			return err
		})
		r.Close()
		if err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "centernet.json"), nil
}
