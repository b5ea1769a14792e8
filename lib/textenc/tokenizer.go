package textenc

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:generate go run vocab_gen.go

// vocabTxt is BERT's uncased WordPiece vocabulary (30,522 tokens, line n = id n), taken
// from the tokenizer.json of all-MiniLM-L6-v2 that the Go module
// github.com/clems4ever/all-minilm-l6-v2-go@v0.0.9 ships (file all_minilm_l6_v2/tokenizer.json,
// sha256 da0e7993…2c62a0, Apache-2.0; the vocabulary itself is Google's BERT one, Apache-2.0).
// vocab_gen.go regenerates it; its sha256 is 07eced37…2038a3, the same as
// bert-base-uncased's vocab.txt.
//
//go:embed vocab.txt
var vocabTxt string

// Special token ids of the BERT uncased vocabulary.
const (
	PadID  = 0
	UnkID  = 100
	ClsID  = 101
	SepID  = 102
	MaskID = 103
)

// MaxTokens is the sequence length all-MiniLM-L6-v2 was trained with
// (sentence-transformers' max_seq_length): longer texts are cut to this many tokens,
// [CLS] and [SEP] included.
const MaxTokens = 256

// maxWordChars is WordPiece's max_input_chars_per_word: a longer word becomes one [UNK].
const maxWordChars = 100

// Tokenizer is BERT's uncased WordPiece tokenizer as Hugging Face's tokenizers library runs
// it for all-MiniLM-L6-v2 (tokenizer.json: BertNormalizer{clean_text, handle_chinese_chars,
// lowercase, strip_accents: null → follows lowercase}, BertPreTokenizer, WordPiece with
// "##" continuation and [UNK], TemplateProcessing [CLS] A [SEP]). The steps, in the
// library's order:
//
//  1. clean text: drop U+0000, U+FFFD and control characters (categories Cc, Cf, Co,
//     except tab, newline and carriage return); every white-space character becomes ' ';
//  2. put spaces around CJK ideographs (the blocks BERT lists), so each is a word;
//  3. strip accents: NFD, then drop non-spacing marks (category Mn);
//  4. lower-case, character by character;
//  5. split on white space, then split off every punctuation character (ASCII
//     !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ and Unicode categories Pc Pd Pe Pf Pi Po Ps) as a
//     word of its own;
//  6. WordPiece: a word longer than 100 characters is [UNK]; otherwise take the longest
//     vocabulary entry that starts the word, then the longest "##"-prefixed entry that
//     continues it, and so on; if some rest matches nothing, the whole word is [UNK];
//  7. [CLS] words [SEP], cut to MaxTokens (the word pieces are cut, [SEP] stays last).
//
// Known, deliberate gap: Go's Unicode tables (version 15) are newer than those of the Rust
// crates tokenizers uses, so characters assigned in recent Unicode versions may be
// categorised differently; for the text this project sees (English captions) it never
// matters. A Tokenizer is safe for concurrent use.
type Tokenizer struct {
	vocab  map[string]int32
	tokens []string
	// MaxLen is the longest sequence Encode returns, [CLS] and [SEP] included (MaxTokens
	// unless changed; at least 2).
	MaxLen int
}

var (
	vocabOnce   sync.Once
	vocabMap    map[string]int32
	vocabTokens []string
	vocabErr    error
)

func loadVocab() {
	lines := strings.Split(strings.TrimSuffix(vocabTxt, "\n"), "\n")
	vocabTokens = lines
	vocabMap = make(map[string]int32, len(lines))
	for i, tok := range lines {
		if _, dup := vocabMap[tok]; dup {
			vocabErr = fmt.Errorf("textenc vocab.txt:%d: token %q appears twice", i+1, tok)
			return
		}
		vocabMap[tok] = int32(i)
	}
	if len(lines) != 30522 || lines[UnkID] != "[UNK]" || lines[ClsID] != "[CLS]" || lines[SepID] != "[SEP]" || lines[PadID] != "[PAD]" {
		vocabErr = fmt.Errorf("textenc vocab.txt: %d tokens or special tokens out of place: not BERT's uncased vocabulary", len(lines))
	}
}

// NewTokenizer returns the all-MiniLM-L6-v2 tokenizer with the embedded vocabulary
// (parsed once per process) and MaxLen = MaxTokens.
func NewTokenizer() (*Tokenizer, error) {
	vocabOnce.Do(loadVocab)
	if vocabErr != nil {
		return nil, vocabErr
	}
	return &Tokenizer{vocab: vocabMap, tokens: vocabTokens, MaxLen: MaxTokens}, nil
}

// VocabSize is the number of tokens in the vocabulary (30,522).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the vocabulary entry of id ("" if id is out of range).
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// ID returns the id of a vocabulary entry.
func (t *Tokenizer) ID(token string) (int, bool) {
	id, ok := t.vocab[token]
	return int(id), ok
}

// isBertWhitespace is tokenizers' is_whitespace: tab, newline, carriage return and
// Unicode White_Space (Go's unicode.IsSpace is the same set).
func isBertWhitespace(r rune) bool { return unicode.IsSpace(r) }

