package textenc

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// SentencePiece is the unigram tokenizer of TF.js' Universal Sentence Encoder
// (@tensorflow-models/universal-sentence-encoder 1.3.3, dist/tokenizer), a port of
// SentencePiece's EncodeAsIds: NFKC, "▁" before the text and for every space, then the
// Viterbi segmentation that maximises the sum of the pieces' log-probabilities. It
// reproduces that code's ids exactly, including its quirks: it works on UTF-16 code units
// (as the ES5-compiled JavaScript iterates strings), a position no piece covers becomes
// the unknown id 0 (consecutive unknowns merge into one), and a lattice score of exactly 0
// counts as "not reached yet". SentencePiece libraries for Go read the protobuf .model
// file and implement the reference algorithm; this vocabulary is a JSON list and the
// reference is TF.js', hence this port.
type SentencePiece struct {
	pieces []string  // by id
	scores []float64 // by id
	units  []int     // length of each piece in UTF-16 code units
	root   *spNode
}

// spNode is a trie node over UTF-16 code units.
type spNode struct {
	children map[uint16]*spNode
	end      bool
	score    float64
	id       int32
	length   int
}

// spReserved is the number of leading vocabulary entries (unknown, control and
// user-defined symbols) that never match text.
const spReserved = 6

// spSeparator is the lower one eighth block, SentencePiece's word-boundary mark.
const spSeparator = "\u2581"

// LoadSentencePiece reads a vocabulary written as TF.js' USE ships it: a JSON list of
// [piece, score] pairs, id = position; entry 0 is the unknown piece. A null score counts
// as 0, as in the reference's arithmetic.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries [][2]any
	if err := json.Unmarshal(src, &entries); err != nil {
		return nil, fmt.Errorf("%s: want a JSON list of [piece, score] pairs: %w", path, err)
	}
	if len(entries) <= spReserved {
		return nil, fmt.Errorf("%s: %d entries, want more than the %d reserved ones", path, len(entries), spReserved)
	}
	sp := &SentencePiece{root: &spNode{children: map[uint16]*spNode{}}}
	for i, e := range entries {
		piece, ok1 := e[0].(string)
		score, ok2 := e[1].(float64)
		if e[1] == nil { // user-defined symbols (":", "://", ...): null, which adds as 0 in JavaScript
			ok2 = true
		}
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: entry %d is %v, want [string, number]", path, i, e)
		}
		u := utf16.Encode([]rune(piece))
		sp.pieces, sp.scores, sp.units = append(sp.pieces, piece), append(sp.scores, score), append(sp.units, len(u))
		if i == 0 && len(u) == 0 {
			return nil, fmt.Errorf("%s: entry 0 (the unknown piece) is empty", path)
		}
		if i < spReserved {
			continue
		}
		if len(u) == 0 {
			return nil, fmt.Errorf("%s: entry %d is an empty piece", path, i)
		}
		node := sp.root
		for _, c := range u {
			next := node.children[c]
			if next == nil {
				next = &spNode{children: map[uint16]*spNode{}}
				node.children[c] = next
			}
			node = next
		}
		// As the reference trie: a piece listed twice keeps its last score and id.
		node.end, node.score, node.id, node.length = true, score, int32(i), len(u)
	}
	return sp, nil
}

// VocabSize is the number of pieces (ids are 0..VocabSize()-1).
func (sp *SentencePiece) VocabSize() int { return len(sp.pieces) }

// Piece returns the text of a piece id.
func (sp *SentencePiece) Piece(id int32) string { return sp.pieces[id] }

// spMatch is a lattice edge: a piece of length units covering [start, start+length).
type spMatch struct {
	id     int32
	score  float64
	length int
}

// Encode returns the piece ids of text (none for the empty text).
func (sp *SentencePiece) Encode(text string) []int32 {
	s := norm.NFKC.String(text)
	if s == "" {
		return nil
	}
	symbols := utf16.Encode([]rune(spSeparator + strings.ReplaceAll(s, " ", spSeparator)))
	n := len(symbols)
	// ending[e] lists the matches that end at e, by increasing start (the order in which
	// the reference iterates its per-end map of integer keys).
	ending := make([][]spMatch, n+1)
	for i := range n {
		var found []spMatch
		node := sp.root.children[symbols[i]]
		for j := i; j < n && node != nil; j++ {
			if node.end {
				found = append(found, spMatch{node.id, node.score, node.length})
			}
			if j+1 < n {
				node = node.children[symbols[j+1]]
			} else {
				node = nil
			}
		}
		if len(found) == 0 {
			found = []spMatch{{0, 0, 1}} // unknown, one code unit
		}
		for _, m := range found {
			ending[i+m.length] = append(ending[i+m.length], m)
		}
	}
	best := make([]float64, n+1)
	words := make([]int32, n+1)
	for end := 0; end <= n; end++ {
		for _, m := range ending[end] {
			score := m.score + best[end-m.length]
			if best[end] == 0 || score >= best[end] {
				best[end], words[end] = score, m.id
			}
		}
	}
	var rev []int32
	prevUnknown := false
	for at := n; at > 0; at -= sp.units[words[at]] {
		id := words[at]
		if !(prevUnknown && id == 0) {
			rev = append(rev, id)
		}
		prevUnknown = id == 0
	}
	ids := make([]int32, len(rev))
	for i, id := range rev {
		ids[len(rev)-1-i] = id
	}
	return ids
}
