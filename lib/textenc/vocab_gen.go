//go:build ignore

// vocab_gen writes vocab.txt (one WordPiece token per line, line n = token id n) from the
// tokenizer.json of all-MiniLM-L6-v2 that github.com/clems4ever/all-minilm-l6-v2-go@v0.0.9
// ships (Apache-2.0; the vocabulary is Google BERT's uncased one, Apache-2.0). Run it with
// `go generate ./lib/textenc/`; it fetches the module through the Go module proxy and
// refuses a tokenizer.json whose sha256 differs from the pinned one.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/withsense/withsense/lib/atomicfile"
)

const (
	module     = "github.com/clems4ever/all-minilm-l6-v2-go@v0.0.9"
	member     = "all_minilm_l6_v2/tokenizer.json"
	wantSHA256 = "da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vocab_gen:", err)
		os.Exit(1)
	}
}

func run() error {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		return fmt.Errorf("go mod download %s: %w", module, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Error != "" {
		return fmt.Errorf("go mod download %s: %v %s", module, err, mod.Error)
	}
	path := filepath.Join(mod.Dir, member)
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != wantSHA256 {
		return fmt.Errorf("%s: sha256 %s, want %s", path, got, wantSHA256)
	}
	var tj struct {
		Model struct {
			Type  string           `json:"type"`
			Vocab map[string]int64 `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(raw, &tj); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if tj.Model.Type != "WordPiece" {
		return fmt.Errorf("%s: model type %q, want WordPiece", path, tj.Model.Type)
	}
	tokens := make([]string, len(tj.Model.Vocab))
	for tok, id := range tj.Model.Vocab {
		if id < 0 || id >= int64(len(tokens)) || tokens[id] != "" {
			return fmt.Errorf("%s: token %q has id %d: ids are not 0..%d each once", path, tok, id, len(tokens)-1)
		}
		if tok == "" || strings.ContainsAny(tok, "\r\n") {
			return fmt.Errorf("%s: token %q (id %d) cannot be written one per line", path, tok, id)
		}
		tokens[id] = tok
	}
	var buf bytes.Buffer
	for _, tok := range tokens {
		buf.WriteString(tok)
		buf.WriteByte('\n')
	}
	return atomicfile.WriteFile("vocab.txt", buf.Bytes())
}
