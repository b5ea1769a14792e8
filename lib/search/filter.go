package search

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
	"github.com/kljensen/snowball/russian"

	"github.com/withsense/withsense/lib/textenc"
)

// Notice is what a blocked query shows instead of photos (the original study's wording).
const Notice = "This image is unavailable in your country in compliance with local laws"

// The content filter blocks a query about children. A query is cut into words by
// textenc.Clean and textenc.Words (lower-case, accents dropped, "boy's" → "boy"; a
// hyphenated word also counts as its parts, "five-year-old" → "five year old"); each word
// is reduced to its Snowball stem (English, or Russian for a Cyrillic word, through
// github.com/kljensen/snowball), so inflected forms match without being listed: "babies"
// and "baby" share the stem "babi", "девочкой" and "девочка" the stem "девочк". Stems are
// compared whole, never as prefixes: "kidney", "boyfriend", "cowgirl", "girlfriend" and
// "childish" keep their own stems and pass. Then phrases that mean children without a
// listed word ("under five years old", "first grader", "little ones") are matched on
// the stems too.

// childForms are the words whose stems make a query about children. Irregular plurals and
// the Russian forms whose stem differs from the dictionary form's (a fleeting vowel:
// ребенок, ребенка) are listed as well; every other inflection follows from the stemmer.
const childForms = `
	child children kid kiddo kiddie boy girl baby toddler infant newborn
	teen teenager teenaged preteen tween schoolboy schoolgirl schoolchild schoolchildren schoolkid
	youngster juvenile tot preschooler preschool kindergarten kindergartner kindergartener
	ребенок ребенка дети детьми детский малыш малышка мальчик мальчишка девочка девчонка
	подросток подростка младенец младенца школьник школьница дошкольник дошкольница
	первоклассник первоклассница первоклашка детвора`

// notChildWords are words that the stemmer brings to a child stem but do not mean a child.
var notChildWords = map[string]bool{"kidding": true, "kidded": true}

// notAboutChildren are pairs of stems in which a child word means something else; the
// word is then not counted. Kept short and explicit on purpose: when in doubt, a query is
// blocked.
var notAboutChildren = [][2]string{
	{"goat", "kid"}, {"kid", "glove"}, {"kid", "leather"},
	{"babi", "blue"}, {"babi", "carrot"}, {"babi", "spinach"}, {"babi", "grand"},
}

var childStems = map[string]bool{}

func init() {
	for _, w := range cleanWords(childForms) {
		childStems[stem(w)] = true
	}
	for i, p := range notAboutChildren {
		notAboutChildren[i] = [2]string{stem(p[0]), stem(p[1])}
	}
}

// stem returns a word's Snowball stem: Russian for a word with a Cyrillic letter,
// English otherwise.
func stem(w string) string {
	if strings.ContainsFunc(w, func(r rune) bool { return unicode.Is(unicode.Cyrillic, r) }) {
		return russian.Stem(w, true)
	}
	return english.Stem(w, true)
}

// childPhrases are word sequences that mean children without a listed word. Each slot
// is a set of stems, or one of the number classes below; a query matches when some run
// of its words fits every slot in order.
var childPhrases = [][]string{
	{"#age", "year|yr|yrs", "old"},         // "five years old", "a 3-year-old"
	{"#any", "month|week|day", "old"},      // "a six-month-old", "two weeks old"
	{"#ordinal", "grader|grade"},           // "first grader", "in 3rd grade"
	{"under|below", "#age", "year|yr|yrs"}, // "under five years"
	{"little|young", "ones|son|daughter"},  // "little ones", "her young son" (not "a little one")
	{"high|middle|elementary|primary|grade", "schooler|pupil"},
	{"elementary|primary|grade|middle", "school", "student|pupil|class"},
}

var numberWords = strings.Fields("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen")
var ordinalWords = strings.Fields("first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth")

// slotMatches reports whether a word (and its stem) fits one slot of a phrase.
func slotMatches(slot, word, st string) bool {
	switch slot {
	case "#any":
		return true
	case "#age": // a number a minor can be: 0..17, in digits or words
		if n, err := strconv.Atoi(word); err == nil {
			return n >= 0 && n < 18
		}
		for _, w := range numberWords {
			if word == w {
				return true
			}
		}
		return false
	case "#ordinal": // 1st..12th, or first..twelfth
		for i, w := range ordinalWords {
			if word == w || word == strconv.Itoa(i+1)+ordinalSuffix(i+1) {
				return true
			}
		}
		return false
	}
	for _, s := range strings.Split(slot, "|") {
		if s == st || s == word {
			return true
		}
	}
	return false
}

func ordinalSuffix(n int) string {
	switch n {
	case 1:
		return "st"
	case 2:
		return "nd"
	case 3:
		return "rd"
	}
	return "th"
}

// Blocked reports whether a query is about children, and the word or phrase that made
// it so.
func Blocked(query string) (bool, string) {
	var words []string
	for _, w := range cleanWords(query) {
		words = append(words, w)
		if strings.Contains(w, "-") {
			words = append(words, strings.Split(w, "-")...)
		}
	}
	stems := make([]string, len(words))
	for i, w := range words {
		stems[i] = stem(w)
	}
	for i, w := range words {
		if childStems[stems[i]] && !notChildWords[w] && !exempt(stems, i) {
			return true, w
		}
	}
	for _, p := range childPhrases {
		for i := 0; i+len(p) <= len(words); i++ {
			ok := true
			for j, slot := range p {
				if !slotMatches(slot, words[i+j], stems[i+j]) {
					ok = false
					break
				}
			}
			if ok {
				return true, strings.Join(words[i:i+len(p)], " ")
			}
		}
	}
	return false, ""
}

// shortI stands for the Russian letter й through textenc.Clean, whose accent removal
// would make it и and so give the Russian stemmer words it does not know ("девочкой" →
// "девочкои"). It is an old Cyrillic letter (iota, U+A647) that Clean keeps as it is.
const shortI = "\ua647"

var protectShortI, restoreShortI = strings.NewReplacer("й", shortI, "Й", shortI), strings.NewReplacer(shortI, "й")

// cleanWords is textenc.Words(textenc.Clean(q)) with й kept.
func cleanWords(q string) []string {
	words := textenc.Words(textenc.Clean(protectShortI.Replace(q)))
	for i, w := range words {
		words[i] = restoreShortI.Replace(w)
	}
	return words
}

// exempt reports whether stems[i] is part of a pair of notAboutChildren.
func exempt(stems []string, i int) bool {
	for _, p := range notAboutChildren {
		if (stems[i] == p[0] && i+1 < len(stems) && stems[i+1] == p[1]) ||
			(stems[i] == p[1] && i > 0 && stems[i-1] == p[0]) {
			return true
		}
	}
	return false
}