// isBertControl is tokenizers' is_control: categories Cc, Cf and Co, except tab, newline
// and carriage return.
func isBertControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co)
}

// isBertPunct is tokenizers' is_bert_punc: ASCII punctuation or Unicode P*.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return (r >= 0x21 && r <= 0x2f) || (r >= 0x3a && r <= 0x40) || (r >= 0x5b && r <= 0x60) || (r >= 0x7b && r <= 0x7e)
	}
	return unicode.IsPunct(r)
}

// isCJK is BERT's "Chinese character": the CJK Unified Ideographs blocks and extensions
// A–F and the compatibility ideographs (not Hangul, Hiragana or Katakana).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// Normalize applies BertNormalizer (steps 1–4 of Tokenizer): cleaned, CJK spaced,
// accents stripped, lower-cased. Invalid UTF-8 bytes count as U+FFFD and are dropped.
func (t *Tokenizer) Normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	ascii := true
	for _, r := range s {
		if r == 0 || r == utf8.RuneError || isBertControl(r) {
			continue
		}
		if isBertWhitespace(r) {
			b.WriteByte(' ')
			continue
		}
		if r >= utf8.RuneSelf {
			ascii = false
		}
		if isCJK(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	cleaned := b.String()
	if ascii {
		return strings.ToLower(cleaned)
	}
	decomposed := norm.NFD.String(cleaned)
	b.Reset()
	b.Grow(len(decomposed))
	for _, r := range decomposed {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Words is BertPreTokenizer over Normalize's output (step 5 of Tokenizer): white space
// separates words and each punctuation character is a word of its own.
func (t *Tokenizer) Words(s string) []string {
	s = t.Normalize(s)
	var words []string
	start := -1 // start of the current word, -1 when between words
	for i, r := range s {
		switch {
		case isBertWhitespace(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				words = append(words, s[start:i])
				start = -1
			}
			words = append(words, s[i:i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, s[start:])
	}
	return words
}

// appendWordPiece appends the ids of one word (step 6 of Tokenizer).
func (t *Tokenizer) appendWordPiece(ids []int32, word string) []int32 {
	if utf8.RuneCountInString(word) > maxWordChars {
		return append(ids, UnkID)
	}
	n := len(ids)
	var key []byte
	for start := 0; start < len(word); {
		end := len(word)
		found := int32(-1)
		for start < end {
			var id int32
			var ok bool
			if start == 0 {
				id, ok = t.vocab[word[:end]]
			} else {
				key = append(append(key[:0], "##"...), word[start:end]...)
				id, ok = t.vocab[string(key)] // no allocation: the compiler recognises map[string(bytes)]
			}
			if ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(ids[:n], UnkID)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

// Pieces returns the word-piece ids of s, without [CLS]/[SEP] and without truncation.
func (t *Tokenizer) Pieces(s string) []int32 {
	var ids []int32
	for _, w := range t.Words(s) {
		ids = t.appendWordPiece(ids, w)
	}
	return ids
}

// Tokenize returns the word pieces of s as strings ("un", "##aff", "##able"), without
// [CLS]/[SEP] and without truncation.
func (t *Tokenizer) Tokenize(s string) []string {
	ids := t.Pieces(s)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.tokens[id]
	}
	return out
}

// Encode returns the model input ids of s: [CLS], the word pieces cut to MaxLen-2, [SEP].
// An empty or all-white-space text gives [CLS] [SEP].
func (t *Tokenizer) Encode(s string) []int64 {
	pieces := t.Pieces(s)
	if limit := max(t.MaxLen, 2) - 2; len(pieces) > limit {
		pieces = pieces[:limit]
	}
	ids := make([]int64, 0, len(pieces)+2)
	ids = append(ids, ClsID)
	for _, p := range pieces {
		ids = append(ids, int64(p))
	}
	return append(ids, SepID)
}

// Batch is a padded batch of encoded texts, the three inputs of a BERT model. All rows
// have length Len (the longest encoded text of the batch): IDs are padded with PadID, Mask
// is 1 on real tokens and 0 on padding, TypeIDs are all 0 (single sentences).
type Batch struct {
	IDs, Mask, TypeIDs [][]int64
	Len                int
}

// EncodeBatch encodes texts and pads them to the longest one (Hugging Face's
// padding=True, truncation=True with max_length MaxLen).
func (t *Tokenizer) EncodeBatch(texts []string) Batch {
	b := Batch{IDs: make([][]int64, len(texts)), Mask: make([][]int64, len(texts)), TypeIDs: make([][]int64, len(texts))}
	for i, s := range texts {
		b.IDs[i] = t.Encode(s)
		b.Len = max(b.Len, len(b.IDs[i]))
	}
	for i, ids := range b.IDs {
		n := len(ids)
		row := make([]int64, b.Len)
		copy(row, ids)
		b.IDs[i] = row
		mask := make([]int64, b.Len)
		for j := range n {
			mask[j] = 1
		}
		b.Mask[i] = mask
		b.TypeIDs[i] = make([]int64, b.Len)
	}
	return b
}
