package search

import (
	"strings"

	"github.com/withsense/withsense/lib/textenc"
)

// Notice is what a blocked query shows instead of photos (the original study's wording).
const Notice = "This image is unavailable in your country in compliance with local laws"

// childWords are the words that make a query about children. Matching is on whole words
// after textenc.Clean (lower-case, accents and punctuation removed, possessive 's dropped,
// so "boy's" and "boys'" match "boy" and "boys"); a hyphenated word is also matched by its
// parts ("baby-sitter" matches "baby"). Every plural is listed explicitly, so nothing is
// matched by prefix: "kidney", "boyfriend", "cowgirl", "girlfriend" and "childish" pass.
// A few common Russian forms are included for the original study's users; Russian
// inflection is far richer than this list, which is documented as a known gap.
var childWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`
		child children childs kid kids kiddo kiddos kiddie kiddies
		boy boys girl girls baby babies babys toddler toddlers infant infants newborn newborns
		teen teens teenager teenagers teenaged preteen preteens tween tweens
		schoolboy schoolboys schoolgirl schoolgirls schoolchild schoolchildren schoolkid schoolkids
		youngster youngsters juvenile juveniles tot tots preschooler preschoolers
		kindergartner kindergartners kindergartener kindergarteners
		ребенок ребенка дети детей детьми ребята малыш малыши мальчик мальчики мальчика девочка девочки девочку`) {
		childWords[w] = true
	}
}

// notAboutChildren are phrases in which a child word means something else; the word is
// then not counted. Kept short and explicit on purpose: when in doubt, a query is blocked.
var notAboutChildren = [][2]string{
	{"goat", "kid"}, {"goat", "kids"}, {"goats", "kids"}, {"kid", "gloves"}, {"kid", "leather"},
	{"baby", "blue"}, {"baby", "carrots"}, {"baby", "spinach"}, {"baby", "grand"},
}

// Blocked reports whether a query is about children, and the word that made it so.
func Blocked(query string) (bool, string) {
	words := textenc.Words(textenc.Clean(query))
	var expanded []string
	for _, w := range words {
		expanded = append(expanded, w)
		if strings.Contains(w, "-") {
			expanded = append(expanded, strings.Split(w, "-")...)
		}
	}
	for i, w := range expanded {
		if !childWords[w] || exempt(expanded, i) {
			continue
		}
		return true, w
	}
	return false, ""
}

// exempt reports whether words[i] is part of a phrase of notAboutChildren.
func exempt(words []string, i int) bool {
	for _, p := range notAboutChildren {
		if (words[i] == p[0] && i+1 < len(words) && words[i+1] == p[1]) ||
			(words[i] == p[1] && i > 0 && words[i-1] == p[0]) {
			return true
		}
	}
	return false
}
