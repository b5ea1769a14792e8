package textenc

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Clean normalises a description for the word-level encoders (GloVe) and for word
// counts. It is the one cleaning function of the project; the BERT tokenizer does its own
// normalisation on the raw text, as all-MiniLM-L6-v2 was trained. Exactly, in order:
//
//  1. Unicode compatibility decomposition (NFKD) and removal of combining marks (Mn):
//     "Café" → "Cafe", "ﬁ" → "fi", full-width letters → ASCII;
//  2. lower-case;
//  3. a possessive "'s" ending a word is dropped, written "dog's" or, as Flickr8k's
//     tokenised captions do, "dog 's" (both → "dog"; it ends the word, so "ant's-eye" →
//     "ant eye"); any other apostrophe (' ’ ‘ ` ʼ ′) is
//     deleted, joining its neighbours ("don't" → "dont", as GloVe spells it);
//  4. a hyphen between two letters or digits stays ("t-shirt", "4-wheeler"); every other
//     punctuation or symbol character (Unicode P* and S*, so also Flickr's trailing " .")
//     becomes a space, as do control characters;
//  5. runs of white space become one space; leading and trailing space go.
//
// Letters of every script and digits are kept (a Cyrillic query stays Cyrillic). The
// result is empty when s has no letter or digit. Clean is idempotent.
func Clean(s string) string {
	s = norm.NFKD.String(s)
	// Steps 1–2, and step 4's mapping of symbols, controls and spaces to ' ', rune by rune.
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case isApostrophe(r):
			rs = append(rs, '\'')
		case r == '-' || r == '‐' || r == '‑':
			rs = append(rs, '-')
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Me, r):
			rs = append(rs, unicode.ToLower(r))
		default: // punctuation, symbols, white space, controls, other numbers
			rs = append(rs, ' ')
		}
	}
	isWord := func(i int) bool {
		return i >= 0 && i < len(rs) && rs[i] != ' ' && rs[i] != '\'' && rs[i] != '-'
	}
	var b strings.Builder
	b.Grow(len(rs))
	space := true   // the last rune written was a space (or nothing was written yet)
	letter := false // the last rune written was a letter or digit
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case '\'':
			// Possessive: 's followed by the end of the word; it ends the word.
			if i+1 < len(rs) && rs[i+1] == 's' && !isWord(i+2) {
				i++
				r = ' '
				break
			}
			continue
		case '-':
			if letter && isWord(i+1) {
				b.WriteByte('-')
				space, letter = false, false
				continue
			}
			r = ' '
		}
		if r == ' ' {
			if !space {
				b.WriteByte(' ')
				space, letter = true, false
			}
			continue
		}
		b.WriteRune(r)
		space, letter = false, true
	}
	return strings.TrimSuffix(b.String(), " ")
}

func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', '‘', '`', 'ʼ', '′':
		return true
	}
	return false
}

// Words splits a cleaned text on white space. Use Words(Clean(s)).
func Words(s string) []string { return strings.Fields(s) }
