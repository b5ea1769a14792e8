package tfjs

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"os"
)

// Files reads the files of a model and computes its identity from them: the sha256 of
// each file's sha256, in the order read (model file first, then the shards in manifest
// order), whichever reader (graph or layers model) reads them.
type Files struct{ h hash.Hash }

// NewFiles starts an identity with no files.
func NewFiles() *Files { return &Files{h: sha256.New()} }

// Read returns the file's content and adds its sha256 to the identity.
func (f *Files) Read(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	f.h.Write(sum[:])
	return b, nil
}

// SHA256 is the identity (hex) of the files read so far.
func (f *Files) SHA256() string { return hex.EncodeToString(f.h.Sum(nil)) }
